//! The one interface every screen uses. Two implementations: HTTP to the sync server (the web
//! dashboard) and Tauri commands over the core (desktop, mobile). Views never know which.
import type {
  Category,
  CategoryPatch,
  CategoryTotal,
  Kind,
  MonthSummary,
  NewCategory,
  NewTransaction,
  PaymentMethod,
  Profile,
  ProfileUpdate,
  SessionInfo,
  Settings,
  TagCount,
  Totals,
  Transaction,
  TransactionPage,
  TransactionPatch,
  TransactionQuery,
} from './types'

export interface SignUpInput {
  email: string
  password: string
  display_name?: string
}

export interface LogInInput {
  email: string
  password: string
}

/** A file the user downloads or saves: its suggested name and content. */
export interface Download {
  filename: string
  mime: string
  content: Blob
}

export interface Backend {
  /** `web`: the data lives on the server; `device`: on this device, synced when signed in. */
  readonly where: 'web' | 'device'

  // ---- account ----
  /** Whether a user is signed in (the web needs one; a device works without). */
  signedIn(): boolean
  /** Called when the session ends on its own (expired, revoked elsewhere). */
  onSignedOut(listener: () => void): void
  signUp(input: SignUpInput): Promise<Profile>
  logIn(input: LogInInput): Promise<Profile>
  logOut(): Promise<void>
  requestPasswordReset(email: string): Promise<string>
  confirmPasswordReset(token: string, newPassword: string): Promise<void>
  profile(): Promise<Profile>
  updateProfile(update: ProfileUpdate): Promise<Profile>
  changePassword(current: string, next: string): Promise<void>
  sessions(): Promise<SessionInfo[]>
  revokeSession(id: string): Promise<void>
  exportData(): Promise<Download>
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

  // ---- summaries ----
  balance(from?: string, to?: string): Promise<Totals[]>
  months(from: string, to: string): Promise<MonthSummary[]>
  trend(last: string, months: number): Promise<MonthSummary[]>
  categoryBreakdown(from: string | undefined, to: string | undefined, kind: Kind): Promise<CategoryTotal[]>
}
