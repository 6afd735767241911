//! The ledger's reference data every screen needs (categories, payment methods, settings,
//! tags), and a revision number that every write bumps so open screens reload what they show.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Backend, Category, PaymentMethod, Settings, TagCount } from '../api'

/** The reference data's parts. */
export type Part = 'categories' | 'paymentMethods' | 'settings' | 'tags'
const ALL: readonly Part[] = ['categories', 'paymentMethods', 'settings', 'tags']

export const useLedger = defineStore('ledger', () => {
  const categories = ref<Category[]>([])
  const paymentMethods = ref<PaymentMethod[]>([])
  const settings = ref<Settings | null>(null)
  const tags = ref<TagCount[]>([])
  const loaded = ref(false)
  /** Bumped after every change to the ledger. */
  const revision = ref(0)
  const lastUpdated = ref<Date | null>(null)

  const byId = computed(() => new Map(categories.value.map((c) => [c.id, c])))
  const methodById = computed(() => new Map(paymentMethods.value.map((m) => [m.id, m])))
  const baseCurrency = computed(() => settings.value?.base_currency ?? 'EUR')

  /** Reloads the reference data: all of it, or the parts named. */
  async function load(api: Backend, parts: readonly Part[] = ALL): Promise<void> {
    const want = (p: Part) => parts.includes(p)
    await Promise.all([
      want('categories') && api.categories(true).then((c) => (categories.value = c)),
      want('paymentMethods') && api.paymentMethods(true).then((m) => (paymentMethods.value = m)),
      want('settings') && api.settings().then((x) => (settings.value = x)),
      want('tags') && api.tags().then((t) => (tags.value = t)),
    ])
    if (parts === ALL) loaded.value = true
    lastUpdated.value = new Date()
  }

  /**
   * After a write: tell screens to refresh, and reload the reference data it can have
   * changed (a transaction's write only the tags; an import or another device's changes all).
   */
  async function changed(api: Backend, parts: readonly Part[] = ALL): Promise<void> {
    revision.value++
    await load(api, parts)
  }

  function reset(): void {
    categories.value = []
    paymentMethods.value = []
    settings.value = null
    tags.value = []
    loaded.value = false
  }

  return { categories, paymentMethods, settings, tags, loaded, revision, lastUpdated, byId, methodById, baseCurrency, load, changed, reset }
})
