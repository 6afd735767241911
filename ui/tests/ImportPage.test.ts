// The Import page with a test double backend: the steps, the options it sends, what the counts
// say as rows are ticked, and an error that keeps every choice. The real backends are
// exercised end to end in e2e/.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { defineComponent } from 'vue'
import ImportPage from '../src/pages/ImportPage.vue'
import { i18n } from '../src/i18n'
import { ApiError } from '../src/api/errors'
import { provideBackend } from '../src/api'
import type { Backend } from '../src/api/backend'
import type { Category, CsvSniff, ImportOptions, ImportPreview, Inspection, PreviewRow } from '../src/api/types'
import { useLedger } from '../src/stores/ledger'
import { useSession } from '../src/stores/session'
import { useImporting } from '../src/stores/importing'

function fakeBackend(overrides: Partial<Backend>): Backend {
  return new Proxy(overrides as Backend, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof Backend]
      return () => Promise.reject(new Error(`not expected in this test: ${String(prop)}`))
    },
  })
}

const other: Category = { id: 'c-other', name: 'Other', kind: 'expense', color: '#757575', icon: '📦', archived: false, builtin: true, deleted: false, merged_into: null }
const food: Category = { ...other, id: 'c-food', name: 'Groceries', icon: '🛒', builtin: false }
const salary: Category = { ...other, id: 'c-salary', name: 'Salary', kind: 'income', icon: '💼' }

const sniff: CsvSniff = {
  encoding: 'utf-8',
  delimiter: ',',
  headers: ['Date', 'Payee', 'Amount', 'Memo'],
  rows: [
    ['2024-03-01', 'Employer', '2500.00', 'March'],
    ['2024-03-02', 'Market', '-40.10', ''],
  ],
  mapping: {
    encoding: 'utf-8',
    delimiter: ',',
    header: true,
    skip_rows: 0,
    date_column: 'Date',
    date_format: '%Y-%m-%d',
    decimal_separator: '.',
    amount: { type: 'signed', column: 'Amount', negative_is_expense: true },
    description_column: 'Payee',
    notes_column: 'Memo',
    currency_column: null,
    category_column: null,
    id_column: null,
  },
}

function row(line: number, extra: Partial<PreviewRow>): PreviewRow {
  return {
    line,
    id: `id-${line}`,
    date: '2024-03-02',
    kind: 'expense',
    amount: '40.10',
    currency: 'EUR',
    description: `Row ${line}`,
    notes: '',
    category_id: other.id,
    category_source: 'default',
    duplicate: null,
    included: true,
    ...extra,
  }
}

const rows = [
  row(2, { kind: 'income', amount: '2500.00', description: 'Employer', category_id: salary.id, category_source: 'payee', date: '2024-03-01' }),
  row(3, { description: 'Market' }),
  row(4, { description: 'Typed in', duplicate: { id: 'd', date: '2024-03-02', description: 'Market stall', exact: false }, included: false }),
  row(5, { description: 'Old', duplicate: { id: 'e', date: '2024-03-03', description: 'Old', exact: true }, included: false }),
]

function previewOf(options: ImportOptions): ImportPreview {
  const skip = new Set(options.skip_lines ?? [])
  return { file: 'bank.csv', format: 'csv', rows, new: 2 - [...skip].filter((l) => l <= 3).length, duplicates: 2, skipped: 1 + skip.size }
}

const Stub = defineComponent({ template: '<div />' })

async function mountPage(backend: Backend) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/import', name: 'import', component: ImportPage },
      { path: '/transactions', name: 'transactions', component: Stub },
      { path: '/reports', name: 'reports', component: Stub },
    ],
  })
  await router.push('/import')
  await router.isReady()
  const wrapper = mount(ImportPage, {
    attachTo: document.body,
    global: { plugins: [i18n, router, { install: (app) => provideBackend(app, backend) }] },
  })
  await flushPromises()
  return { wrapper, router }
}

const text = () => document.body.textContent ?? ''
const q = <T extends Element = HTMLElement>(s: string) => document.body.querySelector<T>(s)!
const count = (what: string) => q(`[data-testid="count-${what}"] dd`).textContent

