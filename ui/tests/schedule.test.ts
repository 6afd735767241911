// Schedules in words, in the locale's own names of days and months.
import { describe, expect, it } from 'vitest'
import { i18n } from '../src/i18n'
import { scheduleInWords, seriesEnd, type Schedule } from '../src/lib/schedule'

const t = (key: string, named: Record<string, unknown>, plural: number) => i18n.global.t(key, named, plural)
const words = (s: Partial<Schedule>, locale = 'en-GB') =>
  scheduleInWords({ frequency: 'monthly', interval: 1, day: null, month: null, start: '2026-01-05', ...s }, t, locale)

describe('scheduleInWords', () => {
  it('says daily and weekly schedules, the weekday from the start', () => {
    expect(words({ frequency: 'daily' })).toBe('Every day')
    expect(words({ frequency: 'daily', interval: 3 })).toBe('Every 3 days')
    // 5 January 2026 is a Monday.
    expect(words({ frequency: 'weekly' })).toBe('Every week on Monday')
    expect(words({ frequency: 'weekly', interval: 2 })).toBe('Every 2 weeks on Monday')
  })

  it('says the day of the month, from the start when the rule leaves it open', () => {
    expect(words({ day: 31 })).toBe('Monthly on day 31')
    expect(words({})).toBe('Monthly on day 5')
    expect(words({ interval: 3, day: 15 })).toBe('Every 3 months on day 15')
  })

  it('says yearly dates in the locale, 29 February included', () => {
    expect(words({ frequency: 'yearly', day: 29, month: 2 })).toBe('Yearly on 29 Feb')
    expect(words({ frequency: 'yearly', day: 29, month: 2 }, 'en-US')).toBe('Yearly on Feb 29')
    expect(words({ frequency: 'yearly', interval: 2, start: '2026-12-24' })).toBe('Every 2 years on 24 Dec')
  })

  it('says how a series ends', () => {
    const day = (iso: string) => iso
    expect(seriesEnd({ end: '2026-12-31', count: null }, t, day)).toBe('until 2026-12-31')
    expect(seriesEnd({ end: null, count: 12 }, t, day)).toBe('12 times')
    expect(seriesEnd({ end: null, count: 1 }, t, day)).toBe('once')
    expect(seriesEnd({ end: null, count: null }, t, day)).toBe('')
  })
})
