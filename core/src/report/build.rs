//! Computing a period report from the view: one pass over the period's transactions (their
//! converted amounts are the view's, so the report's totals equal the dashboard's), the same
//! figures for the period before, and the budgets' periods within it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::{BudgetLine, Comparison, Line, MonthLine, Period, Report, ReportRow, Summary, Unconverted};
use crate::error::{Error, Result};
use crate::model::{self, Kind, Transaction};
use crate::money::Currency;
use crate::query::Month;
use crate::store::Store;

/// The most days one report covers (a little over 10 years).
const MAX_DAYS: i64 = 3_700;

impl Store {
    /// The report of `[from, to]` (both days included), in the base currency.
    pub fn report(&self, from: NaiveDate, to: NaiveDate, now: DateTime<Utc>) -> Result<Report> {
        check_period(from, to)?;
        let base = self.settings()?.base_currency;
        let names = Names::of(self)?;
        let transactions = self.transactions_between(from, to)?;
        let previous = previous_period(from, to);
        let before = self.balance(Some(previous.0), Some(previous.1))?;
        let mut report = Report {
            title: "Income and expenses".into(),
            period: Period { from, to, label: period_label(from, to) },
            base_currency: base,
            generated_at: now,
            summary: Summary { income: Decimal::ZERO, expense: Decimal::ZERO, net: Decimal::ZERO, count: 0 },
            previous: Comparison {
                period: Period { from: previous.0, to: previous.1, label: period_label(previous.0, previous.1) },
                summary: Summary {
                    income: before.base.income,
                    expense: before.base.expense,
                    net: before.base.net,
                    count: before.base.count,
                },
                income_change: None,
                expense_change: None,
                net_change: None,
            },
            categories: Vec::new(),
            payment_methods: Vec::new(),
            tags: Vec::new(),
            months: Vec::new(),
            budgets: self.budget_lines(from, to)?,
            unconverted: Vec::new(),
            transactions: Vec::with_capacity(transactions.len()),
        };
        let mut sums = Sums::new(from, to);
        for t in transactions {
            sums.add(&t);
            report.transactions.push(ReportRow {
                id: t.id,
                date: t.date,
                kind: t.kind,
                description: t.description,
                category: names.category(t.category_id),
                payment_method: names.method(t.payment_method_id),
                tags: t.tags,
                notes: t.notes,
                amount: t.amount,
                currency: t.currency,
                converted: t.base_amount,
                rate: t.base_amount.map(|b| rate_of(b, t.amount)),
            });
        }
        let fixed = |v: Decimal| base.round(v);
        report.summary = Summary {
            income: fixed(sums.income),
            expense: fixed(sums.expense),
            net: fixed(sums.income - sums.expense),
            count: sums.count,
        };
        let p = &report.previous.summary;
        report.previous.income_change = change(sums.income, p.income);
        report.previous.expense_change = change(sums.expense, p.expense);
        report.previous.net_change = change(sums.income - sums.expense, p.net);
        report.categories = lines(&sums.categories, |id| names.category_line(id), base);
        report.payment_methods = lines(&sums.methods, |id| (names.method(*id), None), base);
        report.tags = lines(&sums.tags, |tag| (format!("#{tag}"), None), base);
        report.months = sums
            .months
            .into_iter()
            .map(|(month, (income, expense, count))| MonthLine {
                month,
                income: fixed(income),
                expense: fixed(expense),
                net: fixed(income - expense),
                count,
            })
            .collect();
        report.unconverted = sums
            .unconverted
            .into_iter()
            .map(|(currency, (income, expense, count))| Unconverted::new(currency, income, expense, count))
            .collect();
        Ok(report)
    }

