//! Budgets' alerts and the runs of the plans (recurring transactions due, thresholds reached):
//! the alerts as the backend has them, which of them are new since the last look, and the
//! reminders the last run found.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { Alert, Backend, Occurrence, PlanRun } from '../api'
import { isoDay } from '../lib/dates'

export const usePlans = defineStore('plans', () => {
  /** Newest first, dismissed ones included; null until loaded. */
  const alerts = ref<Alert[] | null>(null)
  /** The occurrences whose reminder date has come, from the last run. */
  const reminders = ref<Occurrence[]>([])
  const open = computed(() => (alerts.value ?? []).filter((a) => !a.dismissed))
  // The alerts seen so far, so only new ones are announced (none on the first load).
  let known: Set<string> | null = null

  function remember(list: readonly Alert[]): Alert[] {
    const fresh = known ? list.filter((a) => !a.dismissed && !known!.has(a.id)) : []
    known ??= new Set()
    for (const a of list) known.add(a.id)
    return fresh
  }

  /** Reloads the alerts; answers the undismissed ones not seen before. */
  async function loadAlerts(api: Backend): Promise<Alert[]> {
    const list = await api.alerts()
    alerts.value = list
    return remember(list)
  }

  /**
   * Runs the plans for the user's local today: books what is due and raises alerts. Answers
   * the run and the alerts it raised that were not seen before.
   */
  async function run(api: Backend, today: string = isoDay(new Date())): Promise<{ run: PlanRun; fresh: Alert[] }> {
    const r = await api.runPlans(today)
    reminders.value = r.reminders
    const raised = r.alerts.filter((a) => !a.dismissed && !known?.has(a.id))
    if (known) for (const a of r.alerts) known.add(a.id)
    // The first load only learns what there is; later ones also find alerts raised elsewhere.
    const others = await loadAlerts(api).catch(() => [] as Alert[])
    return { run: r, fresh: [...raised, ...others.filter((a) => !raised.some((b) => b.id === a.id))] }
  }

  async function dismiss(api: Backend, ids: readonly string[]): Promise<void> {
    try {
      for (const id of ids) await api.dismissAlert(id)
    } finally {
      await loadAlerts(api).catch(() => undefined)
    }
  }

  function reset(): void {
    alerts.value = null
    reminders.value = []
    known = null
  }

  return { alerts, reminders, open, loadAlerts, run, dismiss, reset }
})
