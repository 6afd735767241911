//! What a budget's figures mean for the screen: the colour of its progress, the width of its
//! bar, its projection, which period it is, and the alert thresholds as typed. Amounts and
//! percentages stay exact decimal strings; only the bar's width becomes a number.
import type { Alert, BudgetStatus } from '../api'
import { absDecimal, compareDecimal, isNegative, subtractDecimal } from './money'
import { lastDayOfMonth, parseDay } from './dates'

/** `ok`: below the first threshold; `warn`: from there to the limit; `over`: the limit reached. */
export type Tone = 'ok' | 'warn' | 'over'

/**
 * The progress colour: green below the first threshold, amber from it up to 100 %, red from
 * 100 % on (or whenever nothing remains of a limit that carried an overspending).
 */
export function budgetTone(percent: string, thresholds: readonly number[], remaining?: string): Tone {
  if (compareDecimal(percent, '100') >= 0 || (remaining !== undefined && isNegative(remaining))) return 'over'
  const first = thresholds.length ? Math.min(...thresholds) : undefined
  if (first !== undefined && first < 100 && compareDecimal(percent, String(first)) >= 0) return 'warn'
  return 'ok'
}

/** The bar's width: the share of the limit used, 0 to 100 % (a full bar beyond it). */
export function barWidth(percent: string): string {
  const p = Number(percent)
  if (!Number.isFinite(p) || p <= 0) return '0%'
  return `${Math.min(100, Math.round(p * 10) / 10)}%`
}

/** Whether the period is over, the current one, or still to come, seen from `today`. */
export function periodWhen(status: Pick<BudgetStatus, 'period_start' | 'period_end'>, today: string): 'past' | 'current' | 'future' {
  if (status.period_end < today) return 'past'
  if (status.period_start > today) return 'future'
  return 'current'
}

/**
 * By how much the spending goes past the limit: projected to the period's end for the current
 * period, as spent for a past one. Null when it stays within the limit.
 */
export function overspend(status: Pick<BudgetStatus, 'projected' | 'spent' | 'limit'>, when: 'past' | 'current' | 'future'): string | null {
  const basis = when === 'past' ? status.spent : status.projected
  return compareDecimal(basis, status.limit) > 0 ? subtractDecimal(basis, status.limit) : null
}

/** What is left, or by how much the limit is exceeded (always without a sign). */
export function leftOrOver(remaining: string): { over: boolean; amount: string } {
  return { over: isNegative(remaining), amount: absDecimal(remaining) }
}

export type ThresholdCheck = { ok: true; value: number[] } | { ok: false; error: 'required' | 'format' | 'range' }

/** Reads thresholds typed as a comma list ("80, 100"): whole percentages 1 to 1000, ascending without repeats. */
export function parseThresholds(text: string): ThresholdCheck {
  const parts = text
    .split(/[,;\s]+/)
    .map((s) => s.trim().replace(/%$/, ''))
    .filter((s) => s.length > 0)
  if (parts.length === 0) return { ok: false, error: 'required' }
  if (!parts.every((s) => /^\d+$/.test(s))) return { ok: false, error: 'format' }
  const values = parts.map(Number)
  if (values.some((v) => v < 1 || v > 1000)) return { ok: false, error: 'range' }
  return { ok: true, value: [...new Set(values)].sort((a, b) => a - b) }
}

/** Whether a period (first and last day) is a year rather than a month. */
export function isYearLong(start: string, end: string): boolean {
  return (parseDay(end).getTime() - parseDay(start).getTime()) / 86_400_000 > 31
}

/** A period in words: "November 2026", "2026", or its first and last day when it is not a calendar month or year. */
export function periodLabel(start: string, end: string, locale: string, day: (iso: string) => string): string {
  const s = parseDay(start)
  const e = parseDay(end)
  if (s.getDate() === 1 && s.getFullYear() === e.getFullYear()) {
    if (s.getMonth() === e.getMonth() && e.getDate() === lastDayOfMonth(e.getFullYear(), e.getMonth())) {
      return new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric' }).format(s)
    }
    if (s.getMonth() === 0 && e.getMonth() === 11 && e.getDate() === 31) return String(s.getFullYear())
  }
  return `${day(start)} – ${day(end)}`
}

/** The short form of a period for lists of past periods: "Nov 26", "2026", or its first day. */
export function periodShort(start: string, end: string, locale: string): string {
  const s = parseDay(start)
  if (s.getDate() === 1 && !isYearLong(start, end)) return new Intl.DateTimeFormat(locale, { month: 'short', year: 'numeric' }).format(s)
  if (s.getDate() === 1 && s.getMonth() === 0 && isYearLong(start, end)) return String(s.getFullYear())
  return new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric' }).format(s)
}

type Translate = (key: string, named: Record<string, unknown>) => string

/** An alert in words: "Groceries: 80% of the monthly budget used (€410.00 of €500.00)". */
export function describeAlert(
  a: Alert,
  t: Translate,
  money: (amount: string, currency: string) => string,
  percent: (p: string) => string,
): string {
  return t('alerts.text', {
    name: a.budget_name,
    percent: percent(String(a.threshold)),
    period: t(isYearLong(a.period_start, a.period_end) ? 'alerts.annual' : 'alerts.monthly', {}),
    spent: money(a.spent, a.currency),
    limit: money(a.limit, a.currency),
  })
}
