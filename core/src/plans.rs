//! Budgets with alerts, recurring transactions and bill reminders: the types, the schedule
//! arithmetic and the budget figures. Pure functions of their inputs: the day it is (`today`)
//! and the time (`now`) are always passed in. The store's side is in `plans/store.rs`.
//!
//! - A budget covers expenses in its currency (the ledger's base currency when it was made),
//!   of one category or of all, per calendar month or year. With rollover, what was left (or
//!   overspent) in every earlier period since its start moves into the next.
//! - An alert is raised once per budget, threshold and period: its key in the document is
//!   `(period start, threshold)`, so devices raising it concurrently write one alert.
//! - A recurring rule's occurrence books a transaction whose id derives from (rule, due
//!   date), and the rule's `done` map records it, so two devices never book one occurrence
//!   twice and a booked occurrence the user deleted is not booked again.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::Kind;
use crate::money::Currency;

mod store;

/// Thresholds a budget gets unless told otherwise, in percent.
pub const DEFAULT_THRESHOLDS: [u32; 2] = [80, 100];
pub const MAX_THRESHOLDS: usize = 10;
pub const MAX_THRESHOLD: u32 = 1_000;
pub const MAX_INTERVAL: u32 = 999;
pub const MAX_REMIND_DAYS: u32 = 60;
/// The default number of days before a due occurrence that its reminder shows.
pub const DEFAULT_REMIND_DAYS: u32 = 3;
/// Occurrences one run books at most per rule (a daily rule left alone for years catches up
/// over a few runs instead of in one huge change).
pub const MAX_CATCH_UP: usize = 1_000;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Monthly,
    Annual,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Monthly => "monthly",
            BudgetPeriod::Annual => "annual",
        }
    }

    pub fn parse(s: &str) -> Option<BudgetPeriod> {
        match s.trim().to_ascii_lowercase().as_str() {
            "monthly" | "month" => Some(BudgetPeriod::Monthly),
            "annual" | "yearly" | "year" => Some(BudgetPeriod::Annual),
            _ => None,
        }
    }

    /// The first day of the period holding `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            BudgetPeriod::Monthly => date.with_day(1).expect("day 1 exists"),
            BudgetPeriod::Annual => NaiveDate::from_ymd_opt(date.year(), 1, 1).expect("1 January exists"),
        }
    }

    /// The first day of the period after the one starting at `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        start + Months::new(self.months())
    }

    pub fn previous(self, start: NaiveDate) -> NaiveDate {
        start - Months::new(self.months())
    }

    /// The last day of the period starting at `start`.
    pub fn end_of(self, start: NaiveDate) -> NaiveDate {
        self.next(start) - Duration::days(1)
    }

    fn months(self) -> u32 {
        match self {
            BudgetPeriod::Monthly => 1,
            BudgetPeriod::Annual => 12,
        }
    }
}

/// A spending limit per period, for one expense category or for all expenses.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub id: Uuid,
    pub name: String,
    /// `None`: every expense counts.
    pub category_id: Option<Uuid>,
    pub period: BudgetPeriod,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    /// The first day of the first period.
    pub start: NaiveDate,
    pub rollover: bool,
    /// Percentages of the limit that raise an alert, ascending.
    pub thresholds: Vec<u32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewBudget {
    /// Defaults to the category's name, or "All expenses".
    pub name: Option<String>,
    /// An expense category's id or name; absent or null: all expenses.
    pub category: Option<String>,
    /// Defaults to monthly.
    pub period: Option<BudgetPeriod>,
    pub amount: String,
    /// `YYYY-MM-DD`, any day of the first period; defaults to the period holding today.
    pub start: Option<String>,
    pub rollover: Option<bool>,
    /// Defaults to 80 and 100.
    pub thresholds: Option<Vec<u32>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetPatch {
    pub name: Option<String>,
    pub amount: Option<String>,
    pub rollover: Option<bool>,
    pub thresholds: Option<Vec<u32>>,
}

/// An alert as the document keeps it under its budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAlert {
    pub period_start: NaiveDate,
    pub threshold: u32,
    pub spent: Decimal,
    pub limit: Decimal,
    pub raised_at: DateTime<Utc>,
    pub dismissed: bool,
}

/// Spending crossed a budget's threshold in a period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// `<budget id>:<period start>:<threshold>`.
    pub id: String,
    pub budget_id: Uuid,
    pub budget_name: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub threshold: u32,
    /// Spent when the alert was raised.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub spent: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub limit: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    pub raised_at: DateTime<Utc>,
    pub dismissed: bool,
}

