//! The desktop and mobile apps' backend: Tauri commands over the core, on the ledger stored
//! on this device. Everything works offline and without an account; signed in, the app syncs
//! in the background and tells the UI what arrived (`onEvent`).
import { invoke } from '@tauri-apps/api/core'
import { listen } from '@tauri-apps/api/event'
import { ApiError } from './errors'
import type { Backend, BackendEvent, DeviceStatus, ImportSummary, LogInInput, SignUpInput, SyncStatus } from './backend'
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

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args)
  } catch (e) {
    const err = e as { code?: string; message?: string } | string
    if (typeof err === 'object' && err && err.code) throw new ApiError(err.code, err.message ?? err.code)
    throw new ApiError('internal', String(typeof err === 'object' ? (err?.message ?? err) : err))
  }
}

export class TauriBackend implements Backend {
  readonly where = 'device' as const
  readonly requiresSignIn = false
  readonly nativeFiles = true
  private account: { email: string; server: string } | null = null
  private readonly signedOutListeners: (() => void)[] = []

  /** Reads the device's state once before the app starts. */
  async init(): Promise<DeviceStatus> {
    const status = await this.device()
    this.account = status.account ?? null
    return status
  }

  // ---- this device ----

  async device(): Promise<DeviceStatus> {
    const s = await call<DeviceStatus>('device_status')
    this.account = s.account ?? null
    return s
  }

  async createLedger(baseCurrency: string): Promise<void> {
    await call('create_ledger', { baseCurrency })
  }

  async firstScreenShown(): Promise<void> {
    await call('app_ready')
  }

  syncStatus(): Promise<SyncStatus> {
    return call('sync_status')
  }

  async syncNow(): Promise<void> {
    await call('sync_now')
  }

  onEvent(listener: (e: BackendEvent) => void): void {
    void listen<BackendEvent>('expenso://event', (e) => {
      if (e.payload.kind === 'sync' && e.payload.status.state === 'signed_out' && this.account) {
        this.account = null
        for (const l of this.signedOutListeners) l()
      }
      listener(e.payload)
    })
  }

  // ---- account ----

  signedIn(): boolean {
    return this.account !== null
  }

  onSignedOut(listener: () => void): void {
    this.signedOutListeners.push(listener)
  }

  private async signIn(command: string, input: SignUpInput | LogInInput): Promise<Profile> {
    if (!input.server) throw new ApiError('invalid', 'server: the address of your sync server is needed')
    this.account = await call<{ email: string; server: string }>(command, { input })
    return this.profile()
  }

  signUp(input: SignUpInput): Promise<Profile> {
    return this.signIn('sign_up', input)
  }

  logIn(input: LogInInput): Promise<Profile> {
    return this.signIn('log_in', input)
  }

  async logOut(options: { wipe?: boolean; force?: boolean } = {}): Promise<void> {
    await call('log_out', { wipe: options.wipe ?? false, force: options.force ?? false })
    this.account = null
  }

  requestPasswordReset(email: string, server?: string): Promise<string> {
    return call('request_password_reset', { server: server ?? this.account?.server ?? '', email })
  }

  async confirmPasswordReset(): Promise<void> {
    // The e-mailed link opens the web dashboard, where the new password is set.
    throw new ApiError('unsupported', 'Open the link from the e-mail in a browser to set the new password.')
  }

  profile(): Promise<Profile> {
    return call('account_profile')
  }

  updateProfile(update: ProfileUpdate): Promise<Profile> {
    return call('update_profile', { update })
  }

  async changePassword(current: string, next: string): Promise<void> {
    await call('change_password', { current, next })
  }

  sessions(): Promise<SessionInfo[]> {
    return call('account_sessions')
  }

  async revokeSession(id: string): Promise<void> {
    await call('revoke_session', { id })
  }

  saveExport(): Promise<string | null> {
    return call('export_backup')
  }

  importBackup(): Promise<ImportSummary | null> {
    return call('import_backup')
  }

  async deleteAccount(password: string): Promise<void> {
    await call('delete_account', { password })
    this.account = null
  }

  // ---- ledger ----

  listTransactions(query: TransactionQuery): Promise<TransactionPage> {
    return call('list_transactions', { query })
  }

  transaction(id: string): Promise<Transaction> {
    return call('get_transaction', { id })
  }

  createTransaction(input: NewTransaction): Promise<Transaction> {
    return call('create_transaction', { input })
  }

  updateTransaction(id: string, patch: TransactionPatch): Promise<Transaction> {
    return call('update_transaction', { id, patch })
  }

  deleteTransaction(id: string): Promise<Transaction> {
    return call('delete_transaction', { id })
  }

  restoreTransaction(t: Transaction): Promise<Transaction> {
    return call('restore_transaction', { transaction: t })
  }

  categories(includeArchived = false): Promise<Category[]> {
    return call('list_categories', { includeArchived })
  }

