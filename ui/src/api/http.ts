//! The web dashboard's backend: the sync server's REST API over `fetch`.
//!
//! The session's tokens are kept in `localStorage` so a reload stays signed in; the access
//! token (15 minutes) is renewed with the refresh token when it is about to expire or is
//! refused, one renewal at a time, and a refused renewal signs the user out.
import { ApiError } from './errors'
import { isoDay } from '../lib/dates'
import type { Backend, BackendEvent, ImportSummary, LogInInput, SignUpInput } from './backend'
import type {
  Alert,
  Budget,
  BudgetPatch,
  BudgetStatus,
  Category,
  CategoryPatch,
  CategoryTotal,
  Kind,
  MonthSummary,
  NewBudget,
  ImportOptions,
  ImportOutcome,
  ImportPreview,
  Inspection,
  NewCategory,
  NewRate,
  NewRecurring,
  NewTransaction,
  Occurrence,
  PaymentMethod,
  PlanRun,
  Profile,
  ProfileUpdate,
  RecurringPatch,
  Rate,
  RatesOverview,
  RecurringRule,
  RefreshOutcome,
  Report,
  StatementFile,
  SessionInfo,
  Settings,
  TagCount,
  Balance,
  Transaction,
  TransactionPage,
  TransactionPatch,
  TransactionQuery,
} from './types'

interface StoredTokens {
  access_token: string
  refresh_token: string
  /** Milliseconds since the epoch when the access token expires. */
  expires_at: number
}

interface TokensBody {
  access_token: string
  refresh_token: string
  expires_in: number
}

const STORAGE_KEY = 'expenso.session'
/** Renew the access token this long before it expires. */
const RENEW_MARGIN_MS = 60_000

export interface HttpOptions {
  /** Where the API is; the page's own origin by default. */
  base?: string
  storage?: Storage
  fetch?: typeof fetch
  /** The device name sessions show ("Chrome on Linux"). */
  deviceName?: string
}

export class HttpBackend implements Backend {
  readonly where = 'web' as const
  readonly requiresSignIn = true
  readonly nativeFiles = false
  private readonly base: string
  private readonly storage: Storage
  private readonly fetchFn: typeof fetch
  private readonly deviceName: string
  private tokens: StoredTokens | null
  private renewal: Promise<void> | null = null
  private readonly signedOutListeners: (() => void)[] = []

  constructor(options: HttpOptions = {}) {
    this.base = options.base ?? ''
    this.storage = options.storage ?? window.localStorage
    this.fetchFn = options.fetch ?? window.fetch.bind(window)
    this.deviceName = options.deviceName ?? describeBrowser()
    this.tokens = readTokens(this.storage)
  }

  signedIn(): boolean {
    return this.tokens !== null
  }

  onSignedOut(listener: () => void): void {
    this.signedOutListeners.push(listener)
  }

  // ---- the server's copy ----

  async device(): Promise<null> {
    return null
  }

  async createLedger(): Promise<void> {
    // The server makes an account's ledger when the account is made.
  }

  async firstScreenShown(): Promise<void> {}

  async syncNow(): Promise<void> {}

