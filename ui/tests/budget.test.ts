// What a budget's figures mean on screen: the progress colour, the bar's width, the projection,
// the thresholds as typed, alert texts, and the exact decimal arithmetic they rest on.
import { describe, expect, it } from 'vitest'
import { i18n } from '../src/i18n'
import type { Alert } from '../src/api/types'
import { barWidth, budgetTone, describeAlert, overspend, parseThresholds, periodLabel, periodWhen } from '../src/lib/budget'
import { compareDecimal, formatMoney, subtractDecimal } from '../src/lib/money'

describe('budgetTone', () => {
  it('is green below the first threshold, amber from it, red from 100 %', () => {
    expect(budgetTone('0.0', [80, 100])).toBe('ok')
    expect(budgetTone('79.9', [80, 100])).toBe('ok')
    expect(budgetTone('80.0', [80, 100])).toBe('warn')
    expect(budgetTone('99.9', [80, 100])).toBe('warn')
    expect(budgetTone('100.0', [80, 100])).toBe('over')
    expect(budgetTone('250.5', [80, 100])).toBe('over')
  })

  it('follows the budget’s own thresholds', () => {
    expect(budgetTone('55.0', [50, 75, 90])).toBe('warn')
    expect(budgetTone('45.0', [50, 75, 90])).toBe('ok')
    // Only a limit alert: green up to the limit.
    expect(budgetTone('99.0', [100])).toBe('ok')
    expect(budgetTone('120.0', [120])).toBe('over')
    expect(budgetTone('90.0', [])).toBe('ok')
  })

  it('is red when an overspending carried over leaves nothing', () => {
    expect(budgetTone('0.0', [80, 100], '-20.00')).toBe('over')
    expect(budgetTone('10.0', [80, 100], '90.00')).toBe('ok')
  })
})

describe('barWidth', () => {
  it('is the share used, full beyond the limit, empty for nothing', () => {
    expect(barWidth('24.0')).toBe('24%')
    expect(barWidth('80.5')).toBe('80.5%')
    expect(barWidth('180.0')).toBe('100%')
    expect(barWidth('0.0')).toBe('0%')
    expect(barWidth('-5.0')).toBe('0%')
  })
})

describe('projection and period', () => {
  const status = { period_start: '2026-11-01', period_end: '2026-11-30', spent: '300.00', limit: '500.00', projected: '560.00' }
  it('projects the current period and judges a past one by what was spent', () => {
    expect(periodWhen(status, '2026-11-15')).toBe('current')
    expect(periodWhen(status, '2026-12-01')).toBe('past')
    expect(periodWhen(status, '2026-10-31')).toBe('future')
    expect(overspend(status, 'current')).toBe('60.00')
    expect(overspend(status, 'past')).toBeNull()
    expect(overspend({ ...status, projected: '500.00' }, 'current')).toBeNull()
  })

  it('names calendar months and years, and other periods by their days', () => {
    const day = (iso: string) => iso
    expect(periodLabel('2026-11-01', '2026-11-30', 'en-GB', day)).toBe('November 2026')
    expect(periodLabel('2026-01-01', '2026-12-31', 'en-GB', day)).toBe('2026')
    expect(periodLabel('2026-11-15', '2026-12-14', 'en-GB', day)).toBe('2026-11-15 – 2026-12-14')
  })
})

describe('parseThresholds', () => {
  it('reads a comma list into ascending whole percentages', () => {
    expect(parseThresholds('80, 100')).toEqual({ ok: true, value: [80, 100] })
    expect(parseThresholds('100,50%, 80, 80')).toEqual({ ok: true, value: [50, 80, 100] })
    expect(parseThresholds(' ')).toEqual({ ok: false, error: 'required' })
    expect(parseThresholds('80, 9.5')).toEqual({ ok: false, error: 'format' })
    expect(parseThresholds('0, 80')).toEqual({ ok: false, error: 'range' })
    expect(parseThresholds('1001')).toEqual({ ok: false, error: 'range' })
  })
})

describe('exact decimals', () => {
  it('compares and subtracts without floating point', () => {
    expect(compareDecimal('24.0', '80')).toBeLessThan(0)
    expect(compareDecimal('80.0', '80')).toBe(0)
    expect(compareDecimal('-0.00', '0')).toBe(0)
    expect(compareDecimal('100000000000000000000.01', '100000000000000000000')).toBeGreaterThan(0)
    expect(subtractDecimal('560.00', '500.00')).toBe('60.00')
    expect(subtractDecimal('0.1', '0.3')).toBe('-0.2')
    expect(subtractDecimal('480', '500.5')).toBe('-20.5')
    expect(subtractDecimal('12345678901234567890.10', '0.01')).toBe('12345678901234567890.09')
  })
})

describe('describeAlert', () => {
  it('says which budget reached what, in the user’s money', () => {
    const alert: Alert = {
      id: 'b1:2026-12-01:80',
      budget_id: 'b1',
      budget_name: 'Groceries',
      period_start: '2026-12-01',
      period_end: '2026-12-31',
      threshold: 80,
      spent: '410.00',
      limit: '500.00',
      currency: 'EUR',
      raised_at: '2026-12-20T10:00:00Z',
      dismissed: false,
    }
    const t = (key: string, named: Record<string, unknown>) => i18n.global.t(key, named)
    const money = (a: string, c: string) => formatMoney(a, c, 'en-GB')
    const percent = (p: string) => new Intl.NumberFormat('en-GB', { style: 'unit', unit: 'percent' }).format(Number(p))
    expect(describeAlert(alert, t, money, percent)).toBe('Groceries: 80% of the monthly budget used (€410.00 of €500.00)')
    expect(describeAlert({ ...alert, period_start: '2026-01-01', period_end: '2026-12-31', threshold: 100 }, t, money, percent)).toBe(
      'Groceries: 100% of the annual budget used (€410.00 of €500.00)',
    )
  })
})
