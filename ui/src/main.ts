//! Starts the app on the backend of where it runs: Tauri commands over the core in the
//! desktop and mobile apps, the sync server's HTTP API in a browser.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { provideBackend } from './api'
// The web's backend is part of the first load (the page can ask nothing without it); the
// apps' is loaded only in the apps.
import { HttpBackend } from './api/http'
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
  return new HttpBackend()
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
