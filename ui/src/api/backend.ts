//! The one interface every screen uses. Two implementations: HTTP to the sync server (the web
//! dashboard) and Tauri commands over the core (desktop, mobile). Views never know which.
import type {
  Alert,
  Balance,
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
  Rate,
  RatesOverview,
  RecurringPatch,
  RecurringRule,
  RefreshOutcome,
  Report,
  SessionInfo,
  StatementFile,
  Settings,
  TagCount,
  Transaction,
  TransactionPage,
  TransactionPatch,
  TransactionQuery,
} from './types'

export interface SignUpInput {
  email: string
  password: string
  display_name?: string
  /** The sync server (a device chooses one; the web dashboard is on its own). */
  server?: string
}

export interface LogInInput {
  email: string
  password: string
  server?: string
}

// What a device's commands and events carry beyond the API's types: generated from the
// desktop crate's Rust types (`device.ts`).
import type { AppEvent, DeviceStatus, Imported, SyncStatus } from './device'

export type { DeviceStatus, SyncStatus }
/** What a backend reports by itself: other devices' changes, sync's state, the apps' menu. */
export type BackendEvent = AppEvent
/** What an import restored. */
export type ImportSummary = Imported

export interface Backend {
  /** `web`: the data lives on the server; `device`: on this device, synced when signed in. */
  readonly where: 'web' | 'device'
  /** The ledger can only be used signed in (the web); a device works without an account. */
  readonly requiresSignIn: boolean
  /** Files are saved and opened with the system's own dialogs (else a download / a file field). */
  readonly nativeFiles: boolean

  // ---- this device ----
  /** The device's ledger, sign-in and sync; null on the web, which is no device. */
  device(): Promise<DeviceStatus | null>
  /** Makes the ledger on a device's first start. */
  createLedger(baseCurrency: string): Promise<void>
  /** The first screen shows data: a device loads its ledger's history in the background. */
  firstScreenShown(): Promise<void>
  syncNow(): Promise<void>
  onEvent(listener: (e: BackendEvent) => void): void

  // ---- account ----
  /** Whether a user is signed in (the web needs one; a device works without). */
  signedIn(): boolean
  /** Called when the session ends on its own (expired, revoked elsewhere). */
  onSignedOut(listener: () => void): void
  signUp(input: SignUpInput): Promise<Profile>
  logIn(input: LogInInput): Promise<Profile>
  /** Ends the session; on a device, `wipe` also deletes the ledger there. */
  logOut(options?: { wipe?: boolean; force?: boolean }): Promise<void>
  requestPasswordReset(email: string, server?: string): Promise<string>
  confirmPasswordReset(token: string, newPassword: string): Promise<void>
  profile(): Promise<Profile>
  updateProfile(update: ProfileUpdate): Promise<Profile>
  changePassword(current: string, next: string): Promise<void>
  sessions(): Promise<SessionInfo[]>
  revokeSession(id: string): Promise<void>
  /** Saves everything as one JSON file; answers its name or path (null: the user cancelled). */
  saveExport(): Promise<string | null>
  /** Restores a JSON backup (records matched by id, so twice adds nothing); the web takes `file`. */
  importBackup(file?: File): Promise<ImportSummary | null>
  deleteAccount(password: string): Promise<void>

  // ---- ledger ----
  listTransactions(query: TransactionQuery): Promise<TransactionPage>
  transaction(id: string): Promise<Transaction>
  createTransaction(input: NewTransaction): Promise<Transaction>
  updateTransaction(id: string, patch: TransactionPatch): Promise<Transaction>
  /** Deletes and answers with what was deleted, for an undo. */
  deleteTransaction(id: string): Promise<Transaction>
  /** Puts a deleted transaction back exactly as it was (same id). */
  restoreTransaction(t: Transaction): Promise<Transaction>
  categories(includeArchived?: boolean): Promise<Category[]>
  createCategory(input: NewCategory): Promise<Category>
  updateCategory(id: string, patch: CategoryPatch): Promise<Category>
  /** Deletes a category; one in use needs `moveTo` (else `category_in_use`). Answers how many moved. */
  deleteCategory(id: string, moveTo?: string): Promise<number>
  paymentMethods(includeArchived?: boolean): Promise<PaymentMethod[]>
  createPaymentMethod(name: string): Promise<PaymentMethod>
  updatePaymentMethod(id: string, patch: { name?: string; archived?: boolean }): Promise<PaymentMethod>
  settings(): Promise<Settings>
  updateSettings(settings: { base_currency: string }): Promise<Settings>
  tags(): Promise<TagCount[]>

