//! A recurring transaction's schedule in words: "Every 2 weeks on Monday", "Monthly on day 31",
//! "Yearly on 29 Feb", and how the series ends. Days and months come from the start date when
//! the rule leaves them open; names of days and months are the locale's own (Intl).
import type { RecurringRule } from '../api'
import { parseDay } from './dates'

/** vue-i18n's `t(key, named, plural)`. */
export type Translate = (key: string, named: Record<string, unknown>, plural: number) => string

export type Schedule = Pick<RecurringRule, 'frequency' | 'interval' | 'day' | 'month' | 'start'>

export function scheduleInWords(rule: Schedule, t: Translate, locale: string): string {
  const n = Math.max(1, rule.interval || 1)
  const start = parseDay(rule.start)
  switch (rule.frequency) {
    case 'daily':
      return t('schedule.daily', { n }, n)
    case 'weekly':
      return t('schedule.weekly', { n, weekday: new Intl.DateTimeFormat(locale, { weekday: 'long' }).format(start) }, n)
    case 'monthly':
      return t('schedule.monthly', { n, day: rule.day ?? start.getDate() }, n)
    case 'yearly': {
      const month = rule.month ?? start.getMonth() + 1
      const day = rule.day ?? start.getDate()
      // A leap year, so 29 February has a name.
      const date = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' }).format(new Date(2000, month - 1, day, 12))
      return t('schedule.yearly', { n, date }, n)
    }
  }
}

/** How the series ends, or '' when it goes on: "until 31 Dec 2026", "12 times". */
export function seriesEnd(rule: Pick<RecurringRule, 'end' | 'count'>, t: Translate, day: (iso: string) => string): string {
  if (rule.end) return t('schedule.until', { date: day(rule.end) }, 1)
  if (rule.count) return t('schedule.times', { n: rule.count }, rule.count)
  return ''
}