impl Alert {
    pub(crate) fn of(budget: &Budget, a: &StoredAlert) -> Alert {
        Alert {
            id: format!("{}:{}", budget.id, crate::doc::alert_key(a.period_start, a.threshold)),
            budget_id: budget.id,
            budget_name: budget.name.clone(),
            period_start: a.period_start,
            period_end: budget.period.end_of(a.period_start),
            threshold: a.threshold,
            spent: budget.currency.round(a.spent),
            limit: budget.currency.round(a.limit),
            currency: budget.currency,
            raised_at: a.raised_at,
            dismissed: a.dismissed,
        }
    }

    /// Splits an alert id into its budget and its key under the budget.
    pub fn parse_id(id: &str) -> Result<(Uuid, String)> {
        let bad = || Error::invalid("id", format!("{id:?} is not an alert id"));
        let (budget, key) = id.split_once(':').ok_or_else(bad)?;
        let budget = Uuid::parse_str(budget).map_err(|_| bad())?;
        Ok((budget, key.to_string()))
    }
}

/// One budget in one period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    pub budget: Budget,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Rolled over from earlier periods (negative: overspent); zero without rollover.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub carried: Decimal,
    /// The amount plus what was carried.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub limit: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub spent: Decimal,
    /// Negative when overspent.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub remaining: Decimal,
    /// Spent as a percentage of the limit, one decimal (`"24.0"`).
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub percent: Decimal,
    /// Spending at the end of the period at the pace so far (what was spent, for a period
    /// that is over).
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub projected: Decimal,
    /// Alerts raised in this period.
    pub alerts: Vec<Alert>,
}

/// Spent as a percentage of `limit`, one decimal. A limit at or below zero (overspent with
/// rollover) counts any spending as 100%.
pub fn percent_of(spent: Decimal, limit: Decimal) -> Decimal {
    let mut p = if limit > Decimal::ZERO {
        (spent * Decimal::ONE_HUNDRED / limit)
            .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    } else if spent > Decimal::ZERO {
        Decimal::ONE_HUNDRED
    } else {
        Decimal::ZERO
    };
    p.rescale(1);
    p
}

/// Whether spending reached `threshold` percent of `limit` (exactly: no rounding).
pub fn crossed(spent: Decimal, limit: Decimal, threshold: u32) -> bool {
    spent > Decimal::ZERO && spent * Decimal::ONE_HUNDRED >= limit * Decimal::from(threshold)
}

/// Spending at the end of `[start, end]` at the pace of `[start, today]`.
pub fn projection(spent: Decimal, start: NaiveDate, end: NaiveDate, today: NaiveDate) -> Decimal {
    if today >= end || today < start {
        return spent;
    }
    let elapsed = (today - start).num_days() + 1;
    let total = (end - start).num_days() + 1;
    spent * Decimal::from(total) / Decimal::from(elapsed)
}

/// Each period's figures for a budget from its start through `last` (a period start), given
/// what was spent per period start. Returns (period start, carried, limit, spent), oldest
/// first.
pub(crate) fn periods(
    budget: &Budget,
    last: NaiveDate,
    spent: &BTreeMap<NaiveDate, Decimal>,
) -> Vec<(NaiveDate, Decimal, Decimal, Decimal)> {
    let mut out = Vec::new();
    let mut carried = Decimal::ZERO;
    let mut start = budget.start;
    while start <= last {
        let s = spent.get(&start).copied().unwrap_or_default();
        let limit = budget.amount + carried;
        out.push((start, carried, limit, s));
        if budget.rollover {
            carried = limit - s;
        }
        start = budget.period.next(start);
    }
    out
}

// ---- recurring transactions ----

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Yearly => "yearly",
        }
    }

    pub fn parse(s: &str) -> Option<Frequency> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" => Some(Frequency::Daily),
            "weekly" | "week" => Some(Frequency::Weekly),
            "monthly" | "month" => Some(Frequency::Monthly),
            "yearly" | "annual" | "year" => Some(Frequency::Yearly),
            _ => None,
        }
    }
}

