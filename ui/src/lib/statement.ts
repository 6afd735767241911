//! Bank statement imports as the Import page builds them: the CSV column mapping as a form
//! (prefilled from the backend's guess), the user's choices per row (skip, import a likely
//! duplicate anyway, another category), the counts those choices give, and the `ImportOptions`
//! all of it makes. No component state here: the page keeps it, these functions compute.
import type { CsvMapping, CsvSniff, FileFormat, ImportOptions, ImportPreview, PreviewRow } from '../api/types'
import { isoDay, lastDayOfMonth, parseDay, type Period } from './dates'

export type Encoding = CsvMapping['encoding']
type Column = CsvMapping['date_column']

export const ENCODINGS: readonly Encoding[] = ['auto', 'utf-8', 'utf-16le', 'utf-16be', 'windows-1252', 'latin1']
export const DELIMITERS: readonly string[] = [',', ';', '\t', '|']

/** The date formats offered besides "auto", as chrono formats with how they read. */
export const DATE_FORMATS: readonly { format: string; example: string }[] = [
  { format: '%d.%m.%Y', example: 'DD.MM.YYYY' },
  { format: '%d/%m/%Y', example: 'DD/MM/YYYY' },
  { format: '%d-%m-%Y', example: 'DD-MM-YYYY' },
  { format: '%m/%d/%Y', example: 'MM/DD/YYYY' },
  { format: '%m-%d-%Y', example: 'MM-DD-YYYY' },
  { format: '%Y-%m-%d', example: 'YYYY-MM-DD' },
  { format: '%Y/%m/%d', example: 'YYYY/MM/DD' },
  { format: '%d.%m.%y', example: 'DD.MM.YY' },
  { format: '%d/%m/%y', example: 'DD/MM/YY' },
  { format: '%m/%d/%y', example: 'MM/DD/YY' },
  { format: '%Y%m%d', example: 'YYYYMMDD' },
]

/** A chrono date format as people read it ("%d.%m.%Y" is "DD.MM.YYYY"). */
export function readableDateFormat(format: string): string {
  const known = DATE_FORMATS.find((d) => d.format === format)
  if (known) return known.example
  return format
    .replace(/%d|%e/g, 'DD')
    .replace(/%m/g, 'MM')
    .replace(/%Y/g, 'YYYY')
    .replace(/%y/g, 'YY')
    .replace(/%b/g, 'Mon')
    .replace(/%B/g, 'Month')
}

/** The mapping as the form edits it: columns are positions in the file's header row, or null for none. */
export interface MappingForm {
  encoding: Encoding
  delimiter: string
  header: boolean
  skipRows: number
  date: number | null
  dateFormat: string
  decimal: '.' | ','
  amountType: 'signed' | 'debit_credit'
  amount: number | null
  debit: number | null
  credit: number | null
  /** The file writes expenses as positive amounts (and income as negative). */
  expensesPositive: boolean
  description: number | null
  notes: number | null
  currency: number | null
  category: number | null
  /** The bank's own transaction id (not shown; kept from the guess so re-imports match). */
  id: number | null
}

/** The columns the form asks for, in the order it shows them. */
export type Role = 'date' | 'amount' | 'debit' | 'credit' | 'description' | 'notes' | 'currency' | 'category'

const key = (name: string) => name.trim().toLowerCase()

/** A column of the guess (a position or a header name) as a position among `headers`. */
export function columnIndex(column: Column | null | undefined, headers: readonly string[]): number | null {
  if (column === null || column === undefined) return null
  if (typeof column === 'number') return column >= 0 ? column : null
  const i = headers.findIndex((h) => key(h) === key(column))
  return i >= 0 ? i : null
}

/** Whether the sniffed headers are names from the file, not the "Column 1", "Column 2"… placeholders. */
function hasNamedHeaders(headers: readonly string[]): boolean {
  return headers.length > 0 && !headers.every((h, i) => h === `Column ${i + 1}`)
}

