//! Formatting in the user's locale: money (exact, see lib/money.ts), percentages, days and times.
import { computed } from 'vue'
import { useSession } from '../stores/session'
import { formatMoney } from '../lib/money'
import { parseDay, shapeOf } from '../lib/dates'

export function useFormat() {
  const session = useSession()
  const locale = computed(() => session.locale)
  const dayFmt = computed(() => new Intl.DateTimeFormat(locale.value, { dateStyle: 'medium' }))
  const monthFmt = computed(() => new Intl.DateTimeFormat(locale.value, { month: 'short', year: '2-digit' }))
  const timeFmt = computed(() => new Intl.DateTimeFormat(locale.value, { dateStyle: 'medium', timeStyle: 'short' }))
  const monthYearFmt = computed(() => new Intl.DateTimeFormat(locale.value, { month: 'long', year: 'numeric' }))
  // Percentages arrive as decimal strings of percent ("24.0"): a unit, so nothing multiplies them.
  const percentFmt = computed(() => new Intl.NumberFormat(locale.value, { style: 'unit', unit: 'percent', maximumFractionDigits: 1 }))
  return {
    locale,
    money: (amount: string, currency: string, sign: 'auto' | 'always' | 'exceptZero' = 'auto') =>
      formatMoney(amount, currency, locale.value, sign),
    day: (iso: string) => dayFmt.value.format(parseDay(iso)),
    month: (ym: string) => monthFmt.value.format(parseDay(ym + '-01')),
    /** A `YYYY-MM` month in full: "March 2024". */
    monthLong: (ym: string) => monthYearFmt.value.format(parseDay(ym + '-01')),
    time: (iso: string) => timeFmt.value.format(new Date(iso)),
    percent: (p: string) => percentFmt.value.format(p as Intl.StringNumericLiteral),
    /** A range of days by its name: "March 2024", "Q1 2024", "2024", else its first and last day. */
    period: (from: string, to: string) => {
      const s = shapeOf(from, to)
      if (s.type === 'month') return monthYearFmt.value.format(new Date(s.year, s.month0, 1, 12))
      if (s.type === 'quarter') return `Q${s.quarter} ${s.year}`
      if (s.type === 'year') return String(s.year)
      return from === to ? dayFmt.value.format(parseDay(from)) : `${dayFmt.value.format(parseDay(from))} – ${dayFmt.value.format(parseDay(to))}`
    },
  }
}