/// A template that books an expense or income on a schedule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurringRule {
    pub id: Uuid,
    pub kind: Kind,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    pub category_id: Uuid,
    pub payment_method_id: Uuid,
    pub description: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub frequency: Frequency,
    /// Every `interval` days, weeks, months or years.
    pub interval: u32,
    /// Monthly and yearly: the day of the month (31 books on the last day of shorter months,
    /// 29 February on the 28th outside leap years).
    pub day: Option<u32>,
    /// Yearly: the month.
    pub month: Option<u32>,
    pub start: NaiveDate,
    /// The last day an occurrence may fall on.
    pub end: Option<NaiveDate>,
    /// At most this many occurrences.
    pub count: Option<u32>,
    /// Books by itself; otherwise each occurrence waits for confirmation.
    pub auto: bool,
    /// Days before an occurrence that its reminder shows (0: none).
    pub remind_days: u32,
    /// The next occurrence neither booked nor skipped (none once the series ended).
    pub next_due: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewRecurring {
    /// Defaults to expense.
    pub kind: Option<Kind>,
    pub amount: String,
    /// Defaults to the ledger's base currency.
    pub currency: Option<String>,
    /// A category id or name of the rule's kind.
    pub category: String,
    pub payment_method: Option<String>,
    pub description: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub frequency: Option<Frequency>,
    /// Defaults to 1.
    pub interval: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
    /// `YYYY-MM-DD`.
    pub start: String,
    pub end: Option<String>,
    pub count: Option<u32>,
    /// Defaults to true.
    pub auto: Option<bool>,
    /// Defaults to 3.
    pub remind_days: Option<u32>,
}

/// Changes the series: occurrences not booked yet follow the new values. Changing the
/// schedule (frequency, interval, day, month) without a new start starts it again today, so
/// no past occurrence of the new schedule is booked.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RecurringPatch {
    pub kind: Option<Kind>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub payment_method: Option<String>,
    pub description: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    pub frequency: Option<Frequency>,
    pub interval: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
    pub start: Option<String>,
    /// `null` removes the end.
    #[serde(deserialize_with = "some")]
    pub end: Option<Option<String>>,
    /// `null` removes the limit.
    #[serde(deserialize_with = "some")]
    pub count: Option<Option<u32>>,
    pub auto: Option<bool>,
    pub remind_days: Option<u32>,
}

/// A field that is present, even as `null`, is `Some` (absent stays `None` by default).
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What became of an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Done {
    Booked,
    Skipped,
}

impl Done {
    pub fn as_str(self) -> &'static str {
        match self {
            Done::Booked => "booked",
            Done::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Done> {
        match s {
            "booked" => Some(Done::Booked),
            "skipped" => Some(Done::Skipped),
            _ => None,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OccurrenceStatus {
    /// Its day has not come.
    Upcoming,
    /// Its day has come and it waits for confirmation.
    Due,
    Booked,
    Skipped,
}

/// One occurrence of a recurring rule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub rule_id: Uuid,
    pub due: NaiveDate,
    /// The id the booked transaction has (derived from the rule and the date).
    pub transaction_id: Uuid,
    pub kind: Kind,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    pub category_id: Uuid,
    pub description: String,
    pub status: OccurrenceStatus,
    /// When its reminder shows (none if the rule sends none).
    pub remind_on: Option<NaiveDate>,
}

/// What evaluating the budgets and schedules did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRun {
    /// Transactions booked by rules that book by themselves.
    pub booked: u32,
    /// Alerts raised by this run.
    pub alerts: Vec<Alert>,
    /// Occurrences not booked yet whose reminder day has come (or that wait for confirmation).
    pub reminders: Vec<Occurrence>,
}

/// The date of the `n`-th candidate of a schedule (before `start` and `end` are applied):
/// `None` if it falls outside the dates a ledger holds.
fn candidate(rule: &RecurringRule, n: u32) -> Option<NaiveDate> {
    let step = n.checked_mul(rule.interval)?;
    match rule.frequency {
        Frequency::Daily => rule.start.checked_add_signed(Duration::days(i64::from(step))),
        Frequency::Weekly => rule.start.checked_add_signed(Duration::weeks(i64::from(step))),
        Frequency::Monthly => {
            let first = rule.start.with_day(1)?.checked_add_months(Months::new(step))?;
            Some(clamped(first.year(), first.month(), rule.day.unwrap_or(rule.start.day())))
        }
        Frequency::Yearly => {
            let year = rule.start.year().checked_add(i32::try_from(step).ok()?)?;
            let month = rule.month.unwrap_or(rule.start.month());
            Some(clamped(year, month, rule.day.unwrap_or(rule.start.day())))
        }
    }
    .filter(|d| (crate::model::MIN_YEAR..=crate::model::MAX_YEAR).contains(&d.year()))
}

/// `day` of a month, or the month's last day if it is shorter.
fn clamped(year: i32, month: u32, day: u32) -> NaiveDate {
    let mut d = day.clamp(1, 31);
    loop {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, d) {
            return date;
        }
        d -= 1;
    }
}

/// A rule's occurrence dates in order, from its start, respecting its end and count.
pub fn occurrences(rule: &RecurringRule) -> impl Iterator<Item = NaiveDate> + '_ {
    let limit = rule.count.map_or(usize::MAX, |c| c as usize);
    (0u32..)
        .map_while(move |n| candidate(rule, n))
        .filter(move |d| *d >= rule.start)
        .take_while(move |d| rule.end.is_none_or(|end| *d <= end))
        .take(limit)
}

