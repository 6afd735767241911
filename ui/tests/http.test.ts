// The HTTP backend's own logic, with `fetch` replaced (the edge under test is the backend):
// errors keep the server's code and field, tokens are renewed once for concurrent requests,
// and a refused renewal signs the user out.
import { describe, expect, it } from 'vitest'
import { HttpBackend, transactionParams } from '../src/api/http'
import { isoDay } from '../src/lib/dates'
import { ApiError } from '../src/api/errors'

class MemoryStorage implements Storage {
  private m = new Map<string, string>()
  get length() {
    return this.m.size
  }
  clear() {
    this.m.clear()
  }
  getItem(k: string) {
    return this.m.get(k) ?? null
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null
  }
  removeItem(k: string) {
    this.m.delete(k)
  }
  setItem(k: string, v: string) {
    this.m.set(k, v)
  }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

function signedInStorage(expiresInMs: number): MemoryStorage {
  const s = new MemoryStorage()
  s.setItem('expenso.session', JSON.stringify({ access_token: 'old', refresh_token: 'r1', expires_at: Date.now() + expiresInMs }))
  return s
}

describe('HttpBackend', () => {
  it('turns API errors into ApiError with code, status and field', async () => {
    const storage = signedInStorage(3_600_000)
    const api = new HttpBackend({
      storage,
      fetch: async () => json(422, { code: 'invalid', message: 'amount: must be more than zero' }),
    })
    const err = await api.createTransaction({ amount: '0' } as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ code: 'invalid', status: 422, field: 'amount', detail: 'must be more than zero' })
  })

  it('reports a network failure as offline', async () => {
    const api = new HttpBackend({ storage: signedInStorage(3_600_000), fetch: async () => Promise.reject(new TypeError('failed')) })
    const err = (await api.settings().catch((e: unknown) => e)) as ApiError
    expect(err.code).toBe('offline')
    expect(err.offline).toBe(true)
  })

  it('renews an expired access token once for concurrent requests, then retries them', async () => {
    const calls: string[] = []
    const api = new HttpBackend({
      storage: signedInStorage(3_600_000),
      fetch: async (url, init) => {
        const auth = (init?.headers as Record<string, string>).Authorization ?? ''
        calls.push(`${String(url)} ${auth}`)
        if (String(url).endsWith('/auth/refresh')) {
          await new Promise((r) => setTimeout(r, 10))
          return json(200, { access_token: 'new', refresh_token: 'r2', expires_in: 900 })
        }
        return auth === 'Bearer new' ? json(200, { base_currency: 'EUR' }) : json(401, { code: 'unauthorized', message: 'sign in again' })
      },
    })
    const results = await Promise.all([api.settings(), api.settings(), api.settings()])
    expect(results).toEqual([{ base_currency: 'EUR' }, { base_currency: 'EUR' }, { base_currency: 'EUR' }])
    expect(calls.filter((c) => c.includes('/auth/refresh'))).toHaveLength(1)
    expect(calls.filter((c) => c.endsWith('Bearer new'))).toHaveLength(3)
  })

  it('renews ahead of expiry, and keeps the rotated refresh token', async () => {
    const storage = signedInStorage(10_000)
    const api = new HttpBackend({
      storage,
      fetch: async (url) =>
        String(url).endsWith('/auth/refresh')
          ? json(200, { access_token: 'new', refresh_token: 'r2', expires_in: 900 })
          : json(200, { base_currency: 'EUR' }),
    })
    await api.settings()
    expect(JSON.parse(storage.getItem('expenso.session')!).refresh_token).toBe('r2')
  })

  it('signs out when the renewal is refused', async () => {
    const storage = signedInStorage(3_600_000)
    let signedOut = 0
    const api = new HttpBackend({
      storage,
      fetch: async () => json(401, { code: 'unauthorized', message: 'sign in again' }),
    })
    api.onSignedOut(() => signedOut++)
    await expect(api.settings()).rejects.toMatchObject({ code: 'unauthorized' })
    expect(signedOut).toBe(1)
    expect(api.signedIn()).toBe(false)
    expect(storage.getItem('expenso.session')).toBeNull()
  })

  it('names the list filters as the server does', () => {
    expect(
      transactionParams({
        from: '2026-01-01',
        kind: 'expense',
        categories: ['a', 'b'],
        paymentMethods: ['c'],
        minAmount: '10',
        tags: ['trip'],
        q: '  market ',
        sort: 'amount',
        order: 'asc',
        offset: 100,
        limit: 50,
      }),
    ).toBe(
      '?from=2026-01-01&kind=expense&categories=a%2Cb&payment_methods=c&min_amount=10&tags=trip&q=market&sort=amount&order=asc&offset=100&limit=50',
    )
  })

  it('calls the budgets, alerts and recurring paths, with the alert id encoded and 204s answering nothing', async () => {
    const calls: string[] = []
    const api = new HttpBackend({
      storage: signedInStorage(3_600_000),
      fetch: async (url, init) => {
        calls.push(`${init?.method} ${String(url)}${init?.body ? ' ' + String(init.body) : ''}`)
        if (init?.method === 'DELETE' || String(url).endsWith('/skip') || String(url).endsWith('/dismiss')) return new Response(null, { status: 204 })
        if (String(url).endsWith('/plans/run')) return json(200, { booked: 1, alerts: [], reminders: [] })
        if (String(url).endsWith('/book')) return json(201, { id: 't' })
        return json(200, [])
      },
    })
    // The browser's own date goes along, for the current period and the projections.
    const today = isoDay(new Date())
    await api.budgets('2026-11-15')
    await api.budgetHistory('b1', 12)
    await api.dismissAlert('b1:2026-11-01:80')
    await api.upcoming(30, '2026-11-15')
    await api.skipOccurrence('r1', '2026-12-01')
    await api.bookOccurrence('r1', '2026-11-01', { amount: '12.00' })
    await api.deleteBudget('b1')
    expect(await api.runPlans('2026-11-15')).toEqual({ booked: 1, alerts: [], reminders: [] })
    expect(calls).toEqual([
      `GET /api/v1/budgets?date=2026-11-15&today=${today}`,
      `GET /api/v1/budgets/b1/history?periods=12&today=${today}`,
      'POST /api/v1/alerts/b1%3A2026-11-01%3A80/dismiss',
      'GET /api/v1/recurring/upcoming?days=30&today=2026-11-15',
      'POST /api/v1/recurring/r1/occurrences/2026-12-01/skip',
      'POST /api/v1/recurring/r1/occurrences/2026-11-01/book {"amount":"12.00"}',
      'DELETE /api/v1/budgets/b1',
      'POST /api/v1/plans/run {"today":"2026-11-15"}',
    ])
  })
})
