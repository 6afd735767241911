//! Calendar days and periods as the API takes them (`YYYY-MM-DD`, `YYYY-MM`), computed on the
//! user's local calendar. `today` is passed in where a test needs a fixed day.

export type PeriodKind = 'month' | 'quarter' | 'year' | 'last30' | 'all' | 'custom'

export interface Period {
  kind: PeriodKind
  /** First and last day, inclusive; both absent for "all time". */
  from?: string
  to?: string
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

export function isoMonth(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`
}

/** A `YYYY-MM-DD` day as a local date (noon, so no daylight-saving change moves it). */
export function parseDay(day: string): Date {
  const [y, m, d] = day.split('-').map(Number)
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1, 12)
}

export function lastDayOfMonth(year: number, month0: number): number {
  return new Date(year, month0 + 1, 0).getDate()
}

/** The period of a kind that contains `today`. */
export function periodOf(kind: PeriodKind, today: Date = new Date()): Period {
  const y = today.getFullYear()
  const m = today.getMonth()
  switch (kind) {
    case 'month':
      return { kind, from: `${y}-${pad(m + 1)}-01`, to: `${y}-${pad(m + 1)}-${pad(lastDayOfMonth(y, m))}` }
    case 'quarter': {
      const first = m - (m % 3)
      return {
        kind,
        from: `${y}-${pad(first + 1)}-01`,
        to: `${y}-${pad(first + 3)}-${pad(lastDayOfMonth(y, first + 2))}`,
      }
    }
    case 'year':
      return { kind, from: `${y}-01-01`, to: `${y}-12-31` }
    case 'last30': {
      const start = new Date(y, m, today.getDate() - 29, 12)
      return { kind, from: isoDay(start), to: isoDay(today) }
    }
    case 'all':
      return { kind }
    case 'custom':
      return { kind, from: isoDay(today), to: isoDay(today) }
  }
}

/** The same kind of period just before (for "previous month" buttons). */
export function shiftPeriod(p: Period, steps: number): Period {
  if (!p.from || !p.to || p.kind === 'all') return p
  const from = parseDay(p.from)
  if (p.kind === 'month' || p.kind === 'quarter' || p.kind === 'year') {
    const months = p.kind === 'month' ? 1 : p.kind === 'quarter' ? 3 : 12
    const start = new Date(from.getFullYear(), from.getMonth() + steps * months, 1, 12)
    const end = new Date(start.getFullYear(), start.getMonth() + months, 0, 12)
    return { kind: p.kind, from: isoDay(start), to: isoDay(end) }
  }
  const to = parseDay(p.to)
  const days = Math.round((to.getTime() - from.getTime()) / 86_400_000) + 1
  const start = new Date(from.getFullYear(), from.getMonth(), from.getDate() + steps * days, 12)
  const end = new Date(to.getFullYear(), to.getMonth(), to.getDate() + steps * days, 12)
  return { kind: p.kind, from: isoDay(start), to: isoDay(end) }
}

/** The month a period ends in (or this month), for the trend chart. */
export function endMonth(p: Period, today: Date = new Date()): string {
  return p.to ? p.to.slice(0, 7) : isoMonth(today)
}

/** The kinds of period a report is of: whole calendar periods, or any days. */
export const REPORT_KINDS: readonly PeriodKind[] = ['month', 'quarter', 'year', 'custom']

/** Whether `day` is a real `YYYY-MM-DD` calendar day. */
export function isDay(day: unknown): day is string {
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return false
  return isoDay(parseDay(day)) === day
}

/**
 * A period from a page's address (`?period=quarter&from=2024-01-01&to=…`): a month, quarter or
 * year is the one that contains `from`; custom days need both ends in order. Null when the
 * address holds no such period (or one of a kind not in `kinds`).
 */
export function periodFromQuery(kind: unknown, from: unknown, to: unknown, kinds: readonly PeriodKind[] = REPORT_KINDS): Period | null {
  if (typeof kind !== 'string' || !kinds.includes(kind as PeriodKind) || !isDay(from)) return null
  const k = kind as PeriodKind
  if (k === 'month' || k === 'quarter' || k === 'year') return periodOf(k, parseDay(from))
  if (k === 'custom' && isDay(to) && from <= to) return { kind: k, from, to }
  return null
}

/** What a range of days is, for its name: a calendar month, quarter or year, or just days. */
export type PeriodShape =
  | { type: 'month'; year: number; month0: number }
  | { type: 'quarter'; year: number; quarter: number }
  | { type: 'year'; year: number }
  | { type: 'days' }

export function shapeOf(from: string, to: string): PeriodShape {
  const a = parseDay(from)
  const b = parseDay(to)
  const wholeMonths = a.getDate() === 1 && b.getDate() === lastDayOfMonth(b.getFullYear(), b.getMonth())
  if (!wholeMonths || a.getFullYear() !== b.getFullYear()) return { type: 'days' }
  const months = b.getMonth() - a.getMonth() + 1
  if (months === 1) return { type: 'month', year: a.getFullYear(), month0: a.getMonth() }
  if (months === 3 && a.getMonth() % 3 === 0) return { type: 'quarter', year: a.getFullYear(), quarter: a.getMonth() / 3 + 1 }
  if (months === 12) return { type: 'year', year: a.getFullYear() }
  return { type: 'days' }
}