/// Checks a schedule: an interval of at least one, a day and month that exist, an end after
/// the start, at least one occurrence. Errors name the field.
pub fn check_schedule(rule: &RecurringRule) -> Result<()> {
    if rule.interval == 0 || rule.interval > MAX_INTERVAL {
        return Err(Error::invalid("interval", format!("must be between 1 and {MAX_INTERVAL}")));
    }
    match rule.frequency {
        Frequency::Daily | Frequency::Weekly => {
            if rule.day.is_some() {
                return Err(Error::invalid("day", "only monthly and yearly schedules take a day of the month"));
            }
            if rule.month.is_some() {
                return Err(Error::invalid("month", "only yearly schedules take a month"));
            }
        }
        Frequency::Monthly => {
            if rule.month.is_some() {
                return Err(Error::invalid("month", "only yearly schedules take a month"));
            }
        }
        Frequency::Yearly => {}
    }
    if let Some(day) = rule.day {
        if !(1..=31).contains(&day) {
            return Err(Error::invalid("day", "must be between 1 and 31"));
        }
    }
    if let Some(month) = rule.month {
        if !(1..=12).contains(&month) {
            return Err(Error::invalid("month", "must be between 1 and 12"));
        }
    }
    if rule.frequency == Frequency::Yearly {
        let month = rule.month.unwrap_or(rule.start.month());
        let day = rule.day.unwrap_or(rule.start.day());
        // The longest each month ever is (February: in leap years).
        let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
        if day > longest {
            let name = NaiveDate::from_ymd_opt(2000, month, 1).expect("a valid month").format("%B");
            return Err(Error::invalid("day", format!("{day} {name} never occurs")));
        }
    }
    if let Some(end) = rule.end {
        if end < rule.start {
            return Err(Error::invalid("end", "is before the start"));
        }
    }
    if rule.count == Some(0) {
        return Err(Error::invalid("count", "must be at least 1"));
    }
    if rule.remind_days > MAX_REMIND_DAYS {
        return Err(Error::invalid("remind_days", format!("must be at most {MAX_REMIND_DAYS}")));
    }
    if occurrences(rule).next().is_none() {
        return Err(Error::invalid("end", "the schedule has no occurrence between its start and its end"));
    }
    Ok(())
}

