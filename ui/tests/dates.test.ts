import { describe, expect, it } from 'vitest'
import { endMonth, periodOf, shiftPeriod } from '../src/lib/dates'

const day = (y: number, m: number, d: number) => new Date(y, m - 1, d, 12)

describe('periods', () => {
  it('covers whole months, quarters and years', () => {
    expect(periodOf('month', day(2024, 2, 10))).toEqual({ kind: 'month', from: '2024-02-01', to: '2024-02-29' })
    expect(periodOf('month', day(2026, 2, 10))).toEqual({ kind: 'month', from: '2026-02-01', to: '2026-02-28' })
    expect(periodOf('quarter', day(2026, 11, 30))).toEqual({ kind: 'quarter', from: '2026-10-01', to: '2026-12-31' })
    expect(periodOf('year', day(2026, 6, 1))).toEqual({ kind: 'year', from: '2026-01-01', to: '2026-12-31' })
    expect(periodOf('last30', day(2026, 3, 1))).toEqual({ kind: 'last30', from: '2026-01-31', to: '2026-03-01' })
    expect(periodOf('all')).toEqual({ kind: 'all' })
  })

  it('steps to the previous and next period across year ends and short months', () => {
    const jan = periodOf('month', day(2026, 1, 31))
    expect(shiftPeriod(jan, -1)).toEqual({ kind: 'month', from: '2025-12-01', to: '2025-12-31' })
    expect(shiftPeriod(jan, 1)).toEqual({ kind: 'month', from: '2026-02-01', to: '2026-02-28' })
    const q4 = periodOf('quarter', day(2026, 12, 1))
    expect(shiftPeriod(q4, 1)).toEqual({ kind: 'quarter', from: '2027-01-01', to: '2027-03-31' })
    const custom = { kind: 'custom' as const, from: '2026-03-10', to: '2026-03-16' }
    expect(shiftPeriod(custom, -1)).toEqual({ kind: 'custom', from: '2026-03-03', to: '2026-03-09' })
  })

  it('ends the trend in the month the period ends', () => {
    expect(endMonth({ kind: 'year', from: '2025-01-01', to: '2025-12-31' })).toBe('2025-12')
    expect(endMonth({ kind: 'all' }, day(2026, 12, 1))).toBe('2026-12')
  })
})
