//! What a period report's figures mean on screen: whether a change against the period before
//! is good or bad news, how wide a breakdown's bars are, how much of the transaction list is
//! shown, and which paper a PDF is printed on by default. Amounts and percentages stay exact
//! decimal strings; only the bars' widths become numbers.
import type { ReportLine } from '../api/types'
import { absDecimal, compareDecimal } from './money'

/** The report shows this many transactions; the CSV has them all. */
export const SHOWN_TRANSACTIONS = 100

export type Measure = 'income' | 'expense' | 'net'

export interface Change {
  direction: 'up' | 'down' | 'same'
  /** More income or net is good; more expenses is bad. */
  tone: 'good' | 'bad' | 'neutral'
  /** The change in percent, without its sign ("12.5"). */
  percent: string
}

/** A change against the previous period (a percent string, or null when that figure was zero). */
export function changeOf(measure: Measure, change: string | null | undefined): Change | null {
  if (change === null || change === undefined || change === '') return null
  const sign = compareDecimal(change, '0')
  if (sign === 0) return { direction: 'same', tone: 'neutral', percent: '0' }
  const direction = sign > 0 ? 'up' : 'down'
  const upIsGood = measure !== 'expense'
  const tone = (direction === 'up') === upIsGood ? 'good' : 'bad'
  return { direction, tone, percent: absDecimal(change) }
}

/** The bars' widths in percent of the largest line (chart geometry: the only place amounts become numbers). */
export function barWidths(lines: readonly Pick<ReportLine, 'total'>[]): number[] {
  const values = lines.map((l) => Math.abs(Number(l.total)) || 0)
  const max = Math.max(0, ...values)
  return values.map((v) => (max > 0 ? Math.max(v > 0 ? 1 : 0, Math.round((v / max) * 1000) / 10) : 0))
}

/** A breakdown's lines of one kind. */
export function linesOf(lines: readonly ReportLine[], kind: ReportLine['kind']): ReportLine[] {
  return lines.filter((l) => l.kind === kind)
}

/** Regions that print on US Letter; everyone else uses A4. */
const LETTER_REGIONS = new Set(['US', 'CA', 'MX', 'PH', 'CL', 'CO', 'VE', 'CR', 'GT', 'PA', 'SV', 'DO', 'PR', 'NI', 'BZ'])

/** The paper a locale's region prints on. */
export function defaultPaper(locale: string): 'a4' | 'letter' {
  try {
    const region = new Intl.Locale(locale).maximize().region ?? ''
    return LETTER_REGIONS.has(region) ? 'letter' : 'a4'
  } catch {
    return 'a4'
  }
}
