//! Period reports: what a report holds (`Report`), how it is computed from the view
//! (`Store::report`), and its two exports, CSV (`csv.rs`) and PDF (`pdf.rs`).
//!
//! Every figure is in the ledger's base currency, converted per transaction with the rate of
//! the transaction's date (see `rates.rs`); transactions without a rate are left out of the
//! converted figures and listed in `unconverted`, never counted as zero.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Kind;
use crate::money::Currency;
use crate::query::Month;
pub use crate::query::Unconverted;

mod build;
pub mod csv;
pub mod pdf;
pub use build::{period_label, previous_period};

/// The paper a PDF report is laid out on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    #[default]
    A4,
    Letter,
}

impl std::str::FromStr for Paper {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Paper> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a4" => Ok(Paper::A4),
            "letter" => Ok(Paper::Letter),
            other => Err(crate::Error::invalid("paper", format!("{other:?} is neither \"a4\" nor \"letter\""))),
        }
    }
}

/// A span of days, both ends included, with the words that name it ("March 2025",
/// "Q1 2025", "2025", "1 Mar 2025 – 15 Apr 2025").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub label: String,
}

/// Income, expenses and net of a period in the base currency.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub income: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expense: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub net: Decimal,
    /// Transactions counted (those with a rate).
    pub count: u64,
}

/// The same figures for the period before (of the same length), and the change in percent
/// (`None` where the previous figure is zero).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub period: Period,
    pub summary: Summary,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub income_change: Option<Decimal>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub expense_change: Option<Decimal>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub net_change: Option<Decimal>,
}

/// One line of a breakdown (a category, a payment method or a tag), for one kind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The category's or payment method's id; the tag itself for tags.
    pub key: String,
    pub name: String,
    /// `#rrggbb` (categories only).
    pub color: Option<String>,
    pub kind: Kind,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total: Decimal,
    pub count: u64,
    /// Share of the kind's total, in percent with one decimal.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub percent: Decimal,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthLine {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub month: Month,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub income: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expense: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub net: Decimal,
    pub count: u64,
}

/// A budget against what was spent, for each of its periods that overlap the report's.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    pub budget_id: Uuid,
    pub name: String,
    /// The budget's own period (a month or a year).
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub limit: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub actual: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub remaining: Decimal,
    /// Actual as a percentage of the limit, one decimal.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub percent: Decimal,
}

/// One transaction as a report lists it: the original amount and its conversion.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub id: Uuid,
    pub date: NaiveDate,
    pub kind: Kind,
    pub description: String,
    pub category: String,
    pub payment_method: String,
    pub tags: Vec<String>,
    pub notes: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    /// The amount in the base currency; `None` when the currency had no rate that day.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub converted: Option<Decimal>,
    /// Units of the base currency per unit of `currency` that day (1 for the base itself).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rate: Option<Decimal>,
}

/// Everything a period report shows. Amounts are in `base_currency` unless said otherwise.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    pub period: Period,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub base_currency: Currency,
    pub generated_at: DateTime<Utc>,
    pub summary: Summary,
    pub previous: Comparison,
    /// Expense lines first, each kind largest first.
    pub categories: Vec<Line>,
    pub payment_methods: Vec<Line>,
    pub tags: Vec<Line>,
    /// Every month the period touches, in order (partial months at the ends count only the
    /// period's days).
    pub months: Vec<MonthLine>,
    pub budgets: Vec<BudgetLine>,
    pub unconverted: Vec<Unconverted>,
    /// In date order, oldest first.
    pub transactions: Vec<ReportRow>,
}
