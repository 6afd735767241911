//! ExpensoTrack's ledger core: the domain, the automerge ledger document, the local SQLite
//! store with its materialized view, queries, and JSON backups.
//!
//! Knows nothing of Tauri, axum, sqlx or MongoDB. Time and ids are passed in by callers.

pub mod account;
pub mod backup;
pub mod doc;
pub mod error;
pub mod import;
pub mod model;
pub mod money;
mod ops;
pub mod plans;
pub mod query;
pub mod rates;
pub mod report;
pub mod sample;
pub mod store;
pub mod sync;
mod view;

pub use automerge::{ActorId, ChangeHash};
pub use backup::{Backup, RestoreSummary};
pub use error::{Error, Result};
pub use model::{
    Category, CategoryPatch, Kind, NewCategory, NewTransaction, PaymentMethod, Settings, Transaction, TransactionPatch,
};
pub use money::Currency;
pub use plans::{
    Alert, Budget, BudgetPatch, BudgetPeriod, BudgetStatus, Frequency, NewBudget, NewRecurring, Occurrence,
    OccurrenceStatus, PlanRun, RecurringPatch, RecurringRule,
};
pub use query::{
    Balance, CategoryTotal, Filter, GroupSums, Month, MonthRow, MonthSummary, PageRequest, PeriodSplit, Sort, SortBy,
    Totals, TransactionPage, Unconverted,
};
pub use rates::{NewRate, Rate, RateSource, RatesOverview};
pub use rust_decimal::Decimal;
pub use store::{Changed, MergeOutcome, StorageStats, Store};