/** The form prefilled from what the backend saw and guessed (empty roles when it could not guess). */
export function formFromSniff(sniff: CsvSniff): MappingForm {
  const m = sniff.mapping ?? null
  const h = sniff.headers
  const at = (c: Column | null | undefined) => columnIndex(c, h)
  const amount = m?.amount
  return {
    encoding: m?.encoding && m.encoding !== 'auto' ? m.encoding : sniff.encoding,
    delimiter: m?.delimiter ?? sniff.delimiter,
    header: m ? m.header : hasNamedHeaders(h),
    skipRows: m?.skip_rows ?? 0,
    date: m ? at(m.date_column) : null,
    dateFormat: m?.date_format || 'auto',
    decimal: m?.decimal_separator === ',' ? ',' : '.',
    amountType: amount?.type ?? 'signed',
    amount: amount?.type === 'signed' ? at(amount.column) : null,
    debit: amount?.type === 'debit_credit' ? at(amount.debit) : null,
    credit: amount?.type === 'debit_credit' ? at(amount.credit) : null,
    expensesPositive: amount?.type === 'signed' ? amount.negative_is_expense === false : false,
    description: m ? at(m.description_column) : null,
    notes: m ? at(m.notes_column) : null,
    currency: m ? at(m.currency_column) : null,
    category: m ? at(m.category_column) : null,
    id: m ? at(m.id_column) : null,
  }
}

/** The roles the form still needs before the file can be read. */
export function missingRoles(form: MappingForm): Role[] {
  const missing: Role[] = []
  if (form.date === null) missing.push('date')
  if (form.amountType === 'signed') {
    if (form.amount === null) missing.push('amount')
  } else {
    if (form.debit === null) missing.push('debit')
    if (form.credit === null) missing.push('credit')
  }
  if (form.description === null) missing.push('description')
  return missing
}

/** Roles mapped to the same column, which would read one value twice. */
export function sharedColumns(form: MappingForm): Role[] {
  const used = new Map<number, Role>()
  const clash: Role[] = []
  const roles: [Role, number | null][] = [
    ['date', form.date],
    ['amount', form.amountType === 'signed' ? form.amount : null],
    ['debit', form.amountType === 'debit_credit' ? form.debit : null],
    ['credit', form.amountType === 'debit_credit' ? form.credit : null],
    ['description', form.description],
    ['notes', form.notes],
    ['currency', form.currency],
    ['category', form.category],
  ]
  for (const [role, column] of roles) {
    if (column === null) continue
    if (used.has(column)) clash.push(role)
    else used.set(column, role)
  }
  return clash
}

/**
 * The `CsvMapping` the backend reads the file with. Columns go by header name where the file
 * has named, unique headers (they survive a changed number of lines to skip), else by position.
 * Call it once `missingRoles` is empty.
 */
export function mappingFromForm(form: MappingForm, headers: readonly string[]): CsvMapping {
  const named = form.header && hasNamedHeaders(headers)
  const column = (i: number): Column => {
    const name = headers[i]
    if (named && name !== undefined && name.trim() !== '' && headers.filter((h) => key(h) === key(name)).length === 1) return name
    return i
  }
  const optional = (i: number | null): Column | null => (i === null ? null : column(i))
  const required = (i: number | null, role: Role): Column => {
    if (i === null) throw new Error(`the ${role} column is not chosen`)
    return column(i)
  }
  return {
    encoding: form.encoding,
    delimiter: form.delimiter,
    header: form.header,
    skip_rows: Math.max(0, Math.floor(form.skipRows) || 0),
    date_column: required(form.date, 'date'),
    date_format: form.dateFormat || 'auto',
    decimal_separator: form.decimal,
    amount:
      form.amountType === 'signed'
        ? { type: 'signed', column: required(form.amount, 'amount'), negative_is_expense: !form.expensesPositive }
        : { type: 'debit_credit', debit: required(form.debit, 'debit'), credit: required(form.credit, 'credit') },
    description_column: required(form.description, 'description'),
    notes_column: optional(form.notes),
    currency_column: optional(form.currency),
    category_column: optional(form.category),
    id_column: optional(form.id),
  }
}

// ---- the rows: what the user ticks, unticks and recategorizes ----

/** The user's choices per row, by the row's line in the file. */
export interface RowChoices {
  /** New rows left out. */
  skip: Set<number>
  /** Likely duplicates imported anyway. */
  include: Set<number>
  /** Another category than the suggestion. */
  categories: Map<number, string>
}

export function noChoices(): RowChoices {
  return { skip: new Set(), include: new Set(), categories: new Map() }
}

/** Whether the import writes the row, with the user's choices. Exact duplicates never. */
export function isIncluded(row: PreviewRow, choices: RowChoices): boolean {
  if (choices.skip.has(row.line)) return false
  if (!row.duplicate) return true
  return !row.duplicate.exact && choices.include.has(row.line)
}

/** Whether the user can change the row's tick (an exact duplicate is already in the ledger). */
export function canToggle(row: PreviewRow): boolean {
  return !row.duplicate?.exact
}

