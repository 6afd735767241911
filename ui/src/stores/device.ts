//! The device's own state: whether it has a ledger yet, and how sync is doing. On the web
//! the server's copy is always there and always current.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { Backend } from '../api'
import type { SyncStatus } from '../api/backend'

export const useDevice = defineStore('device', () => {
  const hasLedger = ref(true)
  const sync = ref<SyncStatus | null>(null)
  const account = ref<{ email: string; server: string } | null>(null)

  async function attach(api: Backend): Promise<void> {
    await refresh(api)
    api.onEvent((e) => {
      if (e.kind === 'sync') sync.value = e.status
    })
  }

  async function refresh(api: Backend): Promise<void> {
    // The web has no device: the server's copy is always there.
    const d = await api.device()
    hasLedger.value = d?.ledger ?? true
    sync.value = d?.sync ?? null
    account.value = d?.account ?? null
  }

  return { hasLedger, sync, account, attach, refresh }
})
