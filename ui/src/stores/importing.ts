//! A statement import's progress as the device's backend reports it (`import_progress`
//! events, which App.vue passes here): the Import page shows it while the import runs. The web
//! reports none (its progress bar is indeterminate).
import { defineStore } from 'pinia'
import { ref } from 'vue'

export const useImporting = defineStore('importing', () => {
  const progress = ref<{ done: number; total: number } | null>(null)

  function report(done: number, total: number): void {
    progress.value = { done, total }
  }

  function reset(): void {
    progress.value = null
  }

  return { progress, report, reset }
})