    /// Every transaction dated within `[from, to]`, oldest first, in one read.
    pub fn transactions_between(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Transaction>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE t.date BETWEEN ?1 AND ?2 ORDER BY t.date, t.rowid",
            crate::query::TX_COLUMNS,
            crate::query::TX_FROM
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params![crate::view::date_key(from), crate::view::date_key(to)],
            crate::query::row_to_transaction,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Each budget against what was spent, for each of its periods that overlap `[from, to]`.
    fn budget_lines(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<BudgetLine>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut month = Month::of(from);
        while month.first_day() <= to {
            for s in self.budget_statuses(month.first_day(), to)? {
                if s.period_end < from || s.period_start > to || !seen.insert((s.budget.id, s.period_start)) {
                    continue;
                }
                out.push(BudgetLine {
                    budget_id: s.budget.id,
                    name: s.budget.name.clone(),
                    from: s.period_start,
                    to: s.period_end,
                    limit: s.limit,
                    actual: s.spent,
                    remaining: s.remaining,
                    percent: s.percent,
                });
            }
            month = month.next();
        }
        out.sort_by(|a, b| a.from.cmp(&b.from).then(a.name.cmp(&b.name)));
        Ok(out)
    }
}

/// A report's period must make sense and fit the years a ledger holds.
fn check_period(from: NaiveDate, to: NaiveDate) -> Result<()> {
    model::check_year("from", from)?;
    model::check_year("to", to)?;
    if from > to {
        return Err(Error::invalid("from", "the start date is after the end date"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(Error::invalid("to", "a report covers at most 10 years"));
    }
    Ok(())
}

/// The period of the same length just before: the same number of whole months when the
/// period is whole months (so March's comparison is February, Q2's is Q1), else as many days.
pub fn previous_period(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    let whole_months = from.day() == 1 && to.succ_opt().is_some_and(|d| d.day() == 1);
    if whole_months {
        let (first, last) = (Month::of(from), Month::of(to));
        let n = (last.year - first.year) * 12 + last.month as i32 - first.month as i32 + 1;
        let start = first.minus(n as u32);
        return (start.first_day(), first.minus(1).last_day());
    }
    let days = (to - from).num_days() + 1;
    (from - Duration::days(days), from - Duration::days(1))
}

/// Names a period: "March 2025", "Q1 2025", "2025", or "1 Mar 2025 – 15 Apr 2025".
pub fn period_label(from: NaiveDate, to: NaiveDate) -> String {
    let whole_months = from.day() == 1 && to.succ_opt().is_some_and(|d| d.day() == 1);
    if whole_months && from.year() == to.year() {
        let months = to.month() - from.month() + 1;
        if months == 1 {
            return from.format("%B %Y").to_string();
        }
        if months == 3 && from.month() % 3 == 1 {
            return format!("Q{} {}", from.month() / 3 + 1, from.year());
        }
        if months == 12 {
            return from.year().to_string();
        }
        return format!("{} – {}", from.format("%B"), to.format("%B %Y"));
    }
    format!("{} – {}", from.format("%-d %b %Y"), to.format("%-d %b %Y"))
}

/// The change from `before` to `now` in percent, one decimal; `None` when `before` is zero.
fn change(now: Decimal, before: Decimal) -> Option<Decimal> {
    if before.is_zero() {
        return None;
    }
    let mut p = ((now - before) * Decimal::ONE_HUNDRED / before.abs())
        .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    p.rescale(1);
    Some(p)
}

/// Units of the base currency per unit of the transaction's, as its converted amount says
/// (shown beside it; the amount itself is the one converted exactly).
fn rate_of(converted: Decimal, amount: Decimal) -> Decimal {
    if amount.is_zero() {
        return Decimal::ZERO;
    }
    (converted / amount).round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero).normalize()
}

/// The period's sums, in one pass over its transactions.
struct Sums {
    income: Decimal,
    expense: Decimal,
    count: u64,
    /// (kind, key) → (total, count)
    categories: BTreeMap<(Kind, Uuid), (Decimal, u64)>,
    methods: BTreeMap<(Kind, Uuid), (Decimal, u64)>,
    tags: BTreeMap<(Kind, String), (Decimal, u64)>,
    months: BTreeMap<Month, (Decimal, Decimal, u64)>,
    unconverted: BTreeMap<Currency, (Decimal, Decimal, u64)>,
}

impl Sums {
    fn new(from: NaiveDate, to: NaiveDate) -> Sums {
        let mut months = BTreeMap::new();
        let mut m = Month::of(from);
        while m <= Month::of(to) {
            months.insert(m, (Decimal::ZERO, Decimal::ZERO, 0));
            m = m.next();
        }
        Sums {
            income: Decimal::ZERO,
            expense: Decimal::ZERO,
            count: 0,
            categories: BTreeMap::new(),
            methods: BTreeMap::new(),
            tags: BTreeMap::new(),
            months,
            unconverted: BTreeMap::new(),
        }
    }

    fn add(&mut self, t: &Transaction) {
        let Some(value) = t.base_amount else {
            let e = self.unconverted.entry(t.currency).or_default();
            match t.kind {
                Kind::Income => e.0 += t.amount,
                Kind::Expense => e.1 += t.amount,
            }
            e.2 += 1;
            return;
        };
        self.count += 1;
        let month = self.months.entry(Month::of(t.date)).or_default();
        match t.kind {
            Kind::Income => {
                self.income += value;
                month.0 += value;
            }
            Kind::Expense => {
                self.expense += value;
                month.1 += value;
            }
        }
        month.2 += 1;
        let add = |e: &mut (Decimal, u64)| {
            e.0 += value;
            e.1 += 1;
        };
        add(self.categories.entry((t.kind, t.category_id)).or_default());
        add(self.methods.entry((t.kind, t.payment_method_id)).or_default());
        for tag in &t.tags {
            add(self.tags.entry((t.kind, tag.clone())).or_default());
        }
    }
}

/// Breakdown lines, expenses first, each kind largest first, with each line's share of its
/// kind's total.
fn lines<K: Clone + ToString + Ord>(
    sums: &BTreeMap<(Kind, K), (Decimal, u64)>,
    name: impl Fn(&K) -> (String, Option<String>),
    base: Currency,
) -> Vec<Line> {
    let mut out = Vec::new();
    for kind in [Kind::Expense, Kind::Income] {
        let all: Decimal = sums.iter().filter(|((k, _), _)| *k == kind).map(|(_, v)| v.0).sum();
        let mut rows: Vec<Line> = sums
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, key), (total, count))| {
                let (label, color) = name(key);
                Line {
                    key: key.to_string(),
                    name: label,
                    color,
                    kind,
                    total: base.round(*total),
                    count: *count,
                    percent: crate::plans::percent_of(*total, all),
                }
            })
            .collect();
        rows.sort_by(|a, b| b.total.cmp(&a.total).then(a.name.cmp(&b.name)));
        out.extend(rows);
    }
    out
}

