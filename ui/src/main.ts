//! Starts the app on the backend of where it runs: Tauri commands over the core in the
//! desktop and mobile apps, the sync server's HTTP API in a browser.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { provideBackend } from './api'
import type { Backend } from './api'
import { i18n } from './i18n'
import { createWebHashHistory, createWebHistory } from 'vue-router'
import { makeRouter } from './router'
import { useSession } from './stores/session'
import { useDevice } from './stores/device'
import './styles/main.css'

async function backend(): Promise<Backend> {
  if ('__TAURI_INTERNALS__' in window) {
    // Loaded only in the apps, so the web dashboard does not download it.
    const { TauriBackend } = await import('./api/tauri')
    const b = new TauriBackend()
    await b.init()
    return b
  }
  const { HttpBackend } = await import('./api/http')
  return new HttpBackend()
}

// The dashboard is the page most visits open: its code loads while the backend starts,
// rather than after the router has resolved the route.
if (['/', ''].includes(location.pathname) && ['', '#/'].includes(location.hash)) {
  void import('./pages/DashboardPage.vue').catch(() => undefined)
}
const api = await backend()
const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
provideBackend(app, api)
useSession(pinia).attach(api)
await useDevice(pinia).attach(api)
// The apps load their pages from the binary, where only the root exists: routes go in the hash.
app.use(makeRouter(pinia, api, api.where === 'device' ? createWebHashHistory() : createWebHistory()))
app.mount('#app')
