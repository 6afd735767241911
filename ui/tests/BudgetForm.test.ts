// The budget dialog: checks beside each field, Enter saves, Esc cancels, the backend's refusal
// lands beside the field it names and nothing typed is lost. The backend is a test double (the
// form is the edge under test); the real one is exercised end to end in e2e/.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import BudgetForm from '../src/components/BudgetForm.vue'
import { i18n } from '../src/i18n'
import { ApiError } from '../src/api/errors'
import type { Backend } from '../src/api/backend'
import type { Budget, Category } from '../src/api/types'
import { useLedger } from '../src/stores/ledger'
import { provideBackend } from '../src/api'

const groceries: Category = {
  id: '00000000-0000-0000-0000-000000000001',
  name: 'Groceries',
  kind: 'expense',
  color: '#22aa55',
  icon: '🛒',
  archived: false,
  builtin: true,
  deleted: false,
  merged_into: null,
}
const salary: Category = { ...groceries, id: '00000000-0000-0000-0000-000000000002', name: 'Salary', kind: 'income' }

const budget: Budget = {
  id: '00000000-0000-0000-0000-0000000000b1',
  name: 'Groceries',
  category_id: groceries.id,
  period: 'monthly',
  amount: '500.00',
  currency: 'EUR',
  start: '2026-01-01',
  rollover: false,
  thresholds: [80, 100],
  created_at: '2026-01-01T10:00:00Z',
  updated_at: '2026-01-01T10:00:00Z',
}

function fakeBackend(overrides: Partial<Backend>): Backend {
  return new Proxy(overrides as Backend, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof Backend]
      return () => Promise.reject(new Error(`not expected in this test: ${String(prop)}`))
    },
  })
}

async function mountWith(backend: Backend, existing: Budget | null = null) {
  const wrapper = mount(BudgetForm, {
    props: { budget: existing },
    attachTo: document.body,
    global: { plugins: [i18n, { install: (app) => provideBackend(app, backend) }] },
  })
  await flushPromises()
  return wrapper
}

const body = () => document.body
const input = (id: string) => body().querySelector<HTMLInputElement>('#' + id)!
const errorOf = (id: string) => body().querySelector(`#${id}-msg.error`)?.textContent?.trim() ?? null

async function type(id: string, value: string) {
  const el = input(id)
  el.value = value
  el.dispatchEvent(new Event('input'))
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}

async function choose(id: string, value: string) {
  const el = body().querySelector<HTMLSelectElement>('#' + id)!
  el.value = value
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}

async function submit() {
  body().querySelector('form')!.dispatchEvent(new Event('submit'))
  await flushPromises()
}

beforeEach(() => {
  document.body.innerHTML = ''
  setActivePinia(createPinia())
  const ledger = useLedger()
  ledger.categories = [groceries, salary]
  ledger.settings = { base_currency: 'EUR' }
})

