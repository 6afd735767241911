// Statement imports as the Import page builds them: the mapping form from the backend's
// guess and back, the choices per row and their counts, and the options sent.
import { describe, expect, it } from 'vitest'
import type { CsvSniff, ImportPreview, PreviewRow } from '../src/api/types'
import {
  buildOptions,
  canToggle,
  categoryOf,
  columnIndex,
  countRows,
  formFromSniff,
  isIncluded,
  mappingFromForm,
  missingRoles,
  noChoices,
  parseTags,
  periodOfRows,
  pruneChoices,
  readableDateFormat,
  setCategory,
  setIncluded,
  sharedColumns,
} from '../src/lib/statement'

const girokonto: CsvSniff = {
  encoding: 'windows-1252',
  delimiter: ';',
  headers: ['Buchungstag', 'Valuta', 'Auftraggeber/Empfänger', 'Buchungstext', 'Verwendungszweck', 'Betrag (EUR)', 'Saldo (EUR)'],
  rows: [['01.03.2024', '01.03.2024', 'Bäckerei Schröder GmbH', 'Gutschrift', 'Lohn/Gehalt 03/2024', '2.850,00', '4.912,16']],
  mapping: {
    encoding: 'windows-1252',
    delimiter: ';',
    header: true,
    skip_rows: 4,
    date_column: 'Buchungstag',
    date_format: '%d.%m.%Y',
    decimal_separator: ',',
    amount: { type: 'signed', column: 'Betrag (EUR)', negative_is_expense: true },
    description_column: 'Auftraggeber/Empfänger',
    notes_column: 'Verwendungszweck',
    currency_column: null,
    category_column: null,
    id_column: null,
  },
}

describe('the mapping form', () => {
  it('is prefilled from the guess, its named columns as positions', () => {
    const form = formFromSniff(girokonto)
    expect(form).toMatchObject({
      encoding: 'windows-1252',
      delimiter: ';',
      header: true,
      skipRows: 4,
      date: 0,
      dateFormat: '%d.%m.%Y',
      decimal: ',',
      amountType: 'signed',
      amount: 5,
      expensesPositive: false,
      description: 2,
      notes: 4,
      currency: null,
      category: null,
    })
    expect(missingRoles(form)).toEqual([])
  })

  it('finds columns by name without regard to case or spaces, and by position', () => {
    expect(columnIndex(' betrag (eur) ', girokonto.headers)).toBe(5)
    expect(columnIndex(3, girokonto.headers)).toBe(3)
    expect(columnIndex('Nope', girokonto.headers)).toBeNull()
    expect(columnIndex(null, girokonto.headers)).toBeNull()
  })

  it('starts empty when nothing was guessed, and says what is missing', () => {
    const form = formFromSniff({ encoding: 'utf-8', delimiter: ',', headers: ['Column 1', 'Column 2', 'Column 3'], rows: [], mapping: null })
    expect(form.header).toBe(false)
    expect(form.dateFormat).toBe('auto')
    expect(missingRoles(form)).toEqual(['date', 'amount', 'description'])
    form.amountType = 'debit_credit'
    form.date = 0
    form.debit = 1
    expect(missingRoles(form)).toEqual(['credit', 'description'])
    const named = formFromSniff({ encoding: 'utf-8', delimiter: ',', headers: ['When', 'What'], rows: [], mapping: null })
    expect(named.header).toBe(true)
  })

  it('refuses one column for two roles', () => {
    const form = formFromSniff(girokonto)
    form.notes = 2
    expect(sharedColumns(form)).toEqual(['notes'])
  })

  it('gives the mapping back with header names, or positions where names are missing or repeated', () => {
    const form = formFromSniff(girokonto)
    form.expensesPositive = true
    form.category = 3
    expect(mappingFromForm(form, girokonto.headers)).toEqual({
      encoding: 'windows-1252',
      delimiter: ';',
      header: true,
      skip_rows: 4,
      date_column: 'Buchungstag',
      date_format: '%d.%m.%Y',
      decimal_separator: ',',
      amount: { type: 'signed', column: 'Betrag (EUR)', negative_is_expense: false },
      description_column: 'Auftraggeber/Empfänger',
      notes_column: 'Verwendungszweck',
      currency_column: null,
      category_column: 'Buchungstext',
      id_column: null,
    })
    const twice = ['Date', 'Amount', 'Amount', 'Text']
    const dc = { ...formFromSniff(girokonto), amountType: 'debit_credit' as const, date: 0, debit: 1, credit: 2, description: 3, notes: null }
    const m = mappingFromForm(dc, twice)
    expect(m.amount).toEqual({ type: 'debit_credit', debit: 1, credit: 2 })
    expect(m.date_column).toBe('Date')
    const noHeader = mappingFromForm({ ...dc, header: false }, twice)
    expect(noHeader.date_column).toBe(0)
    expect(noHeader.description_column).toBe(3)
  })

  it('names date formats as people read them', () => {
    expect(readableDateFormat('%d.%m.%Y')).toBe('DD.MM.YYYY')
    expect(readableDateFormat('%m/%d/%y')).toBe('MM/DD/YY')
    expect(readableDateFormat('%d %b %Y')).toBe('DD Mon YYYY')
  })
})

