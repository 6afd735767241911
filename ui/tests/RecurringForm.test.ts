// The recurring-transaction dialog: what it sends for a new schedule, the checks beside the
// schedule's fields, an edit that removes the series' end, and the backend's refusal beside
// the field it names. The backend is a test double (the form is the edge under test).
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import RecurringForm from '../src/components/RecurringForm.vue'
import { i18n } from '../src/i18n'
import { ApiError } from '../src/api/errors'
import type { Backend } from '../src/api/backend'
import type { Category, RecurringRule } from '../src/api/types'
import { useLedger } from '../src/stores/ledger'
import { useSession } from '../src/stores/session'
import { provideBackend } from '../src/api'

const housing: Category = {
  id: '00000000-0000-0000-0000-000000000004',
  name: 'Housing',
  kind: 'expense',
  color: '#6d4c41',
  icon: '🏠',
  archived: false,
  builtin: true,
  deleted: false,
  merged_into: null,
}

const rent: RecurringRule = {
  id: '00000000-0000-0000-0000-0000000000r1',
  kind: 'expense',
  amount: '950.00',
  currency: 'EUR',
  category_id: housing.id,
  payment_method_id: '00000000-0000-0000-0000-0000000000aa',
  description: 'Rent',
  notes: '',
  tags: [],
  frequency: 'monthly',
  interval: 1,
  day: 31,
  month: null,
  start: '2026-01-31',
  end: '2026-12-31',
  count: null,
  auto: true,
  remind_days: 3,
  next_due: '2026-11-30',
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

async function mountWith(backend: Backend, rule: RecurringRule | null = null) {
  const wrapper = mount(RecurringForm, {
    props: { rule },
    attachTo: document.body,
    global: { plugins: [i18n, { install: (app) => provideBackend(app, backend) }] },
  })
  await flushPromises()
  return wrapper
}

const body = () => document.body
const field = (id: string) => body().querySelector<HTMLInputElement & HTMLSelectElement>('#' + id)!
const text = () => body().textContent ?? ''

async function set(id: string, value: string) {
  const el = field(id)
  el.value = value
  el.dispatchEvent(new Event('input'))
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}

async function pick(name: string, label: string) {
  const radio = [...body().querySelectorAll<HTMLInputElement>(`input[name=${name}]`)].find((r) => r.parentElement?.textContent?.trim() === label)!
  radio.checked = true
  radio.dispatchEvent(new Event('change'))
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
  ledger.categories = [housing]
  ledger.paymentMethods = [{ id: '00000000-0000-0000-0000-0000000000aa', name: 'Card', archived: false, builtin: true }]
  ledger.settings = { base_currency: 'EUR' }
  useSession().profile = { locale: 'en-GB' } as never
})

describe('RecurringForm', () => {
  it('sends a weekly schedule that asks first and ends after a number of times', async () => {
    const createRecurring = vi.fn().mockResolvedValue(rent)
    const wrapper = await mountWith(fakeBackend({ createRecurring }))
    await set('rc-amount', '12,50')
    await set('rc-description', 'Cleaner')
    await set('rc-category', housing.id)
    await set('rc-frequency', 'weekly')
    await set('rc-interval', '2')
    await set('rc-start', '2026-11-02')
    await pick('rc-ends', 'After a number of times')
    await set('rc-count', '6')
    await pick('rc-auto', 'Ask me first')
    await set('rc-remind', '1')
    // 2 November 2026 is a Monday.
    expect(body().querySelector('[data-testid=recurring-preview]')?.textContent).toContain('Every 2 weeks on Monday, 6 times')
    field('rc-description').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }))
    await flushPromises()
    expect(createRecurring).toHaveBeenCalledWith({
      kind: 'expense',
      amount: '12.50',
      currency: 'EUR',
      category: housing.id,
      description: 'Cleaner',
      frequency: 'weekly',
      interval: 2,
      start: '2026-11-02',
      auto: false,
      remind_days: 1,
      count: 6,
    })
    expect(wrapper.emitted('saved')?.[0]).toEqual([rent, true])
  })

  it('checks the schedule beside its fields', async () => {
    const createRecurring = vi.fn()
    await mountWith(fakeBackend({ createRecurring }))
    await set('rc-frequency', 'yearly')
    await set('rc-month', '2')
    await set('rc-day', '30')
    await set('rc-interval', '0')
    await set('rc-remind', 'soon')
    await pick('rc-ends', 'On a date')
    await set('rc-start', '2026-05-01')
    await set('rc-end', '2026-04-01')
    await submit()
    expect(text()).toContain('That month has no day 30.')
    expect(text()).toContain('At least 1.')
    expect(text()).toContain('From 0 to 365 days.')
    expect(text()).toContain('On or after the first date.')
    expect(text()).toContain('Describe it, such as Rent.')
    expect(text()).toContain('Choose a category.')
    expect(field('rc-day').getAttribute('aria-invalid')).toBe('true')
    expect(createRecurring).not.toHaveBeenCalled()
  })

  it('sends only what an edit changed, a removed end as null', async () => {
    const updateRecurring = vi.fn().mockResolvedValue({ ...rent, end: null })
    await mountWith(fakeBackend({ updateRecurring }), rent)
    expect(body().querySelector('[data-testid=recurring-preview]')?.textContent).toContain('Monthly on day 31, until 31 Dec 2026')
    await pick('rc-ends', 'Never')
    await set('rc-amount', '975.00')
    await submit()
    expect(updateRecurring).toHaveBeenCalledWith(rent.id, { amount: '975.00', end: null })
  })

  it("puts the backend's refusal beside its field and keeps what was typed", async () => {
    const createRecurring = vi.fn().mockRejectedValue(new ApiError('invalid', 'remind_days: at most 60', 422))
    const wrapper = await mountWith(fakeBackend({ createRecurring }))
    await set('rc-amount', '950')
    await set('rc-description', 'Rent')
    await set('rc-category', housing.id)
    await set('rc-remind', '90')
    await submit()
    expect(body().querySelector('#rc-remind-msg.error')?.textContent).toBe('at most 60')
    expect(field('rc-remind').getAttribute('aria-invalid')).toBe('true')
    expect(field('rc-description').value).toBe('Rent')
    expect(field('rc-remind').value).toBe('90')
    expect(wrapper.emitted('saved')).toBeUndefined()
  })
})