/// The calendar day an instant falls on in a time zone: what "today" is for a device.
pub fn local_date<Tz: chrono::TimeZone>(now: DateTime<Utc>, zone: &Tz) -> NaiveDate {
    now.with_timezone(zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn rule(frequency: Frequency, start: &str) -> RecurringRule {
        RecurringRule {
            id: Uuid::nil(),
            kind: Kind::Expense,
            amount: Decimal::ONE,
            currency: Currency::from_code("EUR").unwrap(),
            category_id: Uuid::nil(),
            payment_method_id: Uuid::nil(),
            description: "Rent".into(),
            notes: String::new(),
            tags: vec![],
            frequency,
            interval: 1,
            day: None,
            month: None,
            start: d(start),
            end: None,
            count: None,
            auto: true,
            remind_days: 0,
            next_due: None,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    fn first(r: &RecurringRule, n: usize) -> Vec<String> {
        occurrences(r).take(n).map(|d| d.to_string()).collect()
    }

    #[test]
    fn the_31st_books_on_the_last_day_of_shorter_months() {
        let r = rule(Frequency::Monthly, "2027-01-31");
        assert_eq!(first(&r, 5), ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]);
        let leap = rule(Frequency::Monthly, "2028-01-31");
        assert_eq!(first(&leap, 2), ["2028-01-31", "2028-02-29"]);
    }

    #[test]
    fn a_day_before_the_start_waits_for_the_next_month() {
        let r = RecurringRule { day: Some(10), ..rule(Frequency::Monthly, "2027-01-15") };
        assert_eq!(first(&r, 2), ["2027-02-10", "2027-03-10"]);
        let every_two = RecurringRule { interval: 2, ..r };
        assert_eq!(first(&every_two, 2), ["2027-03-10", "2027-05-10"]);
    }

    #[test]
    fn leap_day_yearly_falls_back_to_the_28th() {
        let r = rule(Frequency::Yearly, "2028-02-29");
        assert_eq!(first(&r, 5), ["2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]);
    }

    #[test]
    fn weeks_days_end_and_count() {
        let r = RecurringRule { interval: 2, count: Some(3), ..rule(Frequency::Weekly, "2027-03-01") };
        assert_eq!(first(&r, 10), ["2027-03-01", "2027-03-15", "2027-03-29"]);
        let r = RecurringRule { end: Some(d("2027-03-03")), ..rule(Frequency::Daily, "2027-03-01") };
        assert_eq!(first(&r, 10), ["2027-03-01", "2027-03-02", "2027-03-03"]);
    }

    #[test]
    fn impossible_schedules_are_refused_with_the_field() {
        let feb30 = RecurringRule { day: Some(30), month: Some(2), ..rule(Frequency::Yearly, "2027-01-01") };
        assert_eq!(check_schedule(&feb30).unwrap_err().to_string(), "day: 30 February never occurs");
        let zero = RecurringRule { interval: 0, ..rule(Frequency::Weekly, "2027-01-01") };
        assert!(check_schedule(&zero).unwrap_err().to_string().starts_with("interval: "));
        let backwards = RecurringRule { end: Some(d("2026-12-31")), ..rule(Frequency::Daily, "2027-01-01") };
        assert_eq!(check_schedule(&backwards).unwrap_err().to_string(), "end: is before the start");
        let empty =
            RecurringRule { day: Some(10), end: Some(d("2027-01-31")), ..rule(Frequency::Monthly, "2027-01-20") };
        assert!(check_schedule(&empty).unwrap_err().to_string().starts_with("end: "));
        let apr31 = RecurringRule { day: Some(31), month: Some(4), ..rule(Frequency::Yearly, "2027-01-01") };
        assert_eq!(check_schedule(&apr31).unwrap_err().to_string(), "day: 31 April never occurs");
        let feb29 = RecurringRule { day: Some(29), month: Some(2), ..rule(Frequency::Yearly, "2027-01-01") };
        assert!(check_schedule(&feb29).is_ok());
    }

    #[test]
    fn budget_figures_are_exact() {
        assert_eq!(percent_of(Decimal::new(41000, 2), Decimal::new(50000, 2)).to_string(), "82.0");
        assert_eq!(percent_of(Decimal::ONE, Decimal::new(3, 0)).to_string(), "33.3");
        assert_eq!(percent_of(Decimal::ONE, Decimal::new(-5, 0)).to_string(), "100.0");
        assert!(crossed(Decimal::new(8000, 2), Decimal::new(10000, 2), 80));
        assert!(!crossed(Decimal::new(7999, 2), Decimal::new(10000, 2), 80));
        // 10 of 30 days at 100.00 → 300.00 by the end of the month.
        let p = projection(Decimal::new(10000, 2), d("2027-04-01"), d("2027-04-30"), d("2027-04-10"));
        assert_eq!(Currency::from_code("EUR").unwrap().round(p).to_string(), "300.00");
    }

    #[test]
    fn today_is_the_calendar_day_of_the_instant_in_the_zone() {
        // 30 March 2025, 00:30 UTC: 01:30 in Berlin (still winter time), 20:30 the day before
        // in New York; an hour and a half later, Berlin has skipped to summer time.
        let berlin = chrono::FixedOffset::east_opt(3600).unwrap();
        let new_york = chrono::FixedOffset::west_opt(4 * 3600).unwrap();
        let at = DateTime::parse_from_rfc3339("2025-03-30T00:30:00Z").unwrap().to_utc();
        assert_eq!(local_date(at, &berlin), d("2025-03-30"));
        assert_eq!(local_date(at, &new_york), d("2025-03-29"));
        let summer = chrono::FixedOffset::east_opt(7200).unwrap();
        let late = DateTime::parse_from_rfc3339("2025-03-30T22:30:00Z").unwrap().to_utc();
        assert_eq!(local_date(late, &summer), d("2025-03-31"));
    }
}
