import { describe, expect, it } from 'vitest'
import { endMonth, isDay, periodFromQuery, periodOf, shapeOf, shiftPeriod } from '../src/lib/dates'

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

  it('reads a report period from the address: the whole month, quarter or year around its first day', () => {
    expect(periodFromQuery('month', '2024-03-01', undefined)).toEqual({ kind: 'month', from: '2024-03-01', to: '2024-03-31' })
    expect(periodFromQuery('month', '2024-02-15', undefined)).toEqual({ kind: 'month', from: '2024-02-01', to: '2024-02-29' })
    expect(periodFromQuery('quarter', '2024-05-20', '')).toEqual({ kind: 'quarter', from: '2024-04-01', to: '2024-06-30' })
    expect(periodFromQuery('quarter', '2023-11-01', undefined)).toEqual({ kind: 'quarter', from: '2023-10-01', to: '2023-12-31' })
    expect(periodFromQuery('year', '2024-07-04', undefined)).toEqual({ kind: 'year', from: '2024-01-01', to: '2024-12-31' })
    expect(periodFromQuery('custom', '2024-03-10', '2024-04-02')).toEqual({ kind: 'custom', from: '2024-03-10', to: '2024-04-02' })
  })

  it('ignores an address without a valid period', () => {
    expect(periodFromQuery(undefined, undefined, undefined)).toBeNull()
    expect(periodFromQuery('custom', '2024-04-02', '2024-03-10')).toBeNull()
    expect(periodFromQuery('custom', '2024-03-10', undefined)).toBeNull()
    expect(periodFromQuery('month', '2024-02-30', undefined)).toBeNull()
    expect(periodFromQuery('all', '2024-01-01', '2024-12-31')).toBeNull()
    expect(periodFromQuery('last30', '2024-01-01', '2024-01-30')).toBeNull()
    expect(isDay('2024-13-01')).toBe(false)
    expect(isDay('2024-12-31')).toBe(true)
  })

  it('names whole months, quarters and years', () => {
    expect(shapeOf('2024-03-01', '2024-03-31')).toEqual({ type: 'month', year: 2024, month0: 2 })
    expect(shapeOf('2024-04-01', '2024-06-30')).toEqual({ type: 'quarter', year: 2024, quarter: 2 })
    expect(shapeOf('2024-01-01', '2024-12-31')).toEqual({ type: 'year', year: 2024 })
    expect(shapeOf('2024-02-01', '2024-04-30')).toEqual({ type: 'days' })
    expect(shapeOf('2024-03-01', '2024-03-30')).toEqual({ type: 'days' })
    expect(shapeOf('2023-12-01', '2024-01-31')).toEqual({ type: 'days' })
  })
})