function row(line: number, extra: Partial<PreviewRow> = {}): PreviewRow {
  return {
    line,
    id: `id-${line}`,
    date: '2024-03-0' + (line % 9 || 1),
    kind: 'expense',
    amount: '10.00',
    currency: 'EUR',
    description: `Row ${line}`,
    notes: '',
    category_id: 'other',
    category_source: 'default',
    duplicate: null,
    included: true,
    ...extra,
  }
}

const exact = { id: 'x', date: '2024-03-01', description: 'Before', exact: true }
const likely = { id: 'y', date: '2024-03-02', description: 'Typed in', exact: false }

describe('choices per row', () => {
  const rows = [row(6), row(7, { duplicate: exact, included: false }), row(8, { duplicate: likely, included: false }), row(9)]
  const preview: ImportPreview = { file: 'a.csv', format: 'csv', rows, new: 2, duplicates: 2, skipped: 1 }

  it('imports new rows, never exact duplicates, and likely ones only when ticked', () => {
    const c = noChoices()
    expect(rows.map((r) => isIncluded(r, c))).toEqual([true, false, false, true])
    expect(canToggle(rows[1]!)).toBe(false)
    setIncluded(rows[1]!, c, true)
    expect(isIncluded(rows[1]!, c)).toBe(false)
    setIncluded(rows[2]!, c, true)
    setIncluded(rows[0]!, c, false)
    expect([...c.include]).toEqual([8])
    expect([...c.skip]).toEqual([6])
    expect(rows.map((r) => isIncluded(r, c))).toEqual([false, false, true, true])
    setIncluded(rows[0]!, c, true)
    setIncluded(rows[2]!, c, false)
    expect(c.skip.size + c.include.size).toBe(0)
  })

  it('counts what the import would do, the file’s own skipped rows included', () => {
    const c = noChoices()
    expect(countRows(preview, c, new Set())).toEqual({ new: 2, duplicates: 2, skipped: 1 })
    setIncluded(rows[0]!, c, false)
    setIncluded(rows[2]!, c, true)
    expect(countRows(preview, c, new Set())).toEqual({ new: 2, duplicates: 1, skipped: 2 })
    // A preview made with line 6 skipped already counts it: it is not counted twice.
    const again: ImportPreview = { ...preview, skipped: 2 }
    expect(countRows(again, c, new Set([6]))).toEqual({ new: 2, duplicates: 1, skipped: 2 })
  })

  it('remembers another category, and forgets it when the suggestion is chosen again', () => {
    const c = noChoices()
    setCategory(rows[0]!, c, 'food', rows[0]!.category_id)
    expect(categoryOf(rows[0]!, c)).toBe('food')
    setCategory(rows[0]!, c, 'other', rows[0]!.category_id)
    expect(c.categories.size).toBe(0)
  })

  it('drops choices about lines the file no longer has', () => {
    const c = noChoices()
    c.skip.add(6).add(40)
    c.include.add(41)
    c.categories.set(42, 'food').set(9, 'food')
    pruneChoices(c, rows)
    expect([...c.skip]).toEqual([6])
    expect(c.include.size).toBe(0)
    expect([...c.categories.keys()]).toEqual([9])
  })

  it('builds the options: only what is chosen, lines in order', () => {
    const c = noChoices()
    c.skip.add(9).add(6)
    c.include.add(8)
    c.categories.set(9, 'food').set(6, 'rent')
    const mapping = mappingFromForm(formFromSniff(girokonto), girokonto.headers)
    expect(
      buildOptions({ format: 'csv', mapping, common: { currency: 'CHF', paymentMethod: 'pm-card', tags: ' #bank, march ,bank' }, choices: c }),
    ).toEqual({
      format: 'csv',
      mapping,
      currency: 'CHF',
      payment_method: 'pm-card',
      tags: ['bank', 'march'],
      categories: { '6': 'rent', '9': 'food' },
      skip_lines: [6, 9],
      include_duplicates: [8],
    })
    expect(buildOptions({ format: 'ofx', mapping, common: { currency: '', paymentMethod: '', tags: '' }, choices: noChoices() })).toEqual({ format: 'ofx' })
  })

  it('reads tags as typed', () => {
    expect(parseTags('')).toEqual([])
    expect(parseTags('a, ,b,A')).toEqual(['a', 'b'])
  })
})

describe('the report period after an import', () => {
  it('is the month of the rows, else their first to last day', () => {
    expect(periodOfRows([{ date: '2024-03-28' }, { date: '2024-03-01' }])).toEqual({ kind: 'month', from: '2024-03-01', to: '2024-03-31' })
    expect(periodOfRows([{ date: '2024-02-10' }])).toEqual({ kind: 'month', from: '2024-02-01', to: '2024-02-29' })
    expect(periodOfRows([{ date: '2024-03-28' }, { date: '2023-12-30' }])).toEqual({ kind: 'custom', from: '2023-12-30', to: '2024-03-28' })
    expect(periodOfRows([])).toBeNull()
  })
})
