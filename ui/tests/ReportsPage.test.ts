// The Reports page with a test double backend: exact totals and what their changes mean, what
// no rate converts, the first 100 transactions only, downloads, the period in the address.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { defineComponent, h } from 'vue'
import ReportsPage from '../src/pages/ReportsPage.vue'
import { i18n } from '../src/i18n'
import { provideBackend } from '../src/api'
import { provideEditor } from '../src/composables/editor'
import type { Backend } from '../src/api/backend'
import type { Report } from '../src/api/types'
import { useLedger } from '../src/stores/ledger'
import { useSession } from '../src/stores/session'
import { useNotices } from '../src/stores/notices'

function fakeBackend(overrides: Partial<Backend>): Backend {
  return new Proxy(overrides as Backend, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof Backend]
      return () => Promise.reject(new Error(`not expected in this test: ${String(prop)}`))
    },
  })
}

function report(from: string, to: string, rows = 3): Report {
  return {
    title: 'Income and expenses',
    period: { from, to, label: 'March 2024' },
    base_currency: 'EUR',
    generated_at: '2024-04-01T00:00:00Z',
    summary: { income: '2869.99', expense: '1519.98', net: '1350.01', count: rows },
    previous: {
      period: { from: '2024-02-01', to: '2024-02-29', label: 'February 2024' },
      summary: { income: '2500.00', expense: '1000.00', net: '1500.00', count: 4 },
      income_change: '14.8',
      expense_change: '52.0',
      net_change: '-10.0',
    },
    categories: [
      { key: 'rent', name: 'Rent', color: '#aa3344', kind: 'expense', total: '1234.56', count: 1, percent: '81.2' },
      { key: 'food', name: 'Groceries', color: '#22aa55', kind: 'expense', total: '285.42', count: 5, percent: '18.8' },
      { key: 'salary', name: 'Salary', color: '#2255aa', kind: 'income', total: '2869.99', count: 2, percent: '100.0' },
    ],
    payment_methods: [{ key: 'card', name: 'Card', kind: 'expense', total: '1519.98', count: 6, percent: '100.0' }],
    tags: [],
    months: [{ month: '2024-03', income: '2869.99', expense: '1519.98', net: '1350.01', count: rows }],
    budgets: [{ budget_id: 'b', name: 'Groceries', from: '2024-03-01', to: '2024-03-31', limit: '250.00', actual: '285.42', remaining: '-35.42', percent: '114.2' }],
    unconverted: [{ currency: 'CHF', count: 2, income: '0', expense: '80.00' }],
    transactions: Array.from({ length: rows }, (_, i) => ({
      id: `t${i}`,
      date: '2024-03-05',
      kind: 'expense' as const,
      description: `Row ${i}`,
      category: 'Groceries',
      payment_method: 'Card',
      tags: ['food'],
      notes: '',
      amount: '10.00',
      currency: i === 0 ? 'CHF' : 'EUR',
      converted: i === 0 ? null : '10.00',
      rate: i === 0 ? null : '1',
    })),
  }
}

const Stub = defineComponent({ template: '<div />' })

async function mountPage(backend: Backend, path = '/reports?period=month&from=2024-03-01') {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/reports', name: 'reports', component: ReportsPage },
      { path: '/:rest(.*)*', component: Stub },
    ],
  })
  await router.push(path)
  await router.isReady()
  // The page opens the shared add dialog through the editor App.vue provides.
  const App = defineComponent({
    setup() {
      provideEditor({ open: () => undefined })
      return () => h(ReportsPage)
    },
  })
  const wrapper = mount(App, {
    attachTo: document.body,
    global: { plugins: [i18n, router, { install: (app) => provideBackend(app, backend) }] },
  })
  await flushPromises()
  return { wrapper, router }
}

const q = <T extends Element = HTMLElement>(s: string) => document.body.querySelector<T>(s)!
const text = () => document.body.textContent ?? ''

beforeEach(() => {
  document.body.innerHTML = ''
  setActivePinia(createPinia())
  useLedger().settings = { base_currency: 'EUR' }
  useSession().profile = { id: 'u', email: 'a@b.c', display_name: 'A', base_currency: 'EUR', locale: 'en-US', created_at: '2024-01-01T00:00:00Z' }
})

