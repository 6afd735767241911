//! The ledger's reference data every screen needs (categories, payment methods, settings,
//! tags), and a revision number that every write bumps so open screens reload what they show.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Backend, Category, PaymentMethod, Settings, TagCount } from '../api'

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

  async function load(api: Backend): Promise<void> {
    const [c, m, s, t] = await Promise.all([
      api.categories(true),
      api.paymentMethods(true),
      api.settings(),
      api.tags(),
    ])
    categories.value = c
    paymentMethods.value = m
    settings.value = s
    tags.value = t
    loaded.value = true
    lastUpdated.value = new Date()
  }

  /** After a write: reload the reference data and tell screens to refresh. */
  async function changed(api: Backend): Promise<void> {
    revision.value++
    await load(api)
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
