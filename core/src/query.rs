//! Reads. Every query here uses the materialized view; none loads the document.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doc;
use crate::error::{Error, Result};
use crate::model::{self, Category, Kind, PaymentMethod, Settings, Transaction};
use crate::money::{self, Currency};
use crate::store::Store;
use crate::view::date_key;

pub const MAX_PAGE: u32 = 1_000;

/// Which transactions to list. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// First day, inclusive.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<NaiveDate>,
    pub kind: Option<Kind>,
    pub categories: Vec<Uuid>,
    pub payment_methods: Vec<Uuid>,
    pub min_amount: Option<Decimal>,
    pub max_amount: Option<Decimal>,
    /// Transactions with any of these tags.
    pub tags: Vec<String>,
    /// Words that must all appear (as word prefixes) in the description or notes.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    #[default]
    Date,
    Amount,
    Description,
    Created,
}

impl FromStr for SortBy {
    type Err = Error;
    fn from_str(s: &str) -> Result<SortBy> {
        match s {
            "date" => Ok(SortBy::Date),
            "amount" => Ok(SortBy::Amount),
            "description" => Ok(SortBy::Description),
            "created" => Ok(SortBy::Created),
            other => Err(Error::invalid("sort", format!("{other:?} is not one of date, amount, description, created"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sort {
    pub by: SortBy,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort { by: SortBy::Date, descending: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> PageRequest {
        PageRequest { offset: 0, limit: 50 }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionPage {
    pub items: Vec<Transaction>,
    /// How many transactions match the filter in all.
    pub total: u64,
}

/// Income, expenses and their difference in one currency.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub income: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expense: Decimal,
    /// income − expense
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub net: Decimal,
    pub count: u64,
}

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(date: NaiveDate) -> Month {
        Month { year: date.year(), month: date.month() }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("months are valid")
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("not the first day ever")
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    pub fn minus(self, months: u32) -> Month {
        let index = self.year * 12 + self.month as i32 - 1 - months as i32;
        Month { year: index.div_euclid(12), month: index.rem_euclid(12) as u32 + 1 }
    }

    fn key(self) -> i64 {
        i64::from(self.year) * 100 + i64::from(self.month)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = Error;
    fn from_str(s: &str) -> Result<Month> {
        let date = NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
            .map_err(|_| Error::invalid("month", format!("{s:?} is not a month (YYYY-MM)")))?;
        let month = Month::of(date);
        check_month(month)?;
        Ok(month)
    }
}

/// Months outside the years a ledger can hold are refused (and keep month arithmetic away
/// from the calendar's ends).
fn check_month(m: Month) -> Result<()> {
    if !(model::MIN_YEAR..=model::MAX_YEAR).contains(&m.year) || !(1..=12).contains(&m.month) {
        return Err(Error::invalid(
            "month",
            format!("{m} is not between {}-01 and {}-12", model::MIN_YEAR, model::MAX_YEAR),
        ));
    }
    Ok(())
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Month, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub month: Month,
    /// One entry per currency used that month; empty for a month without transactions.
    pub totals: Vec<Totals>,
    /// The month in the base currency: every transaction with a rate, converted.
    pub base: Totals,
    /// What could not be converted (no rate), per currency.
    pub unconverted: Vec<Unconverted>,
}

/// Income, expenses and net over a period: converted into the base currency, per original
/// currency, and what could not be converted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Every transaction with a rate for its date, converted into the base currency.
    pub base: Totals,
    /// Per original currency, converted or not.
    pub currencies: Vec<Totals>,
    /// Transactions of currencies with no rate for their dates: shown as such, never as zero.
    pub unconverted: Vec<Unconverted>,
}

/// Transactions of a currency that has no rate for their dates: shown as such, never as zero.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unconverted {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    pub count: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub income: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expense: Decimal,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryTotal {
    pub category_id: Uuid,
    pub name: String,
    pub color: String,
    pub icon: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total: Decimal,
    pub count: u64,
    /// Share of the kind's total in this currency, in percent with one decimal.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub percent: Decimal,
}

/// What a grouped aggregate is grouped by.
#[derive(Clone, Copy)]
enum Group {
    None,
    Month,
    Category,
}

/// Sums of one aggregate row, in view units: the original amounts and their count, the
/// converted amounts and how many were converted, and the original sum of those that were not.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    total: i128,
    count: u64,
    base: i128,
    base_count: u64,
    unrated: i128,
}

/// One aggregate row: group key, kind, currency → sums.
type Aggregates = BTreeMap<(Vec<u8>, i64, String), Sums>;

/// One aggregate row without its group: kind, currency code, sums.
type KindTotal<'a> = (i64, &'a str, Sums);

/// The tables a transaction is read from: the view keeps local numbers for categories and
/// payment methods, their ids live in their own tables.
pub(crate) const TX_FROM: &str =
    "transactions t LEFT JOIN categories c ON c.no = t.category LEFT JOIN payment_methods p ON p.no = t.payment_method";

pub(crate) const TX_COLUMNS: &str = "t.id, t.kind, t.amount, t.currency, t.date, c.id, p.id, t.description,
     t.notes, t.tags, t.created_at, t.updated_at, t.conflicts, t.base_amount,
     coalesce((SELECT value FROM settings WHERE key = 'base_currency'), 'USD')";

impl Store {
    pub fn settings(&self) -> Result<Settings> {
        let code: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'base_currency'", [], |r| r.get(0))
            .optional()?;
        let base_currency =
            code.as_deref().and_then(Currency::from_code).unwrap_or_else(crate::model::default_base_currency);
        Ok(Settings { base_currency })
    }

    pub fn transaction(&self, id: Uuid) -> Result<Option<Transaction>> {
        let sql = format!("SELECT {TX_COLUMNS} FROM {TX_FROM} WHERE t.id = ?1");
        Ok(self.conn.query_row(&sql, [id.as_bytes()], row_to_transaction).optional()?)
    }

    /// Lists transactions matching `filter`, sorted and paged.
    pub fn list_transactions(&self, filter: &Filter, sort: Sort, page: PageRequest) -> Result<TransactionPage> {
        if page.limit == 0 || page.limit > MAX_PAGE {
            return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
        }
        let (where_sql, args) = filter_sql(filter, false)?;
        let fts = filter.text.as_deref().and_then(fts_query);
        let fts_matches: Option<i64> = match &fts {
            Some(q) => Some(self.conn.query_row(
                "SELECT count(*) FROM transactions_fts WHERE transactions_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )?),
            None => None,
        };
        // Free text alone: the full-text index counts its matches without touching rows.
        let text_only = Filter { text: None, ..filter.clone() } == Filter::default();
        // A common word with a category filter: count along the category index and
        // probe the matches, rather than reading every match.
        let many_matches = fts_matches.is_some_and(|n| n > PROBE_MATCHES);
        let narrowed = !filter.categories.is_empty();
        let total: i64 = match fts_matches {
            Some(n) if text_only => n,
            _ => {
                let (count_where, count_args) = if many_matches && narrowed {
                    filter_sql(filter, true)?
                } else {
                    (where_sql.clone(), args.clone())
                };
                self.conn.query_row(
                    &format!("SELECT count(*) FROM transactions t {count_where}"),
                    params_from_iter(count_args.iter()),
                    |r| r.get(0),
                )?
            }
        };
        // The row id breaks ties, which every index carries, so date order needs no sort.
        let dir = if sort.descending { "DESC" } else { "ASC" };
        let order = match sort.by {
            SortBy::Date => format!("t.date {dir}, t.rowid {dir}"),
            SortBy::Amount => format!("t.amount {dir}, t.rowid {dir}"),
            SortBy::Description => format!("t.description COLLATE NOCASE {dir}, t.rowid {dir}"),
            SortBy::Created => format!("t.created_at {dir}, t.rowid {dir}"),
        };
        // A common word in date order: walking the date index and probing the set of matches
        // beats reading every match to sort it. A rare word: reading its few matches is cheaper.
        let probe = sort.by == SortBy::Date && many_matches;
        let (page_where, page_args) = if probe { filter_sql(filter, true)? } else { (where_sql, args) };
        // Two phases: sort narrow (row id, key) pairs, then read the page's rows in full.
        let sql = format!(
            "SELECT t.rowid FROM transactions t {page_where} ORDER BY {order} LIMIT {} OFFSET {}",
            page.limit, page.offset
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rowids = stmt
            .query_map(params_from_iter(page_args.iter()), |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let items = if rowids.is_empty() {
            Vec::new()
        } else {
            let list = rowids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            let mut stmt =
                self.conn.prepare(&format!("SELECT t.rowid, {TX_COLUMNS} FROM {TX_FROM} WHERE t.rowid IN ({list})"))?;
            let mut rows: std::collections::HashMap<i64, Transaction> = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, row_to_transaction_at(r, 1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rowids.iter().filter_map(|id| rows.remove(id)).collect()
        };
        Ok(TransactionPage { items, total: total as u64 })
    }

    /// Every transaction in id order, `limit` at a time after `after`: for exporting or
    /// republishing a whole ledger without holding it in memory.
    pub fn transactions_by_id(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Transaction>> {
        let after = after.map(|id| id.as_bytes().to_vec()).unwrap_or_default();
        let sql = format!("SELECT {TX_COLUMNS} FROM {TX_FROM} WHERE t.id > ?1 ORDER BY t.id LIMIT ?2");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![after, limit], row_to_transaction)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The most recent transactions by date.
    pub fn recent_transactions(&self, limit: u32) -> Result<Vec<Transaction>> {
        Ok(self.list_transactions(&Filter::default(), Sort::default(), PageRequest { offset: 0, limit })?.items)
    }

    /// Income, expenses and net between two days (inclusive), converted into the base
    /// currency and per currency; open ends mean "since the first" and "up to the last"
    /// transaction.
    pub fn balance(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Balance> {
        let agg = self.aggregate(from, to, Group::None)?;
        let base = self.settings()?.base_currency;
        Ok(balance_of(base, agg.iter().map(|((_, kind, cur), v)| (*kind, cur.as_str(), *v))))
    }

    /// One summary per month from `first` to `last` inclusive, months without transactions
    /// included (with no totals).
    pub fn monthly_summaries(&self, first: Month, last: Month) -> Result<Vec<MonthSummary>> {
        check_month(first)?;
        check_month(last)?;
        if first > last {
            return Err(Error::invalid("month", "the first month is after the last"));
        }
        let agg = self.aggregate(Some(first.first_day()), Some(last.last_day()), Group::Month)?;
        let base = self.settings()?.base_currency;
        let mut by_month: BTreeMap<i64, Vec<KindTotal<'_>>> = BTreeMap::new();
        for ((key, kind, cur), v) in &agg {
            let month = i64::from_le_bytes(key.as_slice().try_into().unwrap_or_default());
            by_month.entry(month).or_default().push((*kind, cur.as_str(), *v));
        }
        let mut out = Vec::new();
        let mut m = first;
        while m <= last {
            let rows = by_month.remove(&m.key()).unwrap_or_default();
            let b = balance_of(base, rows.into_iter());
            out.push(MonthSummary { month: m, totals: b.currencies, base: b.base, unconverted: b.unconverted });
            m = m.next();
        }
        Ok(out)
    }

    /// The `months` months ending with `last`.
    pub fn trend(&self, last: Month, months: u32) -> Result<Vec<MonthSummary>> {
        if months == 0 || months > 120 {
            return Err(Error::invalid("months", "must be between 1 and 120"));
        }
        check_month(last)?;
        self.monthly_summaries(last.minus(months - 1), last)
    }

    /// Totals per category for one kind between two days in the base currency, largest
    /// first. Transactions without a rate are left out (the balance lists them).
    pub fn category_breakdown(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        kind: Kind,
    ) -> Result<Vec<CategoryTotal>> {
        let agg = self.aggregate(from, to, Group::Category)?;
        let base = self.settings()?.base_currency;
        let categories: BTreeMap<Uuid, Category> = self.all_categories()?.into_iter().map(|c| (c.id, c)).collect();
        let numbers = self.category_numbers()?;
        let mut per_category: BTreeMap<Uuid, (i128, u64)> = BTreeMap::new();
        for ((key, k, _), sums) in &agg {
            if *k != kind.as_i64() || sums.base_count == 0 {
                continue;
            }
            let no = i64::from_le_bytes(key.as_slice().try_into().unwrap_or_default());
            let id = numbers.get(&no).copied().unwrap_or_else(|| doc::fallback_category(kind));
            let e = per_category.entry(id).or_default();
            e.0 += sums.base;
            e.1 += sums.base_count;
        }
        let all: i128 = per_category.values().map(|v| v.0).sum();
        let mut out: Vec<CategoryTotal> = per_category
            .into_iter()
            .map(|(id, (units, count))| {
                CategoryTotal::new(id, categories.get(&id), base, units_to_decimal(units), units_to_decimal(all), count)
            })
            .collect();
        CategoryTotal::sort(&mut out);
        Ok(out)
    }

    /// Sums over a period: whole months from `month_totals`, the partial months at either end
    /// from the transactions themselves.
    fn aggregate(&self, from: Option<NaiveDate>, to: Option<NaiveDate>, group: Group) -> Result<Aggregates> {
        let mut out = Aggregates::new();
        let Some(split) = PeriodSplit::of(from, to) else { return Ok(out) };
        let (month_key, tx_key) = match group {
            Group::None => ("x''", "x''"),
            Group::Month => ("month", "t.date / 100"),
            Group::Category => ("category", "t.category"),
        };
        let mut add = |sql: &str, args: [i64; 2]| -> Result<()> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let mut rows = stmt.query(args)?;
            while let Some(r) = rows.next()? {
                let key = match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Integer(i) => i.to_le_bytes().to_vec(),
                    rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                let entry = out.entry((key, r.get(1)?, r.get(2)?)).or_default();
                entry.total += i128::from(r.get::<_, i64>(3)?);
                entry.count += r.get::<_, i64>(4)? as u64;
                entry.base += i128::from(r.get::<_, i64>(5)?);
                entry.base_count += r.get::<_, i64>(6)? as u64;
                entry.unrated += i128::from(r.get::<_, i64>(7)?);
            }
            Ok(())
        };
        let raw = format!(
            "SELECT {tx_key}, t.kind, t.currency, sum(t.amount), count(*), coalesce(sum(t.base_amount), 0),
                    count(t.base_amount), sum(CASE WHEN t.base_amount IS NULL THEN t.amount ELSE 0 END)
             FROM transactions t WHERE t.date BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3"
        );
        if let Some((first_full, last_full)) = split.whole {
            add(
                &format!(
                    "SELECT {month_key}, kind, currency, sum(total), sum(count), sum(base_total), sum(base_count),
                            sum(unrated_total)
                     FROM month_totals WHERE month BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3"
                ),
                [first_full.key(), last_full.key()],
            )?;
        }
        for (a, b) in split.days {
            add(&raw, [date_key(a), date_key(b)])?;
        }
        Ok(out)
    }

    /// Live (not deleted) categories, archived ones only if asked for, by kind and name.
    pub fn categories(&self, include_archived: bool) -> Result<Vec<Category>> {
        Ok(self.all_categories()?.into_iter().filter(|c| !c.deleted && (include_archived || !c.archived)).collect())
    }

    /// The view's local number of every category.
    fn category_numbers(&self) -> Result<std::collections::HashMap<i64, Uuid>> {
        let mut stmt = self.conn.prepare_cached("SELECT no, id FROM categories")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, uuid_col(r, 1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every category the document knows, deleted ones included.
    pub fn all_categories(&self) -> Result<Vec<Category>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, kind, color, icon, archived, deleted, merged_into FROM categories ORDER BY kind, name COLLATE NOCASE, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let id = uuid_col(r, 0)?;
            let merged: Option<Vec<u8>> = r.get(7)?;
            Ok(Category {
                id,
                name: r.get(1)?,
                kind: Kind::from_i64(r.get(2)?),
                color: r.get(3)?,
                icon: r.get(4)?,
                archived: r.get(5)?,
                builtin: doc::is_builtin_category(id),
                deleted: r.get(6)?,
                merged_into: merged.and_then(|m| Uuid::from_slice(&m).ok()),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn category(&self, id: Uuid) -> Result<Option<Category>> {
        Ok(self.all_categories()?.into_iter().find(|c| c.id == id))
    }

    /// A live category by id or by name (case-insensitive), of the given kind if one is given.
    pub fn find_category(&self, kind: Option<Kind>, name_or_id: &str) -> Result<Category> {
        pick_category(&self.categories(true)?, kind, name_or_id)
    }

    /// How many transactions are filed under a category.
    pub fn category_usage(&self, id: Uuid) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM transactions WHERE category = (SELECT no FROM categories WHERE id = ?1)",
            [id.as_bytes()],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    pub fn payment_methods(&self, include_archived: bool) -> Result<Vec<PaymentMethod>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, archived FROM payment_methods ORDER BY name COLLATE NOCASE, id")?;
        let rows = stmt.query_map([], |r| {
            let id = uuid_col(r, 0)?;
            Ok(PaymentMethod { id, name: r.get(1)?, archived: r.get(2)?, builtin: doc::is_builtin_payment_method(id) })
        })?;
        let all: Vec<PaymentMethod> = rows.collect::<rusqlite::Result<_>>()?;
        Ok(all.into_iter().filter(|m| include_archived || !m.archived).collect())
    }

    /// A payment method by id or name (case-insensitive; `bank_transfer` also matches
    /// "Bank transfer").
    pub fn find_payment_method(&self, name_or_id: &str) -> Result<PaymentMethod> {
        pick_payment_method(&self.payment_methods(true)?, name_or_id)
    }

    /// Every tag in use, with how many transactions carry it.
    pub fn tags(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT tag, count(*) FROM transaction_tags GROUP BY tag ORDER BY tag")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Transactions whose id starts or ends with `fragment` (hex digits, dashes ignored);
    /// at most `limit` of them. Lets people type a short id: the end of a time-ordered id is
    /// its random part, so that is what lists show.
    pub fn transaction_ids_matching(&self, fragment: &str, limit: u32) -> Result<Vec<Uuid>> {
        let hex: String = fragment.chars().filter(|c| *c != '-').collect::<String>().to_ascii_uppercase();
        if hex.len() < 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "id",
                format!("{fragment:?} is not a transaction id (give at least 4 of its hex digits)"),
            ));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM transactions WHERE substr(hex(id), 1, length(?1)) = ?1 OR substr(hex(id), -length(?1)) = ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![hex, limit], |r| uuid_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn transaction_exists(&self, id: Uuid) -> Result<bool> {
        Ok(self.conn.prepare_cached("SELECT 1 FROM transactions WHERE id = ?1")?.exists([id.as_bytes()])?)
    }

    pub fn transaction_count(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM transactions", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

/// A period cut for summing: the whole months in it (summed from monthly totals), and the days
/// of partial months at either end (summed from the transactions). Open ends reach the years
/// a ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodSplit {
    pub whole: Option<(Month, Month)>,
    pub days: Vec<(NaiveDate, NaiveDate)>,
}

impl PeriodSplit {
    /// `None` when the period holds no day a ledger can have.
    pub fn of(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Option<PeriodSplit> {
        // Every stored date lies within the years validation allows; clamping keeps month
        // arithmetic away from the calendar's ends.
        let first = NaiveDate::from_ymd_opt(model::MIN_YEAR, 1, 1).expect("valid");
        let last = NaiveDate::from_ymd_opt(model::MAX_YEAR, 12, 31).expect("valid");
        let (from, to) = (from.unwrap_or(first).max(first), to.unwrap_or(last).min(last));
        if from > to {
            return None;
        }
        let first_full = if from.day() == 1 { Month::of(from) } else { Month::of(from).next() };
        let last_full = if to.succ_opt().is_none_or(|d| d.day() == 1) { Month::of(to) } else { Month::of(to).minus(1) };
        if first_full > last_full {
            return Some(PeriodSplit { whole: None, days: vec![(from, to)] });
        }
        let mut days = Vec::new();
        if from < first_full.first_day() {
            days.push((from, first_full.first_day().pred_opt().expect("after MIN")));
        }
        if to > last_full.last_day() {
            days.push((last_full.last_day().succ_opt().expect("before MAX"), to));
        }
        Some(PeriodSplit { whole: Some((first_full, last_full)), days })
    }
}

/// One row of the view's monthly totals: a month's transactions of one category, kind and
/// currency (what a server projects for its dashboard's sums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRow {
    pub month: Month,
    pub category_id: Uuid,
    pub sums: GroupSums,
}

impl Store {
    /// The monthly totals of the given months (all of them when `None`).
    pub fn month_rows(&self, months: Option<&[Month]>) -> Result<Vec<MonthRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.month, c.id, m.kind, m.currency, m.total, m.count, m.base_total, m.base_count, m.unrated_total
             FROM month_totals m JOIN categories c ON c.no = m.category ORDER BY 1, 2, 3, 4",
        )?;
        let wanted: Option<std::collections::HashSet<i64>> = months.map(|ms| ms.iter().map(|m| m.key()).collect());
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                uuid_col(r, 1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                Sums {
                    total: i128::from(r.get::<_, i64>(4)?),
                    count: r.get::<_, i64>(5)? as u64,
                    base: i128::from(r.get::<_, i64>(6)?),
                    base_count: r.get::<_, i64>(7)? as u64,
                    unrated: i128::from(r.get::<_, i64>(8)?),
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (key, category_id, kind, currency, sums) = row?;
            if wanted.as_ref().is_some_and(|w| !w.contains(&key)) {
                continue;
            }
            let month = Month { year: (key / 100) as i32, month: (key % 100) as u32 };
            if let Some(sums) = GroupSums::of_units(kind, &currency, &sums) {
                out.push(MonthRow { month, category_id, sums });
            }
        }
        Ok(out)
    }
}

/// Finds a category in `live` by id or case-insensitive name.
pub(crate) fn pick_category(live: &[Category], kind: Option<Kind>, name_or_id: &str) -> Result<Category> {
    let wanted = name_or_id.trim();
    let by_id = Uuid::parse_str(wanted).ok().and_then(|id| live.iter().find(|c| c.id == id));
    let found = match by_id {
        Some(c) => Some(c.clone()),
        None => {
            let matches: Vec<&Category> = live
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(wanted) && kind.is_none_or(|k| c.kind == k))
                .collect();
            match matches.as_slice() {
                [one] => Some((*one).clone()),
                [] => None,
                _ => {
                    return Err(Error::invalid(
                        "category",
                        format!("{wanted:?} exists for both expenses and income; give the kind"),
                    ))
                }
            }
        }
    };
    found.ok_or_else(|| {
        Error::invalid(
            "category",
            format!("no category {wanted:?}{}", kind.map(|k| format!(" for {k}")).unwrap_or_default()),
        )
    })
}

pub(crate) fn pick_payment_method(all: &[PaymentMethod], name_or_id: &str) -> Result<PaymentMethod> {
    let wanted = name_or_id.trim();
    let normalized = wanted.replace(['_', '-'], " ");
    all.iter()
        .find(|m| Uuid::parse_str(wanted).is_ok_and(|id| id == m.id) || m.name.eq_ignore_ascii_case(&normalized))
        .cloned()
        .ok_or_else(|| Error::invalid("payment_method", format!("no payment method {wanted:?}")))
}

/// Above this many full-text matches, a date-ordered page probes the matches while walking
/// the date index instead of reading them all.
const PROBE_MATCHES: i64 = 1_000;

/// The WHERE clause for a filter. With `probe_text`, the full-text condition is written so
/// that SQLite cannot drive the query from it (`+t.rowid`) and walks the date index instead.
fn filter_sql(f: &Filter, probe_text: bool) -> Result<(String, Vec<SqlValue>)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    let arg = |v: SqlValue, args: &mut Vec<SqlValue>| {
        args.push(v);
        format!("?{}", args.len())
    };
    if let (Some(from), Some(to)) = (f.from, f.to) {
        if from > to {
            return Err(Error::invalid("from", "the start date is after the end date"));
        }
    }
    if let Some(from) = f.from {
        clauses.push(format!("t.date >= {}", arg(SqlValue::Integer(date_key(from)), &mut args)));
    }
    if let Some(to) = f.to {
        clauses.push(format!("t.date <= {}", arg(SqlValue::Integer(date_key(to)), &mut args)));
    }
    if let Some(kind) = f.kind {
        clauses.push(format!("t.kind = {}", arg(SqlValue::Integer(kind.as_i64()), &mut args)));
    }
    if !f.categories.is_empty() {
        let list: Vec<String> =
            f.categories.iter().map(|c| arg(SqlValue::Blob(c.as_bytes().to_vec()), &mut args)).collect();
        clauses.push(format!("t.category IN (SELECT no FROM categories WHERE id IN ({}))", list.join(",")));
    }
    if !f.payment_methods.is_empty() {
        let list: Vec<String> =
            f.payment_methods.iter().map(|c| arg(SqlValue::Blob(c.as_bytes().to_vec()), &mut args)).collect();
        clauses.push(format!("t.payment_method IN (SELECT no FROM payment_methods WHERE id IN ({}))", list.join(",")));
    }
    let units = |field: &str, v: Decimal| {
        money::to_units(v).ok_or_else(|| Error::invalid(field, "has more than four decimals or is too large"))
    };
    if let Some(min) = f.min_amount {
        clauses.push(format!("t.amount >= {}", arg(SqlValue::Integer(units("min_amount", min)?), &mut args)));
    }
    if let Some(max) = f.max_amount {
        clauses.push(format!("t.amount <= {}", arg(SqlValue::Integer(units("max_amount", max)?), &mut args)));
    }
    if !f.tags.is_empty() {
        let list: Vec<String> =
            f.tags.iter().map(|t| arg(SqlValue::Text(t.trim().to_lowercase()), &mut args)).collect();
        let mut sub = format!("SELECT tx_rowid FROM transaction_tags WHERE tag IN ({})", list.join(","));
        if let Some(from) = f.from {
            sub.push_str(&format!(" AND date >= {}", arg(SqlValue::Integer(date_key(from)), &mut args)));
        }
        if let Some(to) = f.to {
            sub.push_str(&format!(" AND date <= {}", arg(SqlValue::Integer(date_key(to)), &mut args)));
        }
        clauses.push(format!("t.rowid IN ({sub})"));
    }
    if let Some(text) = f.text.as_deref().and_then(fts_query) {
        clauses.push(format!(
            "{}t.rowid IN (SELECT rowid FROM transactions_fts WHERE transactions_fts MATCH {})",
            if probe_text { "+" } else { "" },
            arg(SqlValue::Text(text), &mut args)
        ));
    }
    let sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    Ok((sql, args))
}

/// Turns what a user typed into an FTS5 query: every word must appear as a word prefix.
/// Quoting each word keeps FTS5 syntax characters literal.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn uuid_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let bytes: Vec<u8> = r.get(i)?;
    Uuid::from_slice(&bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e)))
}

fn opt_uuid_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let bytes: Option<Vec<u8>> = r.get(i)?;
    Ok(bytes.and_then(|b| Uuid::from_slice(&b).ok()))
}

/// The view's integer units as a decimal. Sums of up to 2^96 units are exact in a Decimal;
/// anything larger cannot come from validated amounts.
fn units_to_decimal(units: impl Into<i128>) -> Decimal {
    Decimal::try_from_i128_with_scale(units.into(), money::AMOUNT_SCALE).unwrap_or(Decimal::MAX)
}

/// A total as shown: exact, with at least the currency's minor units ("2500.00").
fn in_currency(total: Decimal, currency: Currency) -> Decimal {
    let mut v = total.normalize();
    v.rescale(currency.minor_units().max(v.scale()));
    v
}

impl Totals {
    /// Income and expenses of one currency, formatted as everywhere (at least the
    /// currency's minor units), with their net.
    pub fn new(currency: Currency, income: Decimal, expense: Decimal, count: u64) -> Totals {
        Totals {
            currency,
            income: in_currency(income, currency),
            expense: in_currency(expense, currency),
            net: in_currency(income - expense, currency),
            count,
        }
    }
}

impl CategoryTotal {
    /// One category's total and its share (one decimal) of `all`, its currency's total for
    /// the kind. A category the ledger does not know shows as "Unknown".
    pub fn new(
        category_id: Uuid,
        category: Option<&Category>,
        currency: Currency,
        total: Decimal,
        all: Decimal,
        count: u64,
    ) -> CategoryTotal {
        let mut percent = if all.is_zero() { Decimal::ZERO } else { (total * Decimal::ONE_HUNDRED / all).round_dp(1) };
        percent.rescale(1);
        CategoryTotal {
            category_id,
            name: category.map(|c| c.name.clone()).unwrap_or_else(|| "Unknown".into()),
            color: category.map(|c| c.color.clone()).unwrap_or_else(|| "#757575".into()),
            icon: category.map(|c| c.icon.clone()).unwrap_or_default(),
            currency,
            total: in_currency(total, currency),
            count,
            percent,
        }
    }

    /// The breakdown's order: by currency, largest first, then by name.
    pub fn sort(rows: &mut [CategoryTotal]) {
        rows.sort_by(|a, b| a.currency.cmp(&b.currency).then(b.total.cmp(&a.total)).then(a.name.cmp(&b.name)));
    }
}

pub(crate) fn row_to_transaction(r: &Row<'_>) -> rusqlite::Result<Transaction> {
    row_to_transaction_at(r, 0)
}

/// Reads the `TX_COLUMNS` that start at column `o`.
fn row_to_transaction_at(r: &Row<'_>, o: usize) -> rusqlite::Result<Transaction> {
    let code: String = r.get(o + 3)?;
    let currency = Currency::from_code(&code).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            o + 3,
            rusqlite::types::Type::Text,
            format!("unknown currency {code}").into(),
        )
    })?;
    let date: i64 = r.get(o + 4)?;
    let date = NaiveDate::from_ymd_opt((date / 10_000) as i32, (date / 100 % 100) as u32, (date % 100) as u32)
        .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(o + 4, date))?;
    let tags: Option<String> = r.get(o + 9)?;
    let conflicts: Option<String> = r.get(o + 12)?;
    let base_units: Option<i64> = r.get(o + 13)?;
    let base_code: Option<String> = r.get(o + 14)?;
    let base_amount = match (base_units, base_code.as_deref().and_then(Currency::from_code)) {
        (Some(units), Some(base)) => Some(in_currency(units_to_decimal(units), base)),
        _ => None,
    };
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let ms: i64 = r.get(o + i)?;
        DateTime::from_timestamp_millis(ms).ok_or(rusqlite::Error::IntegralValueOutOfRange(o + i, ms))
    };
    let kind = Kind::from_i64(r.get(o + 1)?);
    Ok(Transaction {
        id: uuid_col(r, o)?,
        kind,
        amount: in_currency(units_to_decimal(r.get::<_, i64>(o + 2)?), currency),
        currency,
        date,
        // Only a forged document leaves these without a row; show the fallbacks then.
        category_id: opt_uuid_col(r, o + 5)?.unwrap_or_else(|| doc::fallback_category(kind)),
        payment_method_id: opt_uuid_col(r, o + 6)?.unwrap_or_else(|| doc::default_payment_method_id("other")),
        description: r.get(o + 7)?,
        notes: r.get::<_, Option<String>>(o + 8)?.unwrap_or_default(),
        tags: tags.as_deref().map(doc::split_tags).unwrap_or_default(),
        created_at: time(10)?,
        updated_at: time(11)?,
        base_amount,
        conflicts: conflicts.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
    })
}

/// Sums of the transactions of one kind and currency (one group of an aggregate), exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSums {
    pub kind: Kind,
    pub currency: Currency,
    /// Original amounts, and how many transactions.
    pub total: Decimal,
    pub count: u64,
    /// Converted amounts of those with a rate, and how many they are.
    pub base: Decimal,
    pub base_count: u64,
    /// Original amounts of those without a rate.
    pub unrated: Decimal,
}

impl GroupSums {
    fn of_units(kind: i64, currency: &str, s: &Sums) -> Option<GroupSums> {
        Some(GroupSums {
            kind: Kind::from_i64(kind),
            currency: Currency::from_code(currency)?,
            total: units_to_decimal(s.total),
            count: s.count,
            base: units_to_decimal(s.base),
            base_count: s.base_count,
            unrated: units_to_decimal(s.unrated),
        })
    }
}

impl Balance {
    /// A balance from groups of sums (the view's, or a server's aggregation of the same
    /// records): converted into `base`, per currency, and what was not converted.
    pub fn of(base: Currency, rows: impl IntoIterator<Item = GroupSums>) -> Balance {
        let (mut income, mut expense, mut count) = (Decimal::ZERO, Decimal::ZERO, 0u64);
        let mut per_currency: BTreeMap<Currency, (Decimal, Decimal, u64)> = BTreeMap::new();
        let mut missing: BTreeMap<Currency, (Decimal, Decimal, u64)> = BTreeMap::new();
        for g in rows {
            let is_income = g.kind == Kind::Income;
            let (all, none) = (per_currency.entry(g.currency).or_default(), g.count.saturating_sub(g.base_count));
            if is_income {
                income += g.base;
                all.0 += g.total;
            } else {
                expense += g.base;
                all.1 += g.total;
            }
            all.2 += g.count;
            count += g.base_count;
            if none > 0 {
                let e = missing.entry(g.currency).or_default();
                if is_income {
                    e.0 += g.unrated;
                } else {
                    e.1 += g.unrated;
                }
                e.2 += none;
            }
        }
        Balance {
            base: Totals::new(base, income, expense, count),
            currencies: per_currency.into_iter().map(|(c, (i, e, n))| Totals::new(c, i, e, n)).collect(),
            unconverted: missing.into_iter().map(|(c, (i, e, n))| Unconverted::new(c, i, e, n)).collect(),
        }
    }
}

/// A balance from the view's aggregate rows.
fn balance_of<'a>(base: Currency, rows: impl Iterator<Item = KindTotal<'a>>) -> Balance {
    Balance::of(base, rows.filter_map(|(kind, cur, sums)| GroupSums::of_units(kind, cur, &sums)))
}

impl Unconverted {
    pub fn new(currency: Currency, income: Decimal, expense: Decimal, count: u64) -> Unconverted {
        Unconverted { currency, count, income: in_currency(income, currency), expense: in_currency(expense, currency) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_and_parse() {
        let m: Month = "2024-01".parse().unwrap();
        assert_eq!(m.minus(1).to_string(), "2023-12");
        assert_eq!(m.minus(13).to_string(), "2022-12");
        assert_eq!(Month { year: 2024, month: 2 }.last_day().to_string(), "2024-02-29");
        assert_eq!(Month { year: 2023, month: 12 }.next().to_string(), "2024-01");
        assert!("2024-13".parse::<Month>().is_err());
    }

    #[test]
    fn fts_queries_quote_user_text() {
        assert_eq!(fts_query("coffee beans").unwrap(), "\"coffee\"* \"beans\"*");
        assert_eq!(fts_query("AND OR \"x").unwrap(), "\"AND\"* \"OR\"* \"x\"*");
        assert_eq!(fts_query("  -- "), None);
    }
}