  createCategory(input: NewCategory): Promise<Category> {
    return call('create_category', { input })
  }

  updateCategory(id: string, patch: CategoryPatch): Promise<Category> {
    return call('update_category', { id, patch })
  }

  deleteCategory(id: string, moveTo?: string): Promise<number> {
    return call('delete_category', { id, moveTo: moveTo ?? null })
  }

  paymentMethods(includeArchived = false): Promise<PaymentMethod[]> {
    return call('list_payment_methods', { includeArchived })
  }

  createPaymentMethod(name: string): Promise<PaymentMethod> {
    return call('create_payment_method', { name })
  }

  updatePaymentMethod(id: string, patch: { name?: string; archived?: boolean }): Promise<PaymentMethod> {
    return call('update_payment_method', { id, patch })
  }

  settings(): Promise<Settings> {
    return call('get_settings')
  }

  updateSettings(settings: { base_currency: string }): Promise<Settings> {
    return call('update_settings', { baseCurrency: settings.base_currency })
  }

  tags(): Promise<TagCount[]> {
    return call('list_tags')
  }

  // ---- summaries ----

  balance(from?: string, to?: string): Promise<Balance> {
    return call('balance', { from: from ?? null, to: to ?? null })
  }

  months(from: string, to: string): Promise<MonthSummary[]> {
    return call('months', { from, to })
  }

  trend(last: string, months: number): Promise<MonthSummary[]> {
    return call('trend', { last, months })
  }

  categoryBreakdown(from: string | undefined, to: string | undefined, kind: Kind): Promise<CategoryTotal[]> {
    return call('category_breakdown', { from: from ?? null, to: to ?? null, kind })
  }

  // ---- budgets and alerts ----

  budgets(date?: string): Promise<BudgetStatus[]> {
    return call('budgets', { date: date ?? null })
  }

  budgetHistory(id: string, periods: number): Promise<BudgetStatus[]> {
    return call('budget_history', { id, periods })
  }

  createBudget(input: NewBudget): Promise<Budget> {
    return call('add_budget', { input })
  }

  updateBudget(id: string, patch: BudgetPatch): Promise<Budget> {
    return call('edit_budget', { id, patch })
  }

  async deleteBudget(id: string): Promise<void> {
    await call('delete_budget', { id })
  }

  alerts(): Promise<Alert[]> {
    return call('alerts')
  }

  async dismissAlert(id: string): Promise<void> {
    await call('dismiss_alert', { id })
  }

  // ---- recurring transactions ----

  recurring(): Promise<RecurringRule[]> {
    return call('recurring')
  }

  createRecurring(input: NewRecurring): Promise<RecurringRule> {
    return call('add_recurring', { input })
  }

  updateRecurring(id: string, patch: RecurringPatch): Promise<RecurringRule> {
    return call('edit_recurring', { id, patch })
  }

  async deleteRecurring(id: string): Promise<void> {
    await call('delete_recurring', { id })
  }

  upcoming(days: number, today?: string): Promise<Occurrence[]> {
    return call('upcoming', { days, today: today ?? null })
  }

  async skipOccurrence(ruleId: string, due: string): Promise<void> {
    await call('skip_occurrence', { id: ruleId, due })
  }

  bookOccurrence(ruleId: string, due: string, patch: TransactionPatch = {}): Promise<Transaction> {
    return call('book_occurrence', { id: ruleId, due, patch })
  }

  runPlans(today: string): Promise<PlanRun> {
    return call('run_plans', { today })
  }

  // ---- exchange rates ----

  rates(): Promise<RatesOverview> {
    return call('rates')
  }

  setRate(input: NewRate): Promise<Rate> {
    return call('set_rate', { input })
  }

  async deleteRate(from: string, to: string, date: string): Promise<void> {
    await call('delete_rate', { from, to, date })
  }

  refreshRates(today: string, force = false): Promise<RefreshOutcome> {
    return call('refresh_rates', { today, force })
  }

  // ---- reports ----

  report(from: string, to: string): Promise<Report> {
    return call('report', { from, to })
  }

  saveReport(from: string, to: string, format: 'csv' | 'pdf', paper: 'a4' | 'letter' = 'a4'): Promise<string | null> {
    return call('save_report', { from, to, format, paper })
  }

  // ---- bank statements ----

  async chooseStatement(): Promise<{ file: StatementFile; inspection: Inspection } | null> {
    // The app keeps the file the system's dialog picked; its preview and import read it there.
    const chosen = await call<{ name: string; inspection: Inspection } | null>('choose_statement')
    return chosen && { file: { name: chosen.name }, inspection: chosen.inspection }
  }

  previewStatement(_file: StatementFile, options: ImportOptions): Promise<ImportPreview> {
    return call('preview_statement', { options })
  }

  importStatement(_file: StatementFile, options: ImportOptions): Promise<ImportOutcome> {
    return call('import_statement', { options })
  }
}
