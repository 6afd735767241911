import { describe, expect, it } from 'vitest'
import { formatMoney, minorUnits, parseAmount, signed } from '../src/lib/money'

describe('formatMoney', () => {
  it('formats the decimal string exactly, beyond what a float holds', () => {
    // 2^53 is about 9.007e15: a float would round the cents away here.
    expect(formatMoney('90071992547409.93', 'EUR', 'en-US')).toBe('€90,071,992,547,409.93')
    expect(formatMoney('0.10', 'USD', 'en-US')).toBe('$0.10')
  })

  it("uses the currency's own minor unit and the locale's separators", () => {
    expect(formatMoney('1234.5', 'EUR', 'de-DE')).toBe('1.234,50\u00a0€')
    expect(formatMoney('1500', 'JPY', 'en-US')).toBe('¥1,500')
    expect(formatMoney('19.995', 'KWD', 'en-US')).toBe('KWD\u00a019.995')
  })

  it('shows the sign when asked', () => {
    expect(formatMoney('-12.50', 'EUR', 'en-US', 'exceptZero')).toBe('-€12.50')
    expect(formatMoney('12.50', 'EUR', 'en-US', 'exceptZero')).toBe('+€12.50')
    expect(formatMoney('0', 'EUR', 'en-US', 'exceptZero')).toBe('€0.00')
  })
})

describe('parseAmount', () => {
  const ok = (input: string, currency = 'EUR') => parseAmount(input, currency)
  it('reads both decimal separators and thousands groups', () => {
    expect(ok('12.50')).toEqual({ ok: true, value: '12.50' })
    expect(ok('12,50')).toEqual({ ok: true, value: '12.50' })
    expect(ok('1.234,56')).toEqual({ ok: true, value: '1234.56' })
    expect(ok('1,234.56')).toEqual({ ok: true, value: '1234.56' })
    expect(ok("1'234.5")).toEqual({ ok: true, value: '1234.5' })
    expect(ok(' 007 ')).toEqual({ ok: true, value: '7' })
    expect(ok('.5')).toEqual({ ok: true, value: '0.5' })
  })

  it('says why an input is not an amount', () => {
    expect(ok('')).toEqual({ ok: false, error: 'required' })
    expect(ok('abc')).toEqual({ ok: false, error: 'format' })
    expect(ok('1.2.3')).toEqual({ ok: false, error: 'format' })
    expect(ok('-5')).toEqual({ ok: false, error: 'positive' })
    expect(ok('0.00')).toEqual({ ok: false, error: 'positive' })
    expect(ok('1.234')).toEqual({ ok: false, error: 'decimals' })
    expect(ok('1.5', 'JPY')).toEqual({ ok: false, error: 'decimals' })
    expect(ok('1.234', 'KWD')).toEqual({ ok: true, value: '1.234' })
  })

  it('knows the minor units of ISO 4217 currencies', () => {
    expect([minorUnits('EUR'), minorUnits('JPY'), minorUnits('KWD'), minorUnits('CLF')]).toEqual([2, 0, 3, 4])
  })

  it('signs expenses negative for display only', () => {
    expect(signed('12.50', 'expense')).toBe('-12.50')
    expect(signed('12.50', 'income')).toBe('12.50')
    expect(signed('0.00', 'expense')).toBe('0.00')
  })
})
