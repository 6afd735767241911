//! Preferences of this browser or device: the colour theme.
import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

export type Theme = 'light' | 'dark' | 'system'
const KEY = 'expenso.theme'

export const usePrefs = defineStore('prefs', () => {
  const stored = typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null
  const theme = ref<Theme>(stored === 'light' || stored === 'dark' ? stored : 'system')

  function apply(): void {
    if (typeof document === 'undefined') return
    const dark =
      theme.value === 'dark' ||
      (theme.value === 'system' && typeof matchMedia !== 'undefined' && matchMedia('(prefers-color-scheme: dark)').matches)
    document.documentElement.dataset.theme = dark ? 'dark' : 'light'
  }

  watch(theme, (t) => {
    localStorage.setItem(KEY, t)
    apply()
  })
  if (typeof matchMedia !== 'undefined') {
    matchMedia('(prefers-color-scheme: dark)').addEventListener?.('change', apply)
  }
  apply()

  return { theme, apply }
})
