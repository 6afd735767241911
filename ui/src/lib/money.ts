//! Money as the user reads and types it. Amounts travel as exact decimal strings ("12.50");
//! they are never turned into floating-point numbers: `Intl.NumberFormat` formats the string
//! itself (ECMA-402 accepts decimal strings exactly), and input is checked as text.

/** ISO 4217 minor units that are not 2 (the common case). */
const MINOR_UNITS: Record<string, number> = {
  BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0, KRW: 0,
  KWD: 3, LYD: 3, OMR: 3, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4, VND: 0, VUV: 0, XAF: 0,
  XOF: 0, XPF: 0,
}

/** The currencies offered in pickers (any ISO code can still be typed). */
export const COMMON_CURRENCIES = [
  'EUR', 'USD', 'GBP', 'CHF', 'JPY', 'CAD', 'AUD', 'NZD', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'HUF',
  'RON', 'BGN', 'TRY', 'CNY', 'HKD', 'SGD', 'INR', 'KRW', 'BRL', 'MXN', 'ZAR', 'ILS', 'AED', 'KWD',
]

export function minorUnits(currency: string): number {
  return MINOR_UNITS[currency.toUpperCase()] ?? 2
}

const formatters = new Map<string, Intl.NumberFormat>()

function formatter(locale: string, currency: string, signDisplay: 'auto' | 'always' | 'exceptZero'): Intl.NumberFormat {
  const key = `${locale}|${currency}|${signDisplay}`
  let f = formatters.get(key)
  if (!f) {
    const digits = minorUnits(currency)
    const options = { minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay }
    try {
      f = new Intl.NumberFormat(locale, { ...options, style: 'currency', currency })
    } catch {
      try {
        f = new Intl.NumberFormat('en', { ...options, style: 'currency', currency })
      } catch {
        // An unknown currency code: show the code beside a plain number.
        f = new Intl.NumberFormat('en', options)
      }
    }
    formatters.set(key, f)
  }
  return f
}

/**
 * Formats an exact decimal string as money: `formatMoney("1234.5", "EUR", "de-DE")` is
 * "1.234,50 €". The string is passed to Intl as it is, so no digit is lost or rounded
 * beyond the currency's own minor unit.
 */
export function formatMoney(
  amount: string,
  currency: string,
  locale: string,
  signDisplay: 'auto' | 'always' | 'exceptZero' = 'auto',
): string {
  const f = formatter(locale, currency, signDisplay)
  const text = f.format(amount as Intl.StringNumericLiteral)
  return f.resolvedOptions().style === 'currency' ? text : `${text} ${currency}`
}

/** The sign a kind carries when shown: expenses out, income in. */
export function signed(amount: string, kind: 'expense' | 'income'): string {
  if (kind === 'income' || amount.startsWith('-') || /^0*(\.0*)?$/.test(amount)) return amount
  return '-' + amount
}

export type AmountCheck = { ok: true; value: string } | { ok: false; error: 'required' | 'format' | 'positive' | 'decimals' }

/**
 * Reads an amount as typed: digits with one decimal separator, `.` or `,` (the user's
 * keyboard decides), spaces and apostrophes as thousands separators ignored. Answers the
 * canonical string the backend takes ("1234.50"), or why it is not an amount.
 */
export function parseAmount(input: string, currency: string): AmountCheck {
  const r = parseDecimal(input)
  if (!r.ok) return r
  const fraction = r.value.split('.')[1] ?? ''
  if (fraction.length > minorUnits(currency)) return { ok: false, error: 'decimals' }
  return r
}