async function pickFile(): Promise<void> {
  const input = q<HTMLInputElement>('#statement-file')
  const file = new File(['Date,Payee,Amount,Memo\n'], 'bank.csv', { type: 'text/csv' })
  Object.defineProperty(input, 'files', { value: [file], configurable: true })
  input.dispatchEvent(new Event('change'))
  await flushPromises()
}

async function click(selector: string): Promise<void> {
  q(selector).click()
  await flushPromises()
}

async function change(el: HTMLInputElement | HTMLSelectElement, value: string | boolean): Promise<void> {
  if (typeof value === 'boolean') (el as HTMLInputElement).checked = value
  else el.value = value
  el.dispatchEvent(new Event('input'))
  el.dispatchEvent(new Event('change'))
  await flushPromises()
}

const inspection: Inspection = { file: 'bank.csv', format: 'csv', csv: sniff }

beforeEach(() => {
  document.body.innerHTML = ''
  setActivePinia(createPinia())
  const ledger = useLedger()
  ledger.categories = [other, food, salary]
  ledger.paymentMethods = [
    { id: 'pm-card', name: 'Card', archived: false, builtin: true },
    { id: 'pm-other', name: 'Other', archived: false, builtin: true },
  ]
  ledger.settings = { base_currency: 'EUR' }
  useSession().profile = { id: 'u', email: 'a@b.c', display_name: 'A', base_currency: 'EUR', locale: 'en-US', created_at: '2024-01-01T00:00:00Z' }
})

