// The add/edit form: checks beside each field, Enter saves, Esc cancels, the backend's
// refusal lands beside the field it names and nothing typed is lost. The backend is a test
// double (the form is the edge under test); the real one is exercised end to end in e2e/.
import { describe, expect, it, vi, beforeEach } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import TransactionForm from '../src/components/TransactionForm.vue'
import { i18n } from '../src/i18n'
import { ApiError } from '../src/api/errors'
import type { Backend } from '../src/api/backend'
import type { Category, Transaction } from '../src/api/types'
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

function fakeBackend(overrides: Partial<Backend>): Backend {
  return new Proxy(overrides as Backend, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof Backend]
      return () => Promise.reject(new Error(`not expected in this test: ${String(prop)}`))
    },
  })
}

async function mountWith(backend: Backend, transaction: Transaction | null = null) {
  const wrapper = mount(TransactionForm, {
    props: { transaction },
    attachTo: document.body,
    global: {
      plugins: [i18n, { install: (app) => provideBackend(app, backend) }],
    },
  })
  await flushPromises()
  return wrapper
}

const body = () => document.body

beforeEach(() => {
  document.body.innerHTML = ''
  setActivePinia(createPinia())
  const ledger = useLedger()
  ledger.categories = [groceries, salary]
  ledger.paymentMethods = [{ id: '00000000-0000-0000-0000-0000000000aa', name: 'Card', archived: false, builtin: true }]
  ledger.settings = { base_currency: 'EUR' }
})

function input(id: string): HTMLInputElement {
  return body().querySelector<HTMLInputElement>('#' + id)!
}

async function type(id: string, value: string) {
  const el = input(id)
  el.value = value
  el.dispatchEvent(new Event('input'))
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}

describe('TransactionForm', () => {
  it('shows what is wrong beside each field and saves nothing', async () => {
    const createTransaction = vi.fn()
    await mountWith(fakeBackend({ createTransaction }))
    await type('tx-amount', '12.345')
    body().querySelector('form')!.dispatchEvent(new Event('submit'))
    await flushPromises()
    expect(body().textContent).toContain('EUR has 2 decimals at most.')
    expect(body().textContent).toContain('Choose a category.')
    expect(input('tx-amount').getAttribute('aria-invalid')).toBe('true')
    expect(createTransaction).not.toHaveBeenCalled()
  })

  it('saves with Enter, sending the exact amount string', async () => {
    const saved: Transaction = {
      id: 'x',
      kind: 'expense',
      amount: '1234.50',
      currency: 'EUR',
      date: '2026-11-30',
      category_id: groceries.id,
      payment_method_id: '',
      description: 'Market',
      notes: '',
      tags: ['food'],
      created_at: '2026-11-30T10:00:00Z',
      updated_at: '2026-11-30T10:00:00Z',
    }
    const createTransaction = vi.fn().mockResolvedValue(saved)
    const wrapper = await mountWith(fakeBackend({ createTransaction }))
    await type('tx-amount', '1.234,50')
    await type('tx-date', '2026-11-30')
    const select = body().querySelector<HTMLSelectElement>('#tx-category')!
    select.value = groceries.id
    select.dispatchEvent(new Event('change'))
    await type('tx-description', 'Market')
    await type('tx-tags', 'food, ')
    input('tx-description').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }))
    await flushPromises()
    expect(createTransaction).toHaveBeenCalledWith(
      expect.objectContaining({ kind: 'expense', amount: '1234.50', currency: 'EUR', date: '2026-11-30', category: groceries.id, description: 'Market', tags: ['food'] }),
    )
    expect(wrapper.emitted('saved')?.[0]).toEqual([saved, true])
  })

  it("puts the backend's refusal beside its field and keeps what was typed", async () => {
    const createTransaction = vi.fn().mockRejectedValue(new ApiError('invalid', 'description: at most 200 characters', 422))
    const wrapper = await mountWith(fakeBackend({ createTransaction }))
    await type('tx-amount', '5')
    const select = body().querySelector<HTMLSelectElement>('#tx-category')!
    select.value = groceries.id
    select.dispatchEvent(new Event('change'))
    await type('tx-description', 'Too long, says the server')
    body().querySelector('form')!.dispatchEvent(new Event('submit'))
    await flushPromises()
    expect(body().textContent).toContain('at most 200 characters')
    expect(input('tx-description').getAttribute('aria-invalid')).toBe('true')
    expect(input('tx-description').value).toBe('Too long, says the server')
    expect(input('tx-amount').value).toBe('5')
    expect(wrapper.emitted('saved')).toBeUndefined()
  })

  it('sends only the fields an edit changed, and Esc cancels', async () => {
    const original: Transaction = {
      id: 't1',
      kind: 'expense',
      amount: '10.00',
      currency: 'EUR',
      date: '2026-11-01',
      category_id: groceries.id,
      payment_method_id: '00000000-0000-0000-0000-0000000000aa',
      description: 'Bread',
      notes: '',
      tags: [],
      created_at: '2026-11-01T10:00:00Z',
      updated_at: '2026-11-01T10:00:00Z',
    }
    const updateTransaction = vi.fn().mockResolvedValue({ ...original, amount: '11.00' })
    const wrapper = await mountWith(fakeBackend({ updateTransaction }), original)
    await type('tx-amount', '11')
    body().querySelector('form')!.dispatchEvent(new Event('submit'))
    await flushPromises()
    expect(updateTransaction).toHaveBeenCalledWith('t1', { amount: '11' })

    body().querySelector('[role=dialog]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
    await flushPromises()
    expect(wrapper.emitted('cancel')).toHaveLength(1)
  })

  it('offers only the categories of the chosen kind', async () => {
    await mountWith(fakeBackend({}))
    const names = () => [...body().querySelectorAll('#tx-category option')].map((o) => o.textContent?.trim())
    expect(names()).toContain('🛒 Groceries')
    expect(names()).not.toContain('🛒 Salary')
    ;[...body().querySelectorAll<HTMLButtonElement>('[role=group] button')][1]!.click()
    await flushPromises()
    expect(names()).toContain('🛒 Salary')
    expect(names()).not.toContain('🛒 Groceries')
  })
})

