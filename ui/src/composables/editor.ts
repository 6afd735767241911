//! Opening the shared add/edit transaction dialog from any page.
import { inject, provide, type InjectionKey } from 'vue'
import type { Transaction } from '../api'

export interface Editor {
  /** Opens the dialog to edit `tx`, or to add a new transaction without one. */
  open(tx?: Transaction): void
}

const KEY: InjectionKey<Editor> = Symbol('editor')

export function provideEditor(editor: Editor): void {
  provide(KEY, editor)
}

export function useEditor(): Editor {
  const e = inject(KEY)
  if (!e) throw new Error('no transaction editor provided')
  return e
}
