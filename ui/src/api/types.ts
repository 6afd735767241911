//! The domain's types as the UI sees them: generated from the server's OpenAPI document
//! (`schema.ts`, made by `npm run codegen` from `openapi.json`), which the core's own Rust
//! types produce. The Tauri commands return the same core types, so one set serves both.
import type { components } from './schema'

type S = components['schemas']

export type Kind = S['Kind']
export type Transaction = S['Transaction']
// Every field of these inputs may be left out (the core's `#[serde(default)]`), which the
// generated document does not say: the UI types say it.
export type NewTransaction = Pick<S['NewTransaction'], 'amount' | 'date' | 'category'> & Partial<S['NewTransaction']>
export type TransactionPatch = Partial<S['TransactionPatch']>
export type TransactionPage = S['TransactionPage']
export type Category = S['Category']
export type NewCategory = Pick<S['NewCategory'], 'name'> & Partial<S['NewCategory']>
export type CategoryPatch = Partial<S['CategoryPatch']>
export type PaymentMethod = S['PaymentMethod']
export type Settings = S['Settings']
export type Totals = S['Totals']
export type Balance = S['Balance']
export type Unconverted = S['Unconverted']
export type MonthSummary = S['MonthSummary']
export type CategoryTotal = S['CategoryTotal']
export type Profile = S['Profile']
export type SessionInfo = S['SessionInfo']
export type TagCount = S['TagCount']

// Budgets, alerts, recurring transactions and what running them did.
export type BudgetPeriod = S['BudgetPeriod']
export type Budget = S['Budget']
export type NewBudget = Pick<S['NewBudget'], 'amount'> & Partial<S['NewBudget']>
export type BudgetPatch = Partial<S['BudgetPatch']>
export type BudgetStatus = S['BudgetStatus']
export type Alert = S['Alert']
export type Frequency = S['Frequency']
export type RecurringRule = S['RecurringRule']
export type NewRecurring = Pick<S['NewRecurring'], 'amount' | 'category' | 'description' | 'frequency' | 'start'> &
  Partial<S['NewRecurring']>
export type RecurringPatch = Partial<S['RecurringPatch']>
export type Occurrence = S['Occurrence']
export type OccurrenceStatus = S['OccurrenceStatus']
export type PlanRun = S['PlanRun']

// Exchange rates: the ECB's, fetched when online, and those typed by hand.
export type Rate = S['Rate']
export type NewRate = Pick<S['NewRate'], 'from' | 'date' | 'rate'> & Partial<S['NewRate']>
export type RatesOverview = S['RatesOverview']
export type RefreshOutcome = S['RefreshOutcome']

// Period reports.
export type Report = S['Report']
export type ReportLine = S['Line']

// Bank statements: what a file is, how to read it, what importing it would do and did.
export type FileFormat = S['FileFormat']
export type CsvMapping = S['CsvMapping']
export type CsvSniff = S['CsvSniff']
export type Inspection = S['Inspection']
export type ImportOptions = Partial<S['ImportOptions']>
export type ImportPreview = S['ImportPreview']
export type PreviewRow = S['PreviewRow']
export type ImportOutcome = S['ImportOutcome']

/** A statement the user picked: on the web its bytes travel with it; a device keeps the file. */
export interface StatementFile {
  name: string
  /** base64 (the web). */
  content?: string
}

/** What the transactions list asks for; every field is optional. */
export interface TransactionQuery {
  from?: string
  to?: string
  kind?: Kind
  categories?: string[]
  paymentMethods?: string[]
  minAmount?: string
  maxAmount?: string
  tags?: string[]
  q?: string
  sort?: 'date' | 'amount' | 'description' | 'created'
  order?: 'asc' | 'desc'
  offset?: number
  limit?: number
}

export interface ProfileUpdate {
  display_name?: string
  base_currency?: string
  locale?: string
}