/** Reads a positive decimal as typed (as `parseAmount`, with no currency's limit on decimals). */
export function parseDecimal(input: string): AmountCheck {
  let text = input.trim().replace(/[\s\u00a0\u202f']/g, '')
  if (text === '') return { ok: false, error: 'required' }
  if (text.startsWith('-')) return { ok: false, error: 'positive' }
  const dots = (text.match(/\./g) ?? []).length
  const commas = (text.match(/,/g) ?? []).length
  if (dots > 0 && commas > 0) {
    // Both: the last one is the decimal separator, the other groups thousands.
    const decimal = text.lastIndexOf('.') > text.lastIndexOf(',') ? '.' : ','
    const group = decimal === '.' ? ',' : '.'
    text = text.split(group).join('').replace(decimal, '.')
  } else if (commas === 1) {
    text = text.replace(',', '.')
  } else if (commas > 1 || dots > 1) {
    return { ok: false, error: 'format' }
  }
  if (!/^\d+(\.\d+)?$/.test(text) && !/^\.\d+$/.test(text)) return { ok: false, error: 'format' }
  if (text.startsWith('.')) text = '0' + text
  const [whole = '0', fraction = ''] = text.split('.')
  const normalizedWhole = whole.replace(/^0+(?=\d)/, '')
  if (/^0*$/.test(normalizedWhole + fraction)) return { ok: false, error: 'positive' }
  return { ok: true, value: fraction ? `${normalizedWhole}.${fraction}` : normalizedWhole }
}

/** Currencies of regions whose currency is not the euro, for a first guess at sign-up. */
const REGION_CURRENCY: Record<string, string> = {
  US: 'USD', GB: 'GBP', CH: 'CHF', LI: 'CHF', JP: 'JPY', CA: 'CAD', AU: 'AUD', NZ: 'NZD', SE: 'SEK',
  NO: 'NOK', DK: 'DKK', PL: 'PLN', CZ: 'CZK', HU: 'HUF', RO: 'RON', BG: 'BGN', TR: 'TRY', CN: 'CNY',
  HK: 'HKD', SG: 'SGD', IN: 'INR', KR: 'KRW', BR: 'BRL', MX: 'MXN', ZA: 'ZAR', IL: 'ILS', AE: 'AED',
  KW: 'KWD', IS: 'ISK',
}

/** The currency a locale's region most likely uses (the euro when unknown). */
export function guessCurrency(locale: string): string {
  try {
    const region = new Intl.Locale(locale).maximize().region ?? ''
    return REGION_CURRENCY[region] ?? 'EUR'
  } catch {
    return 'EUR'
  }
}

/** The digits after the decimal point of an exact decimal string. */
function scaleOf(amount: string): number {
  const i = amount.indexOf('.')
  return i < 0 ? 0 : amount.length - i - 1
}

/** An exact decimal string ("-12.5") as a whole number of 10^-scale units. */
function toUnits(amount: string, scale: number): bigint {
  const text = amount.trim()
  const negative = text.startsWith('-')
  const body = negative || text.startsWith('+') ? text.slice(1) : text
  const [whole = '0', fraction = ''] = body.split('.')
  const units = BigInt((whole || '0') + fraction.padEnd(scale, '0').slice(0, scale))
  return negative ? -units : units
}

/** Compares two exact decimal strings: negative, zero or positive as `a` is below, equal to or above `b`. */
export function compareDecimal(a: string, b: string): number {
  const scale = Math.max(scaleOf(a), scaleOf(b))
  const d = toUnits(a, scale) - toUnits(b, scale)
  return d < 0n ? -1 : d > 0n ? 1 : 0
}

/** `a − b` of two exact decimal strings, exactly, with the larger of their decimals ("480.00" − "500" = "-20.00"). */
export function subtractDecimal(a: string, b: string): string {
  const scale = Math.max(scaleOf(a), scaleOf(b))
  const d = toUnits(a, scale) - toUnits(b, scale)
  const negative = d < 0n
  const digits = (negative ? -d : d).toString().padStart(scale + 1, '0')
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits
  return negative ? '-' + text : text
}

/** Whether an exact decimal string is below zero ("-0.00" is not). */
export function isNegative(amount: string): boolean {
  return compareDecimal(amount, '0') < 0
}

/** An exact decimal string without its sign. */
export function absDecimal(amount: string): string {
  return amount.replace(/^[-+]/, '')
}