describe('ReportsPage', () => {
  it('shows the period of the address with exact totals, and whether each change is good news', async () => {
    const api = vi.fn((from: string, to: string) => Promise.resolve(report(from, to)))
    await mountPage(fakeBackend({ report: api }))
    expect(api).toHaveBeenCalledWith('2024-03-01', '2024-03-31')
    expect(q('[data-testid="period-label"]').textContent).toBe('March 2024')
    const value = (m: string) => q(`[data-testid="report-${m}"] [data-testid="report-value"]`).textContent?.trim()
    expect([value('income'), value('expense'), value('net')]).toEqual(['€2,869.99', '€1,519.98', '+€1,350.01'])
    const change = (m: string) => q(`[data-testid="report-${m}"] [data-testid="report-change"]`)
    expect(change('income').classList.contains('good')).toBe(true)
    expect(change('income').textContent).toContain('Up 14.8% on February 2024')
    expect(change('expense').classList.contains('bad')).toBe(true)
    expect(change('expense').textContent).toContain('Up 52% on February 2024')
    expect(change('expense').textContent).toContain('(worse)')
    expect(change('net').classList.contains('bad')).toBe(true)
    expect(change('net').textContent).toContain('Down 10% on February 2024')
    expect(text()).toContain('€1,000.00 in February 2024')
    // Breakdowns and budgets.
    expect(q('[data-testid="report-expense-categories"]').textContent).toContain('Rent')
    expect(q('[data-testid="report-expense-categories"]').textContent).toContain('€1,234.56')
    expect(q('[data-testid="report-income-categories"]').textContent).toContain('Salary')
    expect(q('[data-testid="report-budgets"]').textContent).toContain('€35.42 over budget')
    expect(text()).toContain('No tagged transactions in this period.')
  })

  it('lists what no rate converts apart, with the way to the rates', async () => {
    await mountPage(fakeBackend({ report: (from, to) => Promise.resolve(report(from, to)) }))
    const note = q('[data-testid="report-unconverted"]')
    expect(note.getAttribute('role')).toBe('status')
    expect(note.textContent).toContain('2 transactions in CHF')
    expect(note.textContent).toMatch(/CHF\s80\.00/)
    expect(note.querySelector('a')!.getAttribute('href')).toBe('/settings#rates')
    expect(q('[data-testid="report-row"]').textContent).toContain('no rate')
  })

  it('shows the first 100 transactions and points to the CSV for the rest', async () => {
    const saveReport = vi.fn().mockResolvedValue('expensotrack-report-2024-03-01-2024-03-31.csv')
    await mountPage(fakeBackend({ report: (from, to) => Promise.resolve(report(from, to, 10_000)), saveReport }))
    expect(document.querySelectorAll('[data-testid="report-row"]').length).toBe(100)
    const more = q('[data-testid="report-more"]')
    expect(more.textContent).toContain('and 9,900 more — download the CSV for all of them')
    more.querySelector('button')!.click()
    await flushPromises()
    expect(saveReport).toHaveBeenCalledWith('2024-03-01', '2024-03-31', 'csv', undefined)
    expect(useNotices().items.map((n) => n.text)).toEqual(['Saved expensotrack-report-2024-03-01-2024-03-31.csv.'])
  })

  it('downloads the PDF on the paper chosen, and says when it could not', async () => {
    const saveReport = vi.fn().mockRejectedValueOnce(new Error('offline')).mockResolvedValue('r.pdf')
    await mountPage(fakeBackend({ report: (from, to) => Promise.resolve(report(from, to)), saveReport }))
    expect(q<HTMLSelectElement>('#report-paper').value).toBe('letter')
    const paper = q<HTMLSelectElement>('#report-paper')
    paper.value = 'a4'
    paper.dispatchEvent(new Event('change'))
    q('[data-testid="report-pdf"]').click()
    await flushPromises()
    expect(useNotices().items[0]).toMatchObject({ tone: 'error', text: 'The PDF file could not be made (offline). Try again in a moment.' })
    q('[data-testid="report-pdf"]').click()
    await flushPromises()
    expect(saveReport).toHaveBeenLastCalledWith('2024-03-01', '2024-03-31', 'pdf', 'a4')
  })

  it('steps to the previous period and puts it in the address', async () => {
    const api = vi.fn((from: string, to: string) => Promise.resolve(report(from, to)))
    const { router } = await mountPage(fakeBackend({ report: api }), '/reports?period=quarter&from=2024-03-01')
    expect(api).toHaveBeenLastCalledWith('2024-01-01', '2024-03-31')
    expect(q('[data-testid="period-label"]').textContent).toBe('Q1 2024')
    q<HTMLButtonElement>('button[aria-label="Previous period"]').click()
    await flushPromises()
    expect(api).toHaveBeenLastCalledWith('2023-10-01', '2023-12-31')
    expect(router.currentRoute.value.query).toEqual({ period: 'quarter', from: '2023-10-01' })
  })

  it('says so when the period is empty, and what to do when loading fails', async () => {
    const empty = { ...report('2024-03-01', '2024-03-31', 0), unconverted: [] }
    const api = vi.fn().mockRejectedValueOnce(new Error('the server is not reachable')).mockResolvedValue(empty)
    await mountPage(fakeBackend({ report: api }))
    const alert = q('[data-testid="report-error"]')
    expect(alert.textContent).toContain('The report could not be loaded: the server is not reachable')
    expect(alert.textContent).toContain('try again')
    alert.querySelector('button')!.click()
    await flushPromises()
    expect(text()).toContain('No transactions in March 2024')
    expect(q('a[href="/import"]').textContent).toContain('Import a bank statement')
    expect(q<HTMLButtonElement>('[data-testid="report-csv"]').disabled).toBe(true)
  })

  it('refuses a custom range that ends before it starts', async () => {
    const api = vi.fn((from: string, to: string) => Promise.resolve(report(from, to)))
    await mountPage(fakeBackend({ report: api }), '/reports?period=custom&from=2024-03-10&to=2024-03-20')
    expect(api).toHaveBeenCalledTimes(1)
    const to = q<HTMLInputElement>('#period-to')
    to.value = '2024-03-01'
    to.dispatchEvent(new Event('change'))
    await flushPromises()
    expect(text()).toContain('The first day must be on or before the last day.')
    expect(api).toHaveBeenCalledTimes(1)
  })
})
