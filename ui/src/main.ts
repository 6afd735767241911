//! Starts the app on the backend of where it runs: the sync server's HTTP API in a browser.
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { provideBackend } from './api'
import { HttpBackend } from './api/http'
import { i18n } from './i18n'
import { makeRouter } from './router'
import { useSession } from './stores/session'
import './styles/main.css'

const backend = new HttpBackend()
const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
provideBackend(app, backend)
useSession(pinia).attach(backend)
app.use(makeRouter(pinia))
app.mount('#app')