/// Names of categories (with their colours) and payment methods.
struct Names {
    categories: HashMap<Uuid, (String, String)>,
    methods: HashMap<Uuid, String>,
}

impl Names {
    fn of(store: &Store) -> Result<Names> {
        Ok(Names {
            categories: store.all_categories()?.into_iter().map(|c| (c.id, (c.name, c.color))).collect(),
            methods: store.payment_methods(true)?.into_iter().map(|m| (m.id, m.name)).collect(),
        })
    }

    fn category(&self, id: Uuid) -> String {
        self.categories.get(&id).map(|c| c.0.clone()).unwrap_or_else(|| "Unknown".into())
    }

    fn category_line(&self, id: &Uuid) -> (String, Option<String>) {
        match self.categories.get(id) {
            Some((name, color)) => (name.clone(), Some(color.clone())),
            None => ("Unknown".into(), None),
        }
    }

    fn method(&self, id: Uuid) -> String {
        self.methods.get(&id).cloned().unwrap_or_else(|| "Other".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_named_and_compared_with_the_one_before() {
        assert_eq!(period_label(d("2025-03-01"), d("2025-03-31")), "March 2025");
        assert_eq!(period_label(d("2025-04-01"), d("2025-06-30")), "Q2 2025");
        assert_eq!(period_label(d("2025-01-01"), d("2025-12-31")), "2025");
        assert_eq!(period_label(d("2025-02-01"), d("2025-04-30")), "February – April 2025");
        assert_eq!(period_label(d("2025-03-05"), d("2025-04-15")), "5 Mar 2025 – 15 Apr 2025");
        assert_eq!(previous_period(d("2024-03-01"), d("2024-03-31")), (d("2024-02-01"), d("2024-02-29")));
        assert_eq!(previous_period(d("2025-04-01"), d("2025-06-30")), (d("2025-01-01"), d("2025-03-31")));
        assert_eq!(previous_period(d("2025-01-01"), d("2025-12-31")), (d("2024-01-01"), d("2024-12-31")));
        assert_eq!(previous_period(d("2025-03-05"), d("2025-03-14")), (d("2025-02-23"), d("2025-03-04")));
        assert_eq!(change(Decimal::from(150), Decimal::from(100)), Some(Decimal::new(500, 1)));
        assert_eq!(change(Decimal::from(-50), Decimal::from(-100)), Some(Decimal::new(500, 1)));
        assert_eq!(change(Decimal::ONE, Decimal::ZERO), None);
    }
}