  onEvent(listener: (e: BackendEvent) => void): void {
    // Devices' changes reach the server's copy at any time: look again when the page is back.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.signedIn()) listener({ kind: 'changed' })
    })
  }

  // ---- plumbing ----

  private setTokens(body: TokensBody | null): void {
    if (body === null) {
      this.tokens = null
      this.storage.removeItem(STORAGE_KEY)
      return
    }
    this.tokens = {
      access_token: body.access_token,
      refresh_token: body.refresh_token,
      expires_at: Date.now() + body.expires_in * 1000,
    }
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.tokens))
  }

  private endSession(): void {
    const was = this.tokens !== null
    this.setTokens(null)
    if (was) for (const l of this.signedOutListeners) l()
  }

  private async renew(): Promise<void> {
    if (this.renewal) return this.renewal
    const refresh = this.tokens?.refresh_token
    if (!refresh) throw new ApiError('unauthorized', 'Sign in again: your session has ended.', 401)
    this.renewal = (async () => {
      try {
        const res = await this.raw('POST', '/api/v1/auth/refresh', { refresh_token: refresh }, null)
        this.setTokens((await res.json()) as TokensBody)
      } catch (e) {
        // Only a refusal ends the session; a network failure leaves it for the next try.
        if (e instanceof ApiError && (e.status === 401 || e.status === 422)) this.endSession()
        throw e
      } finally {
        this.renewal = null
      }
    })()
    return this.renewal
  }

  /** One request; errors become `ApiError`s with the server's code and message. */
  private async raw(method: string, path: string, body: unknown, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (token) headers.Authorization = `Bearer ${token}`
    let res: Response
    try {
      res = await this.fetchFn(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch {
      throw new ApiError('offline', 'The server cannot be reached. Check your connection and try again.')
    }
    if (res.ok) return res
    let code = 'http_' + res.status
    let message = res.statusText || `The server answered ${res.status}.`
    try {
      const e = (await res.json()) as { code?: string; message?: string }
      if (e.code) code = e.code
      if (e.message) message = e.message
    } catch {
      // Not the API's error format (a proxy's page, say): keep the status line.
    }
    throw new ApiError(code, message, res.status)
  }

  /** An authenticated request, renewing the access token when needed (once). */
  private async authed(method: string, path: string, body?: unknown): Promise<Response> {
    if (!this.tokens) throw new ApiError('unauthorized', 'Sign in to continue.', 401)
    if (this.tokens.expires_at - Date.now() < RENEW_MARGIN_MS) await this.renew()
    try {
      return await this.raw(method, path, body, this.tokens?.access_token ?? null)
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e
      await this.renew()
      try {
        return await this.raw(method, path, body, this.tokens?.access_token ?? null)
      } catch (again) {
        if (again instanceof ApiError && again.status === 401) this.endSession()
        throw again
      }
    }
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.authed(method, path, body)
    return (await res.json()) as T
  }

  // ---- account ----

  async signUp(input: SignUpInput): Promise<Profile> {
    // The dashboard's server is the one it came from: `server` is for devices.
    const fields = { ...input, server: undefined }
    const res = await this.raw('POST', '/api/v1/auth/signup', { ...fields, device_name: this.deviceName }, null)
    const body = (await res.json()) as { user: Profile; tokens: TokensBody }
    this.setTokens(body.tokens)
    return body.user
  }

  async logIn(input: LogInInput): Promise<Profile> {
    // The dashboard's server is the one it came from: `server` is for devices.
    const fields = { ...input, server: undefined }
    const res = await this.raw('POST', '/api/v1/auth/login', { ...fields, device_name: this.deviceName }, null)
    const body = (await res.json()) as { user: Profile; tokens: TokensBody }
    this.setTokens(body.tokens)
    return body.user
  }

  async logOut(): Promise<void> {
    try {
      if (this.tokens) await this.raw('POST', '/api/v1/auth/logout', undefined, this.tokens.access_token)
    } catch {
      // Signing out here must work offline too; the session expires on the server.
    }
    this.setTokens(null)
  }

  async requestPasswordReset(email: string): Promise<string> {
    const res = await this.raw('POST', '/api/v1/auth/password-reset', { email }, null)
    return ((await res.json()) as { message: string }).message
  }

  async confirmPasswordReset(token: string, newPassword: string): Promise<void> {
    await this.raw('POST', '/api/v1/auth/password-reset/confirm', { token, new_password: newPassword }, null)
  }

  profile(): Promise<Profile> {
    return this.json('GET', '/api/v1/account')
  }

  updateProfile(update: ProfileUpdate): Promise<Profile> {
    return this.json('PATCH', '/api/v1/account', update)
  }

  async changePassword(current: string, next: string): Promise<void> {
    await this.authed('POST', '/api/v1/account/password', { current_password: current, new_password: next })
  }

  sessions(): Promise<SessionInfo[]> {
    return this.json('GET', '/api/v1/account/sessions')
  }

  async revokeSession(id: string): Promise<void> {
    await this.authed('DELETE', `/api/v1/account/sessions/${encodeURIComponent(id)}`)
  }

  async saveExport(): Promise<string | null> {
    return download(await this.authed('GET', '/api/v1/account/export'), 'expensotrack-export.json')
  }

  async importBackup(file?: File): Promise<ImportSummary | null> {
    if (!file) return null
    let body: unknown
    try {
      body = JSON.parse(await file.text())
    } catch {
      throw new ApiError('invalid', `file: ${file.name} is not a JSON backup`)
    }
    const summary = await this.json<ImportSummary>('POST', '/api/v1/ledger/import', body)
    return { ...summary, file: file.name }
  }

  async deleteAccount(password: string): Promise<void> {
    await this.authed('DELETE', '/api/v1/account', { password })
    this.setTokens(null)
  }

  // ---- ledger ----

  listTransactions(query: TransactionQuery): Promise<TransactionPage> {
    return this.json('GET', '/api/v1/transactions' + transactionParams(query))
  }

  transaction(id: string): Promise<Transaction> {
    return this.json('GET', `/api/v1/transactions/${encodeURIComponent(id)}`)
  }

  createTransaction(input: NewTransaction): Promise<Transaction> {
    return this.json('POST', '/api/v1/transactions', input)
  }

  updateTransaction(id: string, patch: TransactionPatch): Promise<Transaction> {
    return this.json('PATCH', `/api/v1/transactions/${encodeURIComponent(id)}`, patch)
  }

  deleteTransaction(id: string): Promise<Transaction> {
    return this.json('DELETE', `/api/v1/transactions/${encodeURIComponent(id)}`)
  }

  restoreTransaction(t: Transaction): Promise<Transaction> {
    return this.json('POST', `/api/v1/transactions/${encodeURIComponent(t.id)}/restore`, t)
  }

  categories(includeArchived = false): Promise<Category[]> {
    return this.json('GET', `/api/v1/categories${includeArchived ? '?include_archived=true' : ''}`)
  }

  createCategory(input: NewCategory): Promise<Category> {
    return this.json('POST', '/api/v1/categories', input)
  }

  updateCategory(id: string, patch: CategoryPatch): Promise<Category> {
    return this.json('PATCH', `/api/v1/categories/${encodeURIComponent(id)}`, patch)
  }

  async deleteCategory(id: string, moveTo?: string): Promise<number> {
    const q = moveTo ? `?move_to=${encodeURIComponent(moveTo)}` : ''
    const body = await this.json<{ moved: number }>('DELETE', `/api/v1/categories/${encodeURIComponent(id)}${q}`)
    return body.moved
  }

  paymentMethods(includeArchived = false): Promise<PaymentMethod[]> {
    return this.json('GET', `/api/v1/payment-methods${includeArchived ? '?include_archived=true' : ''}`)
  }

  createPaymentMethod(name: string): Promise<PaymentMethod> {
    return this.json('POST', '/api/v1/payment-methods', { name })
  }

  updatePaymentMethod(id: string, patch: { name?: string; archived?: boolean }): Promise<PaymentMethod> {
    return this.json('PATCH', `/api/v1/payment-methods/${encodeURIComponent(id)}`, patch)
  }

  settings(): Promise<Settings> {
    return this.json('GET', '/api/v1/ledger/settings')
  }

  updateSettings(settings: { base_currency: string }): Promise<Settings> {
    return this.json('PATCH', '/api/v1/ledger/settings', settings)
  }

  tags(): Promise<TagCount[]> {
    return this.json('GET', '/api/v1/tags')
  }

  // ---- summaries ----

  balance(from?: string, to?: string): Promise<Balance> {
    return this.json('GET', '/api/v1/summaries/balance' + params({ from, to }))
  }

  months(from: string, to: string): Promise<MonthSummary[]> {
    return this.json('GET', '/api/v1/summaries/months' + params({ from, to }))
  }

  trend(last: string, months: number): Promise<MonthSummary[]> {
    return this.json('GET', '/api/v1/summaries/trend' + params({ last, months: String(months) }))
  }

  categoryBreakdown(from: string | undefined, to: string | undefined, kind: Kind): Promise<CategoryTotal[]> {
    return this.json('GET', '/api/v1/summaries/categories' + params({ from, to, kind }))
  }

  // ---- budgets and alerts ----

  budgets(date?: string): Promise<BudgetStatus[]> {
    // The browser's own date decides the current period and the projections.
    return this.json('GET', '/api/v1/budgets' + params({ date, today: isoDay(new Date()) }))
  }

  budgetHistory(id: string, periods: number): Promise<BudgetStatus[]> {
    return this.json('GET', `/api/v1/budgets/${encodeURIComponent(id)}/history` + params({ periods: String(periods), today: isoDay(new Date()) }),
    )
  }

  createBudget(input: NewBudget): Promise<Budget> {
    return this.json('POST', '/api/v1/budgets' + params({ today: isoDay(new Date()) }), input)
  }

  updateBudget(id: string, patch: BudgetPatch): Promise<Budget> {
    return this.json('PATCH', `/api/v1/budgets/${encodeURIComponent(id)}`, patch)
  }

  async deleteBudget(id: string): Promise<void> {
    await this.authed('DELETE', `/api/v1/budgets/${encodeURIComponent(id)}`)
  }

  alerts(): Promise<Alert[]> {
    return this.json('GET', '/api/v1/alerts')
  }

  async dismissAlert(id: string): Promise<void> {
    await this.authed('POST', `/api/v1/alerts/${encodeURIComponent(id)}/dismiss`)
  }

  // ---- recurring transactions ----

  recurring(): Promise<RecurringRule[]> {
    return this.json('GET', '/api/v1/recurring')
  }

  createRecurring(input: NewRecurring): Promise<RecurringRule> {
    return this.json('POST', '/api/v1/recurring', input)
  }

  updateRecurring(id: string, patch: RecurringPatch): Promise<RecurringRule> {
    return this.json('PATCH', `/api/v1/recurring/${encodeURIComponent(id)}` + params({ today: isoDay(new Date()) }), patch)
  }

  async deleteRecurring(id: string): Promise<void> {
    await this.authed('DELETE', `/api/v1/recurring/${encodeURIComponent(id)}`)
  }

  upcoming(days: number, today?: string): Promise<Occurrence[]> {
    return this.json('GET', '/api/v1/recurring/upcoming' + params({ days: String(days), today }))
  }

  async skipOccurrence(ruleId: string, due: string): Promise<void> {
    await this.authed('POST', `${occurrencePath(ruleId, due)}/skip`)
  }

  bookOccurrence(ruleId: string, due: string, patch: TransactionPatch = {}): Promise<Transaction> {
    return this.json('POST', `${occurrencePath(ruleId, due)}/book`, patch)
  }

  runPlans(today: string): Promise<PlanRun> {
    return this.json('POST', '/api/v1/plans/run', { today })
  }

  // ---- exchange rates ----

  rates(): Promise<RatesOverview> {
    return this.json('GET', '/api/v1/rates')
  }

  setRate(input: NewRate): Promise<Rate> {
    return this.json('POST', '/api/v1/rates', input)
  }

  async deleteRate(from: string, to: string, date: string): Promise<void> {
    const path = [from, to, date].map(encodeURIComponent).join('/')
    await this.authed('DELETE', `/api/v1/rates/${path}`)
  }

  refreshRates(today: string, force = false): Promise<RefreshOutcome> {
    return this.json('POST', '/api/v1/rates/refresh' + params({ today, force: force ? 'true' : undefined }))
  }

  // ---- reports ----

  report(from: string, to: string): Promise<Report> {
    return this.json('GET', '/api/v1/reports' + params({ from, to }))
  }

  async saveReport(from: string, to: string, format: 'csv' | 'pdf', paper: 'a4' | 'letter' = 'a4'): Promise<string | null> {
    const res = await this.authed('GET', '/api/v1/reports' + params({ from, to, format, paper }))
    return download(res, `expensotrack-report-${from}-${to}.${format}`)
  }

  // ---- bank statements ----

  async chooseStatement(file?: File): Promise<{ file: StatementFile; inspection: Inspection } | null> {
    if (!file) return null
    const statement: StatementFile = { name: file.name, content: base64(new Uint8Array(await file.arrayBuffer())) }
    const inspection = await this.json<Inspection>('POST', '/api/v1/import/inspect', { file_name: file.name, content: statement.content })
    return { file: statement, inspection }
  }

  previewStatement(file: StatementFile, options: ImportOptions): Promise<ImportPreview> {
    return this.json('POST', '/api/v1/import/preview', { file_name: file.name, content: file.content, options })
  }

  importStatement(file: StatementFile, options: ImportOptions): Promise<ImportOutcome> {
    return this.json('POST', '/api/v1/import', { file_name: file.name, content: file.content, options })
  }
}

/** Hands a response's body to the browser's own download (where the user's downloads go). */
async function download(res: Response, fallback: string): Promise<string> {
  const disposition = res.headers.get('Content-Disposition') ?? ''
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return filename
}

/** Bytes as base64, in slices (a large file would overflow one `String.fromCharCode` call). */
function base64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

function readTokens(storage: Storage): StoredTokens | null {
  try {
    const text = storage.getItem(STORAGE_KEY)
    if (!text) return null
    const t = JSON.parse(text) as Partial<StoredTokens>
    if (typeof t.access_token !== 'string' || typeof t.refresh_token !== 'string') return null
    return { access_token: t.access_token, refresh_token: t.refresh_token, expires_at: Number(t.expires_at) || 0 }
  } catch {
    return null
  }
}

function params(values: Record<string, string | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== '') p.set(k, v)
  const s = p.toString()
  return s ? '?' + s : ''
}

/** Where one occurrence of a recurring transaction is: the rule and its date. */
function occurrencePath(ruleId: string, due: string): string {
  return `/api/v1/recurring/${encodeURIComponent(ruleId)}/occurrences/${encodeURIComponent(due)}`
}

/** The list query's parameters, as the server names them. */
export function transactionParams(q: TransactionQuery): string {
  return params({
    from: q.from,
    to: q.to,
    kind: q.kind,
    categories: q.categories?.join(','),
    payment_methods: q.paymentMethods?.join(','),
    min_amount: q.minAmount,
    max_amount: q.maxAmount,
    tags: q.tags?.join(','),
    q: q.q?.trim() || undefined,
    sort: q.sort,
    order: q.order,
    offset: q.offset ? String(q.offset) : undefined,
    limit: q.limit ? String(q.limit) : undefined,
  })
}

function describeBrowser(): string {
  const ua = navigator.userAgent
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'Browser'
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS/.test(ua)
        ? 'macOS'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Linux/.test(ua)
            ? 'Linux'
            : 'unknown system'
  return `${browser} on ${os} (web)`
}