/** Ticks or unticks a row: a new row goes in or out of `skip`, a likely duplicate in or out of `include`. */
export function setIncluded(row: PreviewRow, choices: RowChoices, included: boolean): void {
  if (!canToggle(row)) return
  if (row.duplicate) {
    choices.skip.delete(row.line)
    if (included) choices.include.add(row.line)
    else choices.include.delete(row.line)
  } else if (included) choices.skip.delete(row.line)
  else choices.skip.add(row.line)
}

/** A row's category: the one the user chose, else the preview's suggestion. */
export function categoryOf(row: PreviewRow, choices: RowChoices): string {
  return choices.categories.get(row.line) ?? row.category_id
}

/** Chooses a category for a row (choosing the suggestion again forgets the choice). */
export function setCategory(row: PreviewRow, choices: RowChoices, categoryId: string, suggested: string): void {
  if (categoryId === suggested && row.category_source !== 'chosen') choices.categories.delete(row.line)
  else choices.categories.set(row.line, categoryId)
}

/** Drops choices about lines the file (as now read) does not have. */
export function pruneChoices(choices: RowChoices, rows: readonly PreviewRow[]): void {
  const lines = new Set(rows.map((r) => r.line))
  for (const set of [choices.skip, choices.include]) for (const line of [...set]) if (!lines.has(line)) set.delete(line)
  for (const line of [...choices.categories.keys()]) if (!lines.has(line)) choices.categories.delete(line)
}

export interface Counts {
  /** Rows the import writes. */
  new: number
  /** Rows already in the ledger, or looking like a transaction there, left out. */
  duplicates: number
  /** Rows with nothing to book (zero amounts) and rows the user left out. */
  skipped: number
}

/**
 * What the import would do with the choices as they are now, from a preview computed with the
 * choices `sent` (the file's own skipped rows are the preview's skipped minus the lines it was
 * asked to skip).
 */
export function countRows(preview: ImportPreview, choices: RowChoices, sent: ReadonlySet<number>): Counts {
  let fileSkipped = preview.skipped
  for (const r of preview.rows) if (sent.has(r.line)) fileSkipped--
  const counts: Counts = { new: 0, duplicates: 0, skipped: Math.max(0, fileSkipped) }
  for (const r of preview.rows) {
    if (choices.skip.has(r.line)) counts.skipped++
    else if (isIncluded(r, choices)) counts.new++
    else counts.duplicates++
  }
  return counts
}

/** What applies to every row. */
export interface CommonOptions {
  /** For rows the file gives no currency for; empty: the file's, else the base currency. */
  currency: string
  /** A payment method's id; empty: "Other". */
  paymentMethod: string
  /** Tags, as typed (separated by commas). */
  tags: string
}

/** Tags as typed, separated by commas, without `#`, blanks and repeats. */
export function parseTags(text: string): string[] {
  const out: string[] = []
  for (const part of text.split(',')) {
    const tag = part.trim().replace(/^#+/, '').trim()
    if (tag && !out.some((t) => t.toLowerCase() === tag.toLowerCase())) out.push(tag)
  }
  return out
}

/** The options the preview and the import take. */
export function buildOptions(input: {
  format: FileFormat
  mapping?: CsvMapping | null
  common: CommonOptions
  choices: RowChoices
}): ImportOptions {
  const { format, mapping, common, choices } = input
  const options: ImportOptions = { format }
  if (format === 'csv' && mapping) options.mapping = mapping
  if (common.currency) options.currency = common.currency
  if (common.paymentMethod) options.payment_method = common.paymentMethod
  const tags = parseTags(common.tags)
  if (tags.length) options.tags = tags
  if (choices.categories.size) {
    options.categories = Object.fromEntries([...choices.categories].sort((a, b) => a[0] - b[0]).map(([line, id]) => [String(line), id]))
  }
  if (choices.skip.size) options.skip_lines = [...choices.skip].sort((a, b) => a - b)
  if (choices.include.size) options.include_duplicates = [...choices.include].sort((a, b) => a - b)
  return options
}

/**
 * The report period to look at after an import: the month of the rows when they fall in one
 * month, else the days from the first to the last. Null for a file with no rows.
 */
export function periodOfRows(rows: readonly { date: string }[]): Period | null {
  if (rows.length === 0) return null
  let first = rows[0]!.date
  let last = first
  for (const r of rows) {
    if (r.date < first) first = r.date
    if (r.date > last) last = r.date
  }
  if (first.slice(0, 7) === last.slice(0, 7)) {
    const d = parseDay(first)
    const end = new Date(d.getFullYear(), d.getMonth(), lastDayOfMonth(d.getFullYear(), d.getMonth()), 12)
    return { kind: 'month', from: first.slice(0, 8) + '01', to: isoDay(end) }
  }
  return { kind: 'custom', from: first, to: last }
}
