//! Domain types: transactions, categories, payment methods, settings, and the inputs that
//! create or change them. Inputs are validated by the store, which names the failing field.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::money::Currency;

pub const MAX_DESCRIPTION: usize = 200;
pub const MAX_NOTES: usize = 2_000;
pub const MAX_NAME: usize = 50;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 40;
pub const MAX_ICON: usize = 16;
/// Dates outside this range are almost certainly typing mistakes.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2200;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Expense,
    Income,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Expense => "expense",
            Kind::Income => "income",
        }
    }

    pub(crate) fn as_i64(self) -> i64 {
        match self {
            Kind::Expense => 0,
            Kind::Income => 1,
        }
    }

    pub(crate) fn from_i64(v: i64) -> Kind {
        if v == 1 {
            Kind::Income
        } else {
            Kind::Expense
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "expense" | "expenses" => Ok(Kind::Expense),
            "income" => Ok(Kind::Income),
            other => Err(Error::invalid("kind", format!("{other:?} is neither \"expense\" nor \"income\""))),
        }
    }
}

/// A booked expense or income, as the view shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: Uuid,
    pub kind: Kind,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    pub date: NaiveDate,
    pub category_id: Uuid,
    pub payment_method_id: Uuid,
    pub description: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The amount in the ledger's base currency, converted with the rate of the
    /// transaction's date (see `rates.rs`); `None` when there is no rate for it. Derived by the
    /// view, never stored in the document.
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub base_amount: Option<Decimal>,
    /// Values that lost a concurrent edit, per field (the document keeps them; see
    /// ARCHITECTURE.md, "Conflicts"). Empty when there is no conflict.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conflicts: BTreeMap<String, Vec<String>>,
}

/// A new transaction as typed by a user. Text fields are validated by the store.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewTransaction {
    pub kind: Option<Kind>,
    pub amount: String,
    /// Defaults to the ledger's base currency.
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// A category id, or a category name of the transaction's kind.
    pub category: String,
    /// A payment-method id or name; defaults to "Other".
    pub payment_method: Option<String>,
    pub description: String,
    pub notes: String,
    pub tags: Vec<String>,
}

/// A change to some fields of a transaction; `None` leaves a field as it is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TransactionPatch {
    pub kind: Option<Kind>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub date: Option<String>,
    pub category: Option<String>,
    pub payment_method: Option<String>,
    pub description: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub kind: Kind,
    /// `#rrggbb`.
    pub color: String,
    pub icon: String,
    pub archived: bool,
    /// Predefined categories come with every ledger and have fixed ids.
    pub builtin: bool,
    /// Deleted categories stay in the document as tombstones so that transactions booked
    /// concurrently on another device still find a home (see `merged_into`).
    #[serde(default)]
    pub deleted: bool,
    /// Where the transactions of a deleted category went.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewCategory {
    pub name: String,
    pub kind: Option<Kind>,
    pub color: Option<String>,
    pub icon: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CategoryPatch {
    pub name: Option<String>,
    pub color: Option<String>,
    pub icon: Option<String>,
    pub archived: Option<bool>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    pub id: Uuid,
    pub name: String,
    pub archived: bool,
    pub builtin: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub base_currency: Currency,
}

/// The base currency of a ledger whose document never set one.
pub fn default_base_currency() -> Currency {
    Currency::from_code("USD").expect("USD is known")
}

// ---- validation helpers shared by the store ----

/// Parses a `YYYY-MM-DD` date within the years a ledger holds; errors name `field`.
pub fn parse_date(field: &str, input: &str) -> Result<NaiveDate> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::invalid(field, "is required (YYYY-MM-DD)"));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, format!("{text:?} is not a valid date (YYYY-MM-DD)")))?;
    check_year(field, date)?;
    Ok(date)
}

pub(crate) fn check_text(field: &str, input: &str, max: usize, required: bool) -> Result<String> {
    let text = input.trim();
    if required && text.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    let len = text.chars().count();
    if len > max {
        return Err(Error::invalid(field, format!("is {len} characters long; at most {max} are allowed")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(text.to_string())
}

/// Tags are trimmed, lower-cased, de-duplicated and sorted; a tag may not contain a comma.
pub(crate) fn check_tags(input: &[String]) -> Result<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for raw in input {
        let tag = raw.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.contains(',') {
            return Err(Error::invalid("tags", format!("tag {tag:?} contains a comma")));
        }
        if tag.chars().count() > MAX_TAG {
            return Err(Error::invalid("tags", format!("tag {tag:?} is longer than {MAX_TAG} characters")));
        }
        if tag.chars().any(char::is_control) {
            return Err(Error::invalid("tags", "contain control characters"));
        }
        tags.push(tag);
    }
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags are allowed")));
    }
    Ok(tags)
}

pub(crate) fn check_color(input: &str) -> Result<String> {
    let text = input.trim().to_ascii_lowercase();
    let ok = text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(Error::invalid("color", format!("{text:?} is not a colour like #1e88e5")));
    }
    Ok(text)
}

pub(crate) fn parse_currency(field: &str, input: &str) -> Result<Currency> {
    Currency::from_code(input)
        .ok_or_else(|| Error::invalid(field, format!("{:?} is not an ISO 4217 currency code", input.trim())))
}

/// Checks a whole record (from a backup, or one being put back by undo) by the rules typed
/// input follows, and returns it normalized. `at` prefixes the field names in errors.
pub(crate) fn check_record(
    t: &Transaction,
    at: &str,
    category_known: impl Fn(uuid::Uuid) -> bool,
    method_known: impl Fn(uuid::Uuid) -> bool,
) -> Result<Transaction> {
    let field = |name: &str| format!("{at}{name}");
    let amount = t.currency.check_amount(&field("amount"), t.amount)?;
    check_year(&field("date"), t.date)?;
    if !category_known(t.category_id) {
        return Err(Error::invalid(field("category_id"), format!("no category {}", t.category_id)));
    }
    if !method_known(t.payment_method_id) {
        return Err(Error::invalid(field("payment_method_id"), format!("no payment method {}", t.payment_method_id)));
    }
    Ok(Transaction {
        amount,
        description: check_text(&field("description"), &t.description, MAX_DESCRIPTION, false)?,
        notes: check_text(&field("notes"), &t.notes, MAX_NOTES, false)?,
        tags: check_tags(&t.tags).map_err(|e| Error::invalid(field("tags"), e.to_string()))?,
        base_amount: None,
        conflicts: BTreeMap::new(),
        ..t.clone()
    })
}

pub(crate) fn check_year(field: &str, date: NaiveDate) -> Result<()> {
    let year = chrono::Datelike::year(&date);
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(Error::invalid(field, format!("year must be between {MIN_YEAR} and {MAX_YEAR}")));
    }
    Ok(())
}