describe('BudgetForm', () => {
  it('shows what is wrong beside each field and saves nothing', async () => {
    const createBudget = vi.fn()
    await mountWith(fakeBackend({ createBudget }))
    await type('bd-thresholds', '80, lots')
    await submit()
    expect(errorOf('bd-amount')).toBe('Required.')
    expect(errorOf('bd-thresholds')).toBe('Type whole percentages such as 80, 100.')
    expect(input('bd-amount').getAttribute('aria-invalid')).toBe('true')
    expect(createBudget).not.toHaveBeenCalled()

    await type('bd-amount', '10.005')
    await type('bd-thresholds', '0, 80')
    await submit()
    expect(errorOf('bd-amount')).toBe('EUR has 2 decimals at most.')
    expect(errorOf('bd-thresholds')).toBe('Each percentage is between 1 and 1000.')
    expect(createBudget).not.toHaveBeenCalled()
  })

  it('offers expense categories and all expenses, and saves with Enter', async () => {
    const created: Budget = { ...budget, amount: '100.00' }
    const createBudget = vi.fn().mockResolvedValue(created)
    const wrapper = await mountWith(fakeBackend({ createBudget }))
    const options = [...body().querySelectorAll('#bd-category option')].map((o) => o.textContent?.trim())
    expect(options).toEqual(['All expenses', '🛒 Groceries'])
    await choose('bd-category', groceries.id)
    // Left unnamed, the budget takes the category's name.
    expect(input('bd-name').placeholder).toBe('Groceries')
    await type('bd-amount', '1.000,50')
    await type('bd-thresholds', '100, 80 , 50')
    input('bd-thresholds').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }))
    await flushPromises()
    expect(createBudget).toHaveBeenCalledWith({
      amount: '1000.50',
      category: groceries.id,
      period: 'monthly',
      rollover: false,
      thresholds: [50, 80, 100],
    })
    expect(wrapper.emitted('saved')?.[0]).toEqual([created, true])
  })

  it('makes an annual budget of all expenses from a given day, with rollover', async () => {
    const createBudget = vi.fn().mockResolvedValue(budget)
    await mountWith(fakeBackend({ createBudget }))
    await type('bd-amount', '6000')
    ;[...body().querySelectorAll<HTMLButtonElement>('[role=group] button')].find((b) => b.textContent === 'Annual')!.click()
    await type('bd-start', '2026-04-01')
    await type('bd-name', 'Household')
    const rollover = input('bd-rollover')
    rollover.checked = true
    rollover.dispatchEvent(new Event('change'))
    await submit()
    expect(createBudget).toHaveBeenCalledWith({
      amount: '6000',
      period: 'annual',
      rollover: true,
      thresholds: [80, 100],
      name: 'Household',
      start: '2026-04-01',
    })
  })

  it("puts the backend's refusal beside its field and keeps what was typed", async () => {
    const createBudget = vi.fn().mockRejectedValue(new ApiError('invalid', 'category: already has a monthly budget', 422))
    const wrapper = await mountWith(fakeBackend({ createBudget }))
    await choose('bd-category', groceries.id)
    await type('bd-amount', '250')
    await type('bd-thresholds', '90')
    await submit()
    expect(errorOf('bd-category')).toBe('already has a monthly budget')
    expect(body().querySelector('#bd-category')!.getAttribute('aria-invalid')).toBe('true')
    expect(input('bd-amount').value).toBe('250')
    expect(input('bd-thresholds').value).toBe('90')
    expect(wrapper.emitted('saved')).toBeUndefined()

    // A refusal that names no field of the form shows above the buttons.
    createBudget.mockRejectedValueOnce(new ApiError('offline', 'The server cannot be reached.'))
    await submit()
    expect(body().querySelector('[role=alert]')?.textContent).toContain('The server cannot be reached.')
    expect(input('bd-amount').value).toBe('250')
  })

  it('edits only what may change, sends only what changed, and Esc cancels', async () => {
    const updateBudget = vi.fn().mockResolvedValue({ ...budget, amount: '450.00' })
    const wrapper = await mountWith(fakeBackend({ updateBudget }), budget)
    // Category, period and start are fixed once a budget exists.
    expect(body().querySelector('#bd-category')).toBeNull()
    expect(body().querySelector('#bd-start')).toBeNull()
    expect(body().querySelector('[data-testid=budget-fixed]')?.textContent).toContain('Groceries · Monthly')
    expect(input('bd-thresholds').value).toBe('80, 100')
    await type('bd-amount', '450.00')
    await type('bd-thresholds', '75, 100')
    input('bd-amount').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }))
    await flushPromises()
    expect(updateBudget).toHaveBeenCalledWith(budget.id, { amount: '450.00', thresholds: [75, 100] })

    await type('bd-name', '')
    await submit()
    expect(errorOf('bd-name')).toBe('Give the budget a name.')
    expect(updateBudget).toHaveBeenCalledTimes(1)

    body().querySelector('[role=dialog]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
    await flushPromises()
    expect(wrapper.emitted('cancel')).toHaveLength(1)
  })
})