describe('ImportPage', () => {
  it('reads a CSV with the guessed columns, previews, and imports what is ticked', async () => {
    const chooseStatement = vi.fn().mockResolvedValue({ file: { name: 'bank.csv', content: 'eA==' }, inspection })
    const previewStatement = vi.fn((_f, o: ImportOptions) => Promise.resolve(previewOf(o)))
    const importStatement = vi.fn().mockResolvedValue({ added: 2, duplicates: 1, skipped: 2 })
    const { router } = await mountPage(fakeBackend({ nativeFiles: false, chooseStatement, previewStatement, importStatement, categories: () => Promise.resolve([other, food, salary]), paymentMethods: () => Promise.resolve([]), settings: () => Promise.resolve({ base_currency: 'EUR' }), tags: () => Promise.resolve([]) }))

    await pickFile()
    expect(chooseStatement).toHaveBeenCalledWith(expect.any(File))
    // The columns step: the guess is in the selects.
    expect(text()).toContain('Match the columns')
    expect(q<HTMLSelectElement>('#map-date').value).toBe('0')
    expect(q<HTMLSelectElement>('#map-amount').value).toBe('2')
    expect(q<HTMLSelectElement>('#map-description').selectedOptions[0]!.textContent).toContain('Payee')
    expect(q<HTMLSelectElement>('#map-date-format').value).toBe('%Y-%m-%d')

    await click('[data-testid="import-continue"]')
    expect(previewStatement).toHaveBeenCalledTimes(1)
    expect(previewStatement.mock.calls[0]![1]).toEqual({ format: 'csv', mapping: { ...sniff.mapping, delimiter: ',' } })
    expect(text()).toContain('Review the transactions')
    expect([count('new'), count('duplicates'), count('skipped')]).toEqual(['2', '2', '1'])
    expect(text()).toContain('Looks like Mar 2, 2024 Market stall')
    expect(text()).toContain('Already imported')
    expect(text()).toContain('As before for this payee')

    // Ticks: the exact duplicate cannot be ticked; the likely one can; a new row can be left out.
    const boxes = [...document.querySelectorAll<HTMLInputElement>('[data-testid="import-row"] input[type="checkbox"]')]
    expect(boxes.map((b) => [b.checked, b.disabled])).toEqual([
      [true, false],
      [true, false],
      [false, false],
      [false, true],
    ])
    await change(boxes[1]!, false)
    await change(boxes[2]!, true)
    expect([count('new'), count('duplicates'), count('skipped')]).toEqual(['2', '1', '2'])
    // Another category for the likely duplicate.
    await change(q<HTMLSelectElement>('#imp-cat-4'), food.id)
    // Options for every row run the preview again, with the row choices.
    await change(q<HTMLSelectElement>('#imp-method'), 'pm-card')
    expect(q<HTMLSelectElement>('#imp-method').textContent).not.toMatch(/Other.*Other/s)
    expect(previewStatement).toHaveBeenCalledTimes(2)
    expect(previewStatement.mock.calls[1]![1]).toMatchObject({ payment_method: 'pm-card', skip_lines: [3], include_duplicates: [4], categories: { '4': food.id } })

    await click('[data-testid="import-run"]')
    expect(importStatement).toHaveBeenCalledWith(
      { name: 'bank.csv', content: 'eA==' },
      expect.objectContaining({ format: 'csv', payment_method: 'pm-card', skip_lines: [3], include_duplicates: [4], categories: { '4': food.id } }),
    )
    expect(q('[data-testid="import-outcome"]').textContent).toContain('Added 2 transactions; 1 already there; 2 skipped.')
    expect(useLedger().revision).toBe(1)
    const report = q<HTMLAnchorElement>('[data-testid="import-report-link"]')
    expect(report.textContent).toContain('Report for March 2024')
    expect(report.getAttribute('href')).toBe('/reports?period=month&from=2024-03-01')
    expect(router.currentRoute.value.name).toBe('import')
  })

  it('asks for the columns it could not guess before reading the file', async () => {
    const previewStatement = vi.fn()
    await mountPage(
      fakeBackend({
        nativeFiles: false,
        chooseStatement: vi.fn().mockResolvedValue({ file: { name: 'bank.csv', content: 'eA==' }, inspection: { ...inspection, csv: { ...sniff, mapping: null } } }),
        previewStatement,
      }),
    )
    await pickFile()
    expect(text()).toContain('The columns could not be told apart')
    await click('[data-testid="import-continue"]')
    expect(previewStatement).not.toHaveBeenCalled()
    expect(text()).toContain('Choose the column with the date.')
    expect(text()).toContain('Choose the column with the amount.')
    expect(q('#map-date').getAttribute('aria-invalid')).toBe('true')
    expect(document.activeElement?.id).toBe('map-date')
  })

  it('shows an error beside the columns, keeps them, and reads again', async () => {
    const error = new ApiError('invalid', 'bank.csv, line 14, column 1: "31/02/2024" is not a date in the format DD/MM/YYYY', 422)
    const previewStatement = vi.fn().mockRejectedValueOnce(error).mockImplementation((_f, o: ImportOptions) => Promise.resolve(previewOf(o)))
    await mountPage(fakeBackend({ nativeFiles: false, chooseStatement: vi.fn().mockResolvedValue({ file: { name: 'bank.csv', content: 'eA==' }, inspection }), previewStatement }))
    await pickFile()
    await change(q<HTMLSelectElement>('#map-date-format'), '%d/%m/%Y')
    await click('[data-testid="import-continue"]')
    const alert = q('[data-testid="import-columns-error"]')
    expect(alert.getAttribute('role')).toBe('alert')
    expect(alert.textContent).toContain('bank.csv, line 14, column 1')
    expect(q<HTMLSelectElement>('#map-date-format').value).toBe('%d/%m/%Y')
    await click('[data-testid="import-continue"]')
    expect(previewStatement.mock.calls[1]![1].mapping.date_format).toBe('%d/%m/%Y')
    expect(text()).toContain('Review the transactions')
  })

  it('keeps every choice when the import fails, and imports on retry', async () => {
    const importStatement = vi
      .fn()
      .mockRejectedValueOnce(new ApiError('invalid', 'bank.csv, line 3: amount: too large', 422))
      .mockResolvedValue({ added: 1, duplicates: 2, skipped: 1 })
    await mountPage(
      fakeBackend({
        nativeFiles: false,
        chooseStatement: vi.fn().mockResolvedValue({ file: { name: 'bank.csv', content: 'eA==' }, inspection }),
        previewStatement: vi.fn((_f, o: ImportOptions) => Promise.resolve(previewOf(o))),
        importStatement,
        categories: () => Promise.resolve([other, food, salary]),
        paymentMethods: () => Promise.resolve([]),
        settings: () => Promise.resolve({ base_currency: 'EUR' }),
        tags: () => Promise.resolve([]),
      }),
    )
    await pickFile()
    await click('[data-testid="import-continue"]')
    const tags = q<HTMLInputElement>('#imp-tags')
    await change(tags, 'march')
    await change(document.querySelectorAll<HTMLInputElement>('[data-testid="import-row"] input[type="checkbox"]')[0]!, false)
    await click('[data-testid="import-run"]')
    const alert = q('[data-testid="import-review-error"]')
    expect(alert.textContent).toContain('Nothing was imported.')
    expect(alert.textContent).toContain('bank.csv, line 3: amount: too large')
    expect(q('tr[data-line="3"]').classList.contains('bad')).toBe(true)
    expect(q<HTMLInputElement>('#imp-tags').value).toBe('march')
    expect(document.querySelectorAll<HTMLInputElement>('[data-testid="import-row"] input[type="checkbox"]')[0]!.checked).toBe(false)
    await click('[data-testid="import-review-error"] button')
    expect(importStatement).toHaveBeenCalledTimes(2)
    expect(importStatement.mock.calls[1]![1]).toMatchObject({ tags: ['march'], skip_lines: [2] })
    expect(text()).toContain('Added 1 transaction; 2 already there; 1 skipped.')
  })

  it('shows a large file 200 rows at a time', async () => {
    const many = Array.from({ length: 450 }, (_, i) => row(i + 2, { description: `Shop ${i}` }))
    await mountPage(
      fakeBackend({
        nativeFiles: false,
        chooseStatement: vi.fn().mockResolvedValue({ file: { name: 'big.qif', content: 'eA==' }, inspection: { file: 'big.qif', format: 'qif', csv: null } }),
        previewStatement: vi.fn().mockResolvedValue({ file: 'big.qif', format: 'qif', rows: many, new: 450, duplicates: 0, skipped: 0 }),
      }),
    )
    await pickFile()
    expect(document.querySelectorAll('[data-testid="import-row"]').length).toBe(200)
    expect(text()).toContain('Showing 200 of 450 rows.')
    await click('.more button')
    expect(document.querySelectorAll('[data-testid="import-row"]').length).toBe(400)
    await click('.more button')
    expect(document.querySelectorAll('[data-testid="import-row"]').length).toBe(450)
    expect(document.querySelector('.more button')).toBeNull()
    expect(count('new')).toBe('450')
  })

  it('on a device, opens the system dialog and shows the progress it reports', async () => {
    let finish: (v: unknown) => void = () => undefined
    const chooseStatement = vi.fn().mockResolvedValue({ file: { name: 'bank.ofx' }, inspection: { file: 'bank.ofx', format: 'ofx', csv: null } })
    const importStatement = vi.fn(() => new Promise((ok) => (finish = ok)))
    await mountPage(
      fakeBackend({
        nativeFiles: true,
        chooseStatement,
        previewStatement: vi.fn().mockResolvedValue({ ...previewOf({}), format: 'ofx', file: 'bank.ofx' }),
        importStatement: importStatement as Backend['importStatement'],
        categories: () => Promise.resolve([other, food, salary]),
        paymentMethods: () => Promise.resolve([]),
        settings: () => Promise.resolve({ base_currency: 'EUR' }),
        tags: () => Promise.resolve([]),
      }),
    )
    expect(document.querySelector('#statement-file')).toBeNull()
    await click('[data-testid="statement-choose"]')
    expect(chooseStatement).toHaveBeenCalledWith(undefined)
    // OFX has no columns step.
    expect(text()).toContain('Review the transactions')
    expect([...document.querySelectorAll('[data-testid="import-steps"] li')].map((li) => li.textContent?.trim())).toEqual(['File(done)', '2Review', '3Import'])
    await click('[data-testid="import-run"]')
    useImporting().report(500, 2000)
    await flushPromises()
    const bar = q<HTMLProgressElement>('progress')
    expect(bar.value).toBe(500)
    expect(bar.max).toBe(2000)
    expect(text()).toContain('500 of 2000')
    finish({ added: 2, duplicates: 0, skipped: 0 })
    await flushPromises()
    expect(text()).toContain('Added 2 transactions.')
  })
})
