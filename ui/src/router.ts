//! The app's pages. Pages that need a signed-in user send others to the login page and back.
import { createRouter, createWebHistory, type Router, type RouterHistory } from 'vue-router'
import type { Pinia } from 'pinia'
import type { Backend } from './api'
import { useSession } from './stores/session'
import { useDevice } from './stores/device'
import DashboardPage from './pages/DashboardPage.vue'

export function makeRouter(pinia: Pinia, api: Backend, history: RouterHistory = createWebHistory()): Router {
  const router = createRouter({
    history,
    routes: [
      // The page most visits open comes with the first load; the others load when visited.
      { path: '/', name: 'dashboard', component: DashboardPage },
      { path: '/transactions', name: 'transactions', component: () => import('./pages/TransactionsPage.vue') },
      { path: '/budgets', name: 'budgets', component: () => import('./pages/BudgetsPage.vue') },
      { path: '/reports', name: 'reports', component: () => import('./pages/ReportsPage.vue') },
      { path: '/import', name: 'import', component: () => import('./pages/ImportPage.vue') },
      { path: '/recurring', name: 'recurring', component: () => import('./pages/RecurringPage.vue') },
      { path: '/alerts', name: 'alerts', component: () => import('./pages/AlertsPage.vue') },
      { path: '/categories', name: 'categories', component: () => import('./pages/CategoriesPage.vue') },
      { path: '/settings', name: 'settings', component: () => import('./pages/SettingsPage.vue') },
      { path: '/account', name: 'account', component: () => import('./pages/ProfilePage.vue') },
      { path: '/welcome', name: 'welcome', component: () => import('./pages/WelcomePage.vue'), meta: { public: true } },
      { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true } },
      { path: '/signup', name: 'signup', component: () => import('./pages/SignupPage.vue'), meta: { public: true } },
      {
        path: '/forgot-password',
        name: 'forgot',
        component: () => import('./pages/ForgotPasswordPage.vue'),
        meta: { public: true },
      },
      {
        path: '/reset-password',
        name: 'reset',
        component: () => import('./pages/ResetPasswordPage.vue'),
        meta: { public: true },
      },
      { path: '/:rest(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue'), meta: { public: true } },
    ],
  })
  router.beforeEach((to) => {
    const session = useSession(pinia)
    const device = useDevice(pinia)
    // A device's first start: choose the ledger's currency.
    if (!device.hasLedger && to.name !== 'welcome' && !to.meta.public) return { name: 'welcome' }
    if (device.hasLedger && to.name === 'welcome') return { name: 'dashboard' }
    if (api.requiresSignIn && !to.meta.public && !session.signedIn) {
      return { name: 'login', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
    }
    if ((to.name === 'login' || to.name === 'signup') && session.signedIn) return { name: 'dashboard' }
    return true
  })
  return router
}

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
  }
}
