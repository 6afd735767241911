// The apps' backend turns each call into the command the desktop crate registers, with the
// argument names Tauri maps to the Rust parameters, and the commands' `{code, message}`
// failures into ApiError. Tauri's IPC is replaced by its own mock (the edge under test is
// the backend; the real app is driven end to end in e2e/desktop.test.mjs).
import { afterEach, describe, expect, it } from 'vitest'
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks'
import { TauriBackend } from '../src/api/tauri'
import { ApiError } from '../src/api/errors'

afterEach(() => clearMocks())

describe('TauriBackend', () => {
  it('calls the commands with their parameters', async () => {
    const calls: [string, unknown][] = []
    mockIPC((cmd, args) => {
      calls.push([cmd, args])
      if (cmd === 'list_transactions') return { items: [], total: 0 }
      if (cmd === 'delete_category') return 3
      return null
    })
    const api = new TauriBackend()
    await api.listTransactions({ paymentMethods: ['m'], minAmount: '10', limit: 100 })
    expect(await api.deleteCategory('c1', 'c2')).toBe(3)
    await api.categories(true)
    await api.updateSettings({ base_currency: 'JPY' })
    expect(calls).toEqual([
      ['list_transactions', { query: { paymentMethods: ['m'], minAmount: '10', limit: 100 } }],
      ['delete_category', { id: 'c1', moveTo: 'c2' }],
      ['list_categories', { includeArchived: true }],
      ['update_settings', { baseCurrency: 'JPY' }],
    ])
  })

  it('calls the budgets, alerts and recurring commands with camelCase arguments', async () => {
    const calls: [string, unknown][] = []
    mockIPC((cmd, args) => {
      calls.push([cmd, args])
      if (cmd === 'run_plans') return { booked: 0, alerts: [], reminders: [] }
      return cmd === 'budgets' || cmd === 'upcoming' ? [] : null
    })
    const api = new TauriBackend()
    await api.budgets()
    await api.budgetHistory('b1', 6)
    await api.createBudget({ amount: '100.00', category: 'Groceries', thresholds: [80, 100] })
    await api.dismissAlert('b1:2026-11-01:80')
    await api.upcoming(30, '2026-11-15')
    await api.updateRecurring('r1', { end: null })
    await api.bookOccurrence('r1', '2026-11-01')
    await api.skipOccurrence('r1', '2026-12-01')
    await api.runPlans('2026-11-15')
    expect(calls).toEqual([
      ['budgets', { date: null }],
      ['budget_history', { id: 'b1', periods: 6 }],
      ['add_budget', { input: { amount: '100.00', category: 'Groceries', thresholds: [80, 100] } }],
      ['dismiss_alert', { id: 'b1:2026-11-01:80' }],
      ['upcoming', { days: 30, today: '2026-11-15' }],
      ['edit_recurring', { id: 'r1', patch: { end: null } }],
      ['book_occurrence', { id: 'r1', due: '2026-11-01', patch: {} }],
      ['skip_occurrence', { id: 'r1', due: '2026-12-01' }],
      ['run_plans', { today: '2026-11-15' }],
    ])
  })

  it("reports a command's failure as ApiError with its field", async () => {
    mockIPC(() => {
      throw { code: 'invalid', message: 'amount: EUR allows 2 decimals' }
    })
    const err = (await new TauriBackend().createTransaction({ amount: '1.234', date: '2026-01-01', category: 'x' }).catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ code: 'invalid', field: 'amount', detail: 'EUR allows 2 decimals' })
  })

  it('works without an account: signed out, no sign-in needed', async () => {
    mockIPC((cmd) => (cmd === 'device_status' ? { ledger: true, account: null, sync: { state: 'signed_out', last_synced: null, unsent: 0, received: 0 } } : null))
    const api = new TauriBackend()
    await api.init()
    expect(api.requiresSignIn).toBe(false)
    expect(api.signedIn()).toBe(false)
  })
})