  // ---- summaries (in the base currency, each transaction converted with its date's rate) ----
  balance(from?: string, to?: string): Promise<Balance>
  months(from: string, to: string): Promise<MonthSummary[]>
  trend(last: string, months: number): Promise<MonthSummary[]>
  categoryBreakdown(from: string | undefined, to: string | undefined, kind: Kind): Promise<CategoryTotal[]>

  // ---- budgets and alerts ----
  /** Every budget in its period that contains `date` (`YYYY-MM-DD`; today when left out). */
  budgets(date?: string): Promise<BudgetStatus[]>
  /** A budget's last `periods` periods, newest first, from the current one back. */
  budgetHistory(id: string, periods: number): Promise<BudgetStatus[]>
  createBudget(input: NewBudget): Promise<Budget>
  updateBudget(id: string, patch: BudgetPatch): Promise<Budget>
  deleteBudget(id: string): Promise<void>
  /** The budgets' alerts, newest first, dismissed ones included. */
  alerts(): Promise<Alert[]>
  dismissAlert(id: string): Promise<void>

  // ---- recurring transactions ----
  recurring(): Promise<RecurringRule[]>
  createRecurring(input: NewRecurring): Promise<RecurringRule>
  updateRecurring(id: string, patch: RecurringPatch): Promise<RecurringRule>
  /** Deletes a rule; the transactions it booked stay. */
  deleteRecurring(id: string): Promise<void>
  /** Occurrences waiting for confirmation, then those due within `days` of `today`, by date. */
  upcoming(days: number, today?: string): Promise<Occurrence[]>
  skipOccurrence(ruleId: string, due: string): Promise<void>
  /** Books one occurrence now, with optional changes (amount, date, …). */
  bookOccurrence(ruleId: string, due: string, patch?: TransactionPatch): Promise<Transaction>
  /**
   * Books the recurring transactions due up to `today` (the user's local `YYYY-MM-DD`) and
   * raises the budgets' alerts.
   */
  runPlans(today: string): Promise<PlanRun>

  // ---- exchange rates ----
  /** The newest ECB rates held, the manual rates, the currencies in use, what has no rate. */
  rates(): Promise<RatesOverview>
  /** Sets a rate by hand: 1 `from` = `rate` `to` (the base currency by default) on a date. */
  setRate(input: NewRate): Promise<Rate>
  deleteRate(from: string, to: string, date: string): Promise<void>
  /** Fetches the ECB's rates the ledger needs (none when current, unless `force`). */
  refreshRates(today: string, force?: boolean): Promise<RefreshOutcome>

  // ---- reports ----
  /** The report of `[from, to]` (`YYYY-MM-DD`, both included), in the base currency. */
  report(from: string, to: string): Promise<Report>
  /** Saves the report as a CSV or PDF file (a download, or the system's save dialog); its name. */
  saveReport(from: string, to: string, format: 'csv' | 'pdf', paper?: 'a4' | 'letter'): Promise<string | null>

  // ---- bank statements ----
  /** Picks a statement (the web takes `file`; a device opens its own dialog) and inspects it. */
  chooseStatement(file?: File): Promise<{ file: StatementFile; inspection: Inspection } | null>
  previewStatement(file: StatementFile, options: ImportOptions): Promise<ImportPreview>
  /** Imports all or nothing; a device reports progress as `import_progress` events. */
  importStatement(file: StatementFile, options: ImportOptions): Promise<ImportOutcome>
}
