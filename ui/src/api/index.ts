//! The backend the app runs on, chosen once at start. Only `src/api/` talks to a backend;
//! views get it through `useBackend()`.
import { inject, type App, type InjectionKey } from 'vue'
import type { Backend } from './backend'

export type { Backend } from './backend'
export * from './types'
export { ApiError, isApiError, messageOf } from './errors'

const KEY: InjectionKey<Backend> = Symbol('backend')

export function provideBackend(app: App, backend: Backend): void {
  app.provide(KEY, backend)
}

export function useBackend(): Backend {
  const b = inject(KEY)
  if (!b) throw new Error('no backend provided')
  return b
}
