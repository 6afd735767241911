//! The store's side of budgets and recurring rules: their operations (each one change) and
//! reads (from the view's `budgets` and `recurring` rows, never the document), and
//! [`Store::run_plans`], which books what is due and raises alerts.
//!
//! A run decides from the view what to write, so a run with nothing to do loads no
//! document and writes nothing; what it then writes is checked again against the caught-up
//! document inside the change, so two processes running plans at once book nothing twice.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rusqlite::OptionalExtension;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::doc;
use crate::model::{self, Category, NewTransaction, Transaction, TransactionPatch};
use crate::store::Store;
use crate::view::{BudgetRow, RuleRow, Touched};

/// Occurrences [`Store::upcoming`] lists at most.
const MAX_UPCOMING: usize = 500;

impl Store {
    // ---- budgets ----

    fn budget_rows(&self) -> Result<Vec<BudgetRow>> {
        let mut stmt = self.conn.prepare_cached("SELECT body FROM budgets")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out: Vec<BudgetRow> = Vec::new();
        for body in rows {
            if let Ok(row) = serde_json::from_str(&body?) {
                out.push(row);
            }
        }
        out.sort_by(|a, b| {
            a.budget.name.to_lowercase().cmp(&b.budget.name.to_lowercase()).then(a.budget.id.cmp(&b.budget.id))
        });
        Ok(out)
    }

    fn budget_row(&self, id: Uuid) -> Result<BudgetRow> {
        let body: Option<String> =
            self.conn.query_row("SELECT body FROM budgets WHERE id = ?1", [id.as_bytes()], |r| r.get(0)).optional()?;
        body.and_then(|b| serde_json::from_str(&b).ok())
            .ok_or_else(|| Error::NotFound { entity: "budget", id: id.to_string() })
    }

    pub fn budgets(&self) -> Result<Vec<Budget>> {
        Ok(self.budget_rows()?.into_iter().map(|r| r.budget).collect())
    }

    pub fn budget(&self, id: Uuid) -> Result<Budget> {
        Ok(self.budget_row(id)?.budget)
    }

    /// Makes a budget. Its currency is the ledger's base currency.
    pub fn add_budget(&mut self, input: &NewBudget, id: Uuid, today: NaiveDate, now: DateTime<Utc>) -> Result<Budget> {
        let currency = self.settings()?.base_currency;
        let amount = currency.parse_amount("amount", &input.amount)?;
        let period = input.period.unwrap_or(BudgetPeriod::Monthly);
        let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(text) => {
                let c = self.find_category(Some(Kind::Expense), text).map_err(|e| match e {
                    Error::Invalid { message, .. } => Error::invalid("category", message),
                    other => other,
                })?;
                Some(c)
            }
            None => None,
        };
        let name = match input.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => model::check_text("name", name, model::MAX_NAME, true)?,
            None => category.as_ref().map_or_else(|| "All expenses".to_string(), |c| c.name.clone()),
        };
        let start = match input.start.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => model::parse_date("start", text)?,
            None => today,
        };
        if self
            .budget_rows()?
            .iter()
            .any(|r| r.budget.category_id == category.as_ref().map(|c| c.id) && r.budget.period == period)
        {
            let what = category.as_ref().map_or_else(|| "all expenses".to_string(), |c| format!("\"{}\"", c.name));
            return Err(Error::invalid(
                "category",
                format!("there is already a {} budget for {what}", period.as_str()),
            ));
        }
        let budget = Budget {
            id,
            name,
            category_id: category.map(|c| c.id),
            period,
            amount,
            currency,
            start: period.start_of(start),
            rollover: input.rollover.unwrap_or(false),
            thresholds: check_thresholds(input.thresholds.as_deref())?,
            created_at: now,
            updated_at: now,
        };
        self.commit(now, |tx, c| {
            if doc::child_map(tx, &c.budgets, &id.to_string())?.is_some() {
                return Err(Error::invalid("id", format!("a budget {id} already exists")));
            }
            doc::put_budget(tx, &c.budgets, &budget)?;
            Ok(((), Touched { budgets: vec![id], ..Touched::default() }))
        })?;
        self.budget(id)
    }

    pub fn edit_budget(&mut self, id: Uuid, patch: &BudgetPatch, now: DateTime<Utc>) -> Result<Budget> {
        let current = self.budget(id)?;
        let updated = Budget {
            name: match &patch.name {
                Some(name) => model::check_text("name", name, model::MAX_NAME, true)?,
                None => current.name.clone(),
            },
            amount: match &patch.amount {
                Some(text) => current.currency.parse_amount("amount", text)?,
                None => current.amount,
            },
            rollover: patch.rollover.unwrap_or(current.rollover),
            thresholds: match &patch.thresholds {
                Some(t) => check_thresholds(Some(t))?,
                None => current.thresholds.clone(),
            },
            updated_at: now,
            ..current.clone()
        };
        self.commit(now, |tx, c| {
            let (old, _) = doc::read_budget(tx, &c.budgets, id)
                .ok_or_else(|| Error::NotFound { entity: "budget", id: id.to_string() })?;
            doc::update_budget(tx, &c.budgets, &old, &updated)?;
            Ok(((), Touched { budgets: vec![id], ..Touched::default() }))
        })?;
        self.budget(id)
    }

    /// Deletes a budget and its alerts; the transactions stay.
    pub fn delete_budget(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.budget(id)?;
        self.commit(now, |tx, c| {
            automerge::transaction::Transactable::delete(tx, &c.budgets, id.to_string())?;
            Ok(((), Touched { budgets: vec![id], ..Touched::default() }))
        })
    }

    /// Expenses per month, category and currency from `first` through `last` (the months
    /// holding them): exact sums of the view's monthly totals, read once for all budgets.
    fn spending(&self, first: NaiveDate, last: NaiveDate) -> Result<Spending> {
        let month = |d: NaiveDate| i64::from(d.year()) * 100 + i64::from(d.month());
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.month, c.id, m.currency, sum(m.total), sum(m.base_total)
             FROM month_totals m JOIN categories c ON c.no = m.category
             WHERE m.kind = 0 AND m.month BETWEEN ?1 AND ?2
             GROUP BY 1, 2, 3",
        )?;
        let rows = stmt.query_map(rusqlite::params![month(first), month(last)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let units =
            |u: i64| Decimal::try_from_i128_with_scale(u.into(), crate::money::AMOUNT_SCALE).unwrap_or(Decimal::MAX);
        let mut out = Vec::new();
        for row in rows {
            let (m, id, currency, total, base_total) = row?;
            let (Some(date), Ok(id), Some(currency)) = (
                NaiveDate::from_ymd_opt((m / 100) as i32, (m % 100) as u32, 1),
                Uuid::from_slice(&id),
                crate::money::Currency::from_code(&currency),
            ) else {
                continue;
            };
            out.push(SpentRow { month: date, category: id, currency, amount: units(total), base: units(base_total) });
        }
        Ok(Spending { rows: out, base: self.settings()?.base_currency, categories: self.all_categories()? })
    }

    /// The spending every budget of `rows` needs for its periods from the one holding `from`
    /// through the one holding `last` (from its start, with rollover).
    fn spending_for(&self, rows: &[BudgetRow], from: NaiveDate, last: NaiveDate) -> Result<Spending> {
        let first = rows
            .iter()
            .map(|r| {
                let from = r.budget.period.start_of(from);
                if r.budget.rollover {
                    r.budget.start.min(from)
                } else {
                    from
                }
            })
            .min();
        let end = rows.iter().map(|r| r.budget.period.end_of(r.budget.period.start_of(last))).max();
        match (first, end) {
            (Some(first), Some(end)) => self.spending(first, end),
            _ => Ok(Spending { rows: Vec::new(), base: self.settings()?.base_currency, categories: Vec::new() }),
        }
    }

    /// Each period's status of one budget, from its start (or `from`, if later) through the
    /// period holding `last`; oldest first.
    fn statuses_of(
        &self,
        row: &BudgetRow,
        spending: &Spending,
        from: NaiveDate,
        last: NaiveDate,
        today: NaiveDate,
    ) -> Result<Vec<BudgetStatus>> {
        let b = &row.budget;
        let last = b.period.start_of(last);
        let from = b.period.start_of(from);
        let first = if b.rollover { b.start.min(from) } else { from };
        let spent = spending.by_period(b, first, b.period.end_of(last));
        let figures = if from < b.start || !b.rollover {
            // Without rollover (or before the budget began) each period stands alone.
            let mut out = Vec::new();
            let mut start = from;
            while start <= last {
                out.push((start, Decimal::ZERO, b.amount, spent.get(&start).copied().unwrap_or_default()));
                start = b.period.next(start);
            }
            out
        } else {
            periods(b, last, &spent).into_iter().filter(|p| p.0 >= from).collect()
        };
        Ok(figures
            .into_iter()
            .map(|(start, carried, limit, spent)| {
                let end = b.period.end_of(start);
                let c = b.currency;
                BudgetStatus {
                    budget: b.clone(),
                    period_start: start,
                    period_end: end,
                    carried: c.round(carried),
                    limit: c.round(limit),
                    spent: c.round(spent),
                    remaining: c.round(limit - spent),
                    percent: percent_of(spent, limit),
                    projected: c.round(if start > today {
                        Decimal::ZERO
                    } else {
                        projection(spent, start, end, today)
                    }),
                    alerts: row.alerts.iter().filter(|a| a.period_start == start).map(|a| Alert::of(b, a)).collect(),
                }
            })
            .collect())
    }

    /// Every budget in the period holding `date`; projections are made as of `today`.
    pub fn budget_statuses(&self, date: NaiveDate, today: NaiveDate) -> Result<Vec<BudgetStatus>> {
        let mut out = Vec::new();
        let rows = self.budget_rows()?;
        let spending = self.spending_for(&rows, date, date)?;
        for row in &rows {
            out.extend(self.statuses_of(row, &spending, date, date, today)?);
        }
        Ok(out)
    }

    /// One budget's last `periods` periods up to the one holding `today`, newest first.
    pub fn budget_history(&self, id: Uuid, periods: u32, today: NaiveDate) -> Result<Vec<BudgetStatus>> {
        let row = self.budget_row(id)?;
        let periods = periods.clamp(1, 120);
        let last = row.budget.period.start_of(today);
        let mut from = last;
        for _ in 1..periods {
            let earlier = row.budget.period.previous(from);
            if earlier < row.budget.start {
                break;
            }
            from = earlier;
        }
        let spending = self.spending_for(std::slice::from_ref(&row), from, last)?;
        let mut out = self.statuses_of(&row, &spending, from, last, today)?;
        out.reverse();
        Ok(out)
    }

    /// Every alert raised, newest first.
    pub fn alerts(&self) -> Result<Vec<Alert>> {
        let mut out: Vec<Alert> =
            self.budget_rows()?.iter().flat_map(|r| r.alerts.iter().map(|a| Alert::of(&r.budget, a))).collect();
        out.sort_by(|a, b| b.raised_at.cmp(&a.raised_at).then(b.threshold.cmp(&a.threshold)).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Marks an alert as seen; it stays in the list, dismissed.
    pub fn dismiss_alert(&mut self, alert_id: &str, now: DateTime<Utc>) -> Result<()> {
        let (budget, key) = Alert::parse_id(alert_id)?;
        let known = self.alerts()?.iter().any(|a| a.id == alert_id);
        if !known {
            return Err(Error::NotFound { entity: "alert", id: alert_id.to_string() });
        }
        self.commit(now, |tx, c| {
            doc::dismiss_alert(tx, &c.budgets, budget, &key)?;
            Ok(((), Touched { budgets: vec![budget], ..Touched::default() }))
        })
    }

    /// Raises the alerts of the period holding `today` that spending has crossed and that no
    /// device raised yet. The server calls this after merging devices' changes.
    pub fn raise_alerts(&mut self, today: NaiveDate, now: DateTime<Utc>) -> Result<Vec<Alert>> {
        let mut due: Vec<(Budget, StoredAlert)> = Vec::new();
        let rows = self.budget_rows()?;
        let spending = self.spending_for(&rows, today, today)?;
        for row in rows {
            if row.budget.start > today {
                continue;
            }
            for status in self.statuses_of(&row, &spending, today, today, today)? {
                for &threshold in &row.budget.thresholds {
                    let raised =
                        row.alerts.iter().any(|a| a.period_start == status.period_start && a.threshold == threshold);
                    if !raised && crossed(status.spent, status.limit, threshold) {
                        due.push((
                            row.budget.clone(),
                            StoredAlert {
                                period_start: status.period_start,
                                threshold,
                                spent: status.spent,
                                limit: status.limit,
                                raised_at: now,
                                dismissed: false,
                            },
                        ));
                    }
                }
            }
        }
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let raised = self.commit(now, |tx, c| {
            let mut raised = Vec::new();
            let mut touched = Vec::new();
            for (budget, alert) in &due {
                // Another process (or a merge) may have raised it since the view was read.
                let Some((_, existing)) = doc::read_budget(tx, &c.budgets, budget.id) else { continue };
                if existing.iter().any(|a| a.period_start == alert.period_start && a.threshold == alert.threshold) {
                    continue;
                }
                // A forged budget without its alerts map keeps none.
                if !doc::put_alert(tx, &c.budgets, budget.id, alert, budget.currency)? {
                    continue;
                }
                raised.push(Alert::of(budget, alert));
                touched.push(budget.id);
            }
            touched.dedup();
            Ok((raised, Touched { budgets: touched, ..Touched::default() }))
        })?;
        Ok(raised)
    }

    /// Whether this device has not shown `key` as a notification yet; records it as shown.
    /// Device-local bookkeeping: not part of the ledger document, never synced.
    pub fn first_notice(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let inserted = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO notified (key, at) VALUES (?1, ?2)")?
            .execute(rusqlite::params![key, now.timestamp_millis()])?;
        Ok(inserted == 1)
    }

    // ---- recurring rules ----

    fn rule_rows(&self) -> Result<Vec<RuleRow>> {
        let mut stmt = self.conn.prepare_cached("SELECT body FROM recurring")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out: Vec<RuleRow> = Vec::new();
        for body in rows {
            if let Ok(row) = serde_json::from_str(&body?) {
                out.push(row);
            }
        }
        out.sort_by(|a, b| {
            a.rule.description.to_lowercase().cmp(&b.rule.description.to_lowercase()).then(a.rule.id.cmp(&b.rule.id))
        });
        Ok(out)
    }

    fn rule_row(&self, id: Uuid) -> Result<RuleRow> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM recurring WHERE id = ?1", [id.as_bytes()], |r| r.get(0))
            .optional()?;
        body.and_then(|b| serde_json::from_str(&b).ok())
            .ok_or_else(|| Error::NotFound { entity: "recurring rule", id: id.to_string() })
    }

    pub fn recurring_rules(&self) -> Result<Vec<RecurringRule>> {
        Ok(self.rule_rows()?.into_iter().map(RuleRow::with_next_due).collect())
    }

    pub fn recurring_rule(&self, id: Uuid) -> Result<RecurringRule> {
        Ok(self.rule_row(id)?.with_next_due())
    }

    /// Validates a rule's booking fields the way a transaction's are validated, and its
    /// schedule.
    fn check_rule(
        &self,
        rule: &RecurringRule,
        category: &str,
        payment_method: Option<&str>,
        currency: Option<&str>,
        amount: &str,
    ) -> Result<RecurringRule> {
        let input = NewTransaction {
            kind: Some(rule.kind),
            amount: amount.to_string(),
            currency: currency.map(str::to_string),
            date: rule.start.format("%Y-%m-%d").to_string(),
            category: category.to_string(),
            payment_method: payment_method.map(str::to_string),
            description: rule.description.clone(),
            notes: rule.notes.clone(),
            tags: rule.tags.clone(),
        };
        let t = self.lookup()?.validate_new(&input, rule.id, rule.updated_at)?;
        if t.description.is_empty() {
            return Err(Error::invalid("description", "is required (what is this bill or income?)"));
        }
        let checked = RecurringRule {
            amount: t.amount,
            currency: t.currency,
            category_id: t.category_id,
            payment_method_id: t.payment_method_id,
            description: t.description,
            notes: t.notes,
            tags: t.tags,
            ..rule.clone()
        };
        check_schedule(&checked)?;
        Ok(checked)
    }

    pub fn add_recurring(&mut self, input: &NewRecurring, id: Uuid, now: DateTime<Utc>) -> Result<RecurringRule> {
        let frequency = input
            .frequency
            .ok_or_else(|| Error::invalid("frequency", "is required (daily, weekly, monthly or yearly)"))?;
        let start = model::parse_date("start", &input.start)?;
        let end = match input.end.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(text) => Some(model::parse_date("end", text)?),
            None => None,
        };
        let (day, month) = match frequency {
            Frequency::Daily | Frequency::Weekly => (input.day, input.month),
            Frequency::Monthly => (Some(input.day.unwrap_or(start.day())), input.month),
            Frequency::Yearly => (Some(input.day.unwrap_or(start.day())), Some(input.month.unwrap_or(start.month()))),
        };
        let draft = RecurringRule {
            id,
            kind: input.kind.unwrap_or(Kind::Expense),
            amount: Decimal::ONE,
            currency: self.settings()?.base_currency,
            category_id: Uuid::nil(),
            payment_method_id: Uuid::nil(),
            description: input.description.clone(),
            notes: input.notes.clone(),
            tags: input.tags.clone(),
            frequency,
            interval: input.interval.unwrap_or(1),
            day,
            month,
            start,
            end,
            count: input.count,
            auto: input.auto.unwrap_or(true),
            remind_days: input.remind_days.unwrap_or(DEFAULT_REMIND_DAYS),
            next_due: None,
            created_at: now,
            updated_at: now,
        };
        if input.category.trim().is_empty() {
            return Err(Error::invalid("category", "is required"));
        }
        let rule = self.check_rule(
            &draft,
            &input.category,
            input.payment_method.as_deref(),
            input.currency.as_deref(),
            &input.amount,
        )?;
        self.commit(now, |tx, c| {
            if doc::child_map(tx, &c.recurring, &id.to_string())?.is_some() {
                return Err(Error::invalid("id", format!("a recurring rule {id} already exists")));
            }
            doc::put_rule(tx, &c.recurring, &rule)?;
            Ok(((), Touched { recurring: vec![id], ..Touched::default() }))
        })?;
        self.recurring_rule(id)
    }

    /// Changes the series (see [`RecurringPatch`]); occurrences already booked stay as they
    /// are.
    pub fn edit_recurring(
        &mut self,
        id: Uuid,
        patch: &RecurringPatch,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<RecurringRule> {
        let row = self.rule_row(id)?;
        let next_due = occurrences(&row.rule).find(|d| !row.done.contains_key(d));
        let current = row.rule;
        let kind = patch.kind.unwrap_or(current.kind);
        if kind != current.kind && patch.category.is_none() {
            return Err(Error::invalid("category", format!("choose a {kind} category when changing the kind")));
        }
        let frequency = patch.frequency.unwrap_or(current.frequency);
        let schedule_changed = patch.frequency.is_some_and(|f| f != current.frequency)
            || patch.interval.is_some_and(|i| i != current.interval)
            || patch.day.is_some_and(|d| Some(d) != current.day)
            || patch.month.is_some_and(|m| Some(m) != current.month);
        let start = match patch.start.as_deref() {
            Some(text) => model::parse_date("start", text)?,
            // The new schedule takes over where the old one stands: from its next open
            // occurrence (or today, once it ended), so nothing booked is booked again.
            None if schedule_changed => current.start.max(next_due.unwrap_or(today)),
            None => current.start,
        };
        let end = match &patch.end {
            Some(Some(text)) if !text.trim().is_empty() => Some(model::parse_date("end", text)?),
            Some(_) => None,
            None => current.end,
        };
        let (day, month) = match frequency {
            Frequency::Daily | Frequency::Weekly => (patch.day, patch.month),
            Frequency::Monthly => (Some(patch.day.or(current.day).unwrap_or(start.day())), patch.month),
            Frequency::Yearly => (
                Some(patch.day.or(current.day).unwrap_or(start.day())),
                Some(patch.month.or(current.month).unwrap_or(start.month())),
            ),
        };
        let draft = RecurringRule {
            kind,
            description: patch.description.clone().unwrap_or_else(|| current.description.clone()),
            notes: patch.notes.clone().unwrap_or_else(|| current.notes.clone()),
            tags: patch.tags.clone().unwrap_or_else(|| current.tags.clone()),
            frequency,
            interval: patch.interval.unwrap_or(current.interval),
            day,
            month,
            start,
            end,
            count: match patch.count {
                Some(c) => c,
                // The series keeps its length: what was done before the new start counts.
                None if start != current.start => {
                    current.count.map(|c| c.saturating_sub(row.done.keys().filter(|d| **d < start).count() as u32))
                }
                None => current.count,
            },
            auto: patch.auto.unwrap_or(current.auto),
            remind_days: patch.remind_days.unwrap_or(current.remind_days),
            updated_at: now,
            ..current.clone()
        };
        let amount = patch.amount.clone().unwrap_or_else(|| current.currency.format(current.amount));
        let currency = patch.currency.clone().unwrap_or_else(|| current.currency.code().to_string());
        let category = patch.category.clone().unwrap_or_else(|| current.category_id.to_string());
        let method = patch.payment_method.clone().unwrap_or_else(|| current.payment_method_id.to_string());
        let rule = self.check_rule(&draft, &category, Some(&method), Some(&currency), &amount)?;
        self.commit(now, |tx, c| {
            let (old, _) = doc::read_rule(tx, &c.recurring, id)
                .ok_or_else(|| Error::NotFound { entity: "recurring rule", id: id.to_string() })?;
            doc::update_rule(tx, &c.recurring, &old, &rule)?;
            Ok(((), Touched { recurring: vec![id], ..Touched::default() }))
        })?;
        self.recurring_rule(id)
    }

    /// Deletes a rule; the transactions it booked stay.
    pub fn delete_recurring(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        self.rule_row(id)?;
        self.commit(now, |tx, c| {
            automerge::transaction::Transactable::delete(tx, &c.recurring, id.to_string())?;
            Ok(((), Touched { recurring: vec![id], ..Touched::default() }))
        })
    }

    /// Checks that `due` is an occurrence of the rule that was neither booked nor skipped.
    fn open_occurrence(&self, id: Uuid, due: NaiveDate) -> Result<RuleRow> {
        let row = self.rule_row(id)?;
        if !occurrences(&row.rule).take_while(|d| *d <= due).any(|d| d == due) {
            return Err(Error::invalid("due", format!("{due} is not an occurrence of this rule")));
        }
        if let Some(done) = row.done.get(&due) {
            return Err(Error::invalid("due", format!("the occurrence of {due} was {} already", done.as_str())));
        }
        Ok(row)
    }

    /// Skips one occurrence: nothing is booked for it, ever.
    pub fn skip_occurrence(&mut self, id: Uuid, due: NaiveDate, now: DateTime<Utc>) -> Result<()> {
        self.open_occurrence(id, due)?;
        self.commit(now, |tx, c| {
            doc::put_done(tx, &c.recurring, id, due, Done::Skipped)?;
            Ok(((), Touched { recurring: vec![id], ..Touched::default() }))
        })
    }

    /// Books one occurrence now, with `changes` applied to what the rule would book (another
    /// amount, date or description for this one time).
    pub fn book_occurrence(
        &mut self,
        id: Uuid,
        due: NaiveDate,
        changes: &TransactionPatch,
        now: DateTime<Utc>,
    ) -> Result<Transaction> {
        let row = self.open_occurrence(id, due)?;
        let r = &row.rule;
        let input = NewTransaction {
            kind: Some(changes.kind.unwrap_or(r.kind)),
            amount: changes.amount.clone().unwrap_or_else(|| r.currency.format(r.amount)),
            currency: Some(changes.currency.clone().unwrap_or_else(|| r.currency.code().to_string())),
            date: changes.date.clone().unwrap_or_else(|| due.format("%Y-%m-%d").to_string()),
            category: match &changes.category {
                Some(c) => c.clone(),
                None => live_category_id(&self.all_categories()?, r.category_id, r.kind).to_string(),
            },
            payment_method: Some(changes.payment_method.clone().unwrap_or_else(|| r.payment_method_id.to_string())),
            description: changes.description.clone().unwrap_or_else(|| r.description.clone()),
            notes: changes.notes.clone().unwrap_or_else(|| r.notes.clone()),
            tags: changes.tags.clone().unwrap_or_else(|| r.tags.clone()),
        };
        let tx_id = doc::occurrence_id(id, due);
        let t = self.lookup()?.validate_new(&input, tx_id, now)?;
        if self.transaction_exists(tx_id)? {
            return Err(Error::invalid("due", format!("the occurrence of {due} was booked already")));
        }
        self.commit(now, |tx, c| {
            doc::put_transaction(tx, &c.transactions, &t)?;
            doc::put_done(tx, &c.recurring, id, due, Done::Booked)?;
            Ok(((), Touched { created: vec![t.clone()], recurring: vec![id], ..Touched::default() }))
        })?;
        self.transaction(tx_id)?.ok_or_else(|| Error::NotFound { entity: "transaction", id: tx_id.to_string() })
    }

    /// Occurrences waiting for confirmation (their day has come), then those of the next
    /// `days` days, by date.
    pub fn upcoming(&self, today: NaiveDate, days: u32) -> Result<Vec<Occurrence>> {
        Ok(upcoming_of(&self.rule_rows()?, today, days))
    }

    /// Books every occurrence due by `today` of the rules that book by themselves (catching up
    /// on those missed while the app was closed), then raises the alerts spending crossed,
    /// and lists the reminders due. Nothing to do writes nothing.
    pub fn run_plans(&mut self, today: NaiveDate, now: DateTime<Utc>) -> Result<PlanRun> {
        let rows = self.rule_rows()?;
        let categories = self.all_categories()?;
        let mut bookings: Vec<(Uuid, NaiveDate, Transaction)> = Vec::new();
        for row in &rows {
            if !row.rule.auto {
                continue;
            }
            let r = &row.rule;
            let category_id = live_category_id(&categories, r.category_id, r.kind);
            let mut n = 0;
            for due in occurrences(r).take_while(|d| *d <= today) {
                if row.done.contains_key(&due) {
                    continue;
                }
                n += 1;
                if n > MAX_CATCH_UP {
                    break;
                }
                let t = Transaction {
                    id: doc::occurrence_id(r.id, due),
                    kind: r.kind,
                    amount: r.amount,
                    currency: r.currency,
                    date: due,
                    category_id,
                    payment_method_id: r.payment_method_id,
                    description: r.description.clone(),
                    notes: r.notes.clone(),
                    tags: r.tags.clone(),
                    created_at: now,
                    updated_at: now,
                    base_amount: None,
                    conflicts: BTreeMap::new(),
                };
                bookings.push((r.id, due, t));
            }
        }
        let mut booked = 0;
        if !bookings.is_empty() {
            booked = self.commit(now, |tx, c| {
                let mut created = Vec::new();
                let mut rules = BTreeSet::new();
                let mut done: BTreeMap<Uuid, BTreeMap<NaiveDate, Done>> = BTreeMap::new();
                for (rule, due, t) in bookings {
                    let already = done
                        .entry(rule)
                        .or_insert_with(|| doc::read_rule(&*tx, &c.recurring, rule).map(|r| r.1).unwrap_or_default());
                    if already.contains_key(&due) || doc::child_map(&*tx, &c.transactions, &t.id.to_string())?.is_some()
                    {
                        continue;
                    }
                    if doc::child_map(&*tx, &c.recurring, &rule.to_string())?.is_none() {
                        continue;
                    }
                    doc::put_transaction(tx, &c.transactions, &t)?;
                    doc::put_done(tx, &c.recurring, rule, due, Done::Booked)?;
                    rules.insert(rule);
                    created.push(t);
                }
                let count = created.len() as u32;
                Ok((count, Touched { created, recurring: rules.into_iter().collect(), ..Touched::default() }))
            })?;
        }
        let alerts = self.raise_alerts(today, now)?;
        // What was booked just now is no longer due.
        let rows = if booked > 0 { self.rule_rows()? } else { rows };
        let reminders = upcoming_of(&rows, today, MAX_REMIND_DAYS)
            .into_iter()
            .filter(|o| o.status == OccurrenceStatus::Due || o.remind_on.is_some_and(|r| r <= today))
            .collect();
        Ok(PlanRun { booked, alerts, reminders })
    }
}

/// Expenses of one month, category and currency: as booked, and converted into the base
/// currency (those with a rate).
struct SpentRow {
    /// The first of the month.
    month: NaiveDate,
    category: Uuid,
    currency: crate::money::Currency,
    amount: Decimal,
    base: Decimal,
}

/// Expenses per month, category and currency.
struct Spending {
    rows: Vec<SpentRow>,
    base: crate::money::Currency,
    /// To follow a deleted category to where its transactions went, as the view does.
    categories: Vec<Category>,
}

impl Spending {
    /// What a budget spent per period start within `[first, last]`. A budget in the base
    /// currency counts every expense, converted with the rate of its date; one in another
    /// currency (the base changed since it was made) counts the expenses in its currency.
    fn by_period(&self, b: &Budget, first: NaiveDate, last: NaiveDate) -> BTreeMap<NaiveDate, Decimal> {
        let mut out = BTreeMap::new();
        let target = b.category_id.map(|c| live_category_id(&self.categories, c, Kind::Expense));
        let converted = b.currency == self.base;
        for row in &self.rows {
            let counts = (converted || row.currency == b.currency) && target.is_none_or(|c| c == row.category);
            if counts && row.month >= first && row.month <= last {
                let amount = if converted { row.base } else { row.amount };
                *out.entry(b.period.start_of(row.month)).or_insert(Decimal::ZERO) += amount;
            }
        }
        out
    }
}

/// The live category a rule books into: its own, or where it went if it was deleted.
fn live_category_id(all: &[Category], id: Uuid, kind: Kind) -> Uuid {
    let mut current = id;
    for _ in 0..=all.len() {
        match all.iter().find(|c| c.id == current) {
            Some(c) if !c.deleted => return c.id,
            Some(Category { merged_into: Some(next), .. }) => current = *next,
            _ => break,
        }
    }
    doc::fallback_category(kind)
}

/// The rules' open occurrences up to `days` ahead: those whose day has come first, by date.
fn upcoming_of(rows: &[RuleRow], today: NaiveDate, days: u32) -> Vec<Occurrence> {
    let horizon = today + Duration::days(i64::from(days.min(366)));
    let mut out = Vec::new();
    for row in rows {
        for due in occurrences(&row.rule).take_while(|d| *d <= horizon) {
            if row.done.contains_key(&due) {
                continue;
            }
            out.push(
                row.occurrence(due, if due <= today { OccurrenceStatus::Due } else { OccurrenceStatus::Upcoming }),
            );
            if out.len() >= MAX_UPCOMING * 4 {
                break;
            }
        }
    }
    out.sort_by(|a, b| a.due.cmp(&b.due).then(a.description.cmp(&b.description)));
    out.truncate(MAX_UPCOMING);
    out
}

fn check_thresholds(input: Option<&[u32]>) -> Result<Vec<u32>> {
    let mut t: Vec<u32> = input.map_or_else(|| DEFAULT_THRESHOLDS.to_vec(), <[u32]>::to_vec);
    if let Some(bad) = t.iter().find(|v| **v == 0 || **v > MAX_THRESHOLD) {
        return Err(Error::invalid("thresholds", format!("{bad}% is not between 1% and {MAX_THRESHOLD}%")));
    }
    t.sort_unstable();
    t.dedup();
    if t.len() > MAX_THRESHOLDS {
        return Err(Error::invalid("thresholds", format!("at most {MAX_THRESHOLDS} thresholds are allowed")));
    }
    Ok(t)
}

impl RuleRow {
    fn with_next_due(self) -> RecurringRule {
        let next_due = occurrences(&self.rule).find(|d| !self.done.contains_key(d));
        RecurringRule { next_due, ..self.rule }
    }

    fn occurrence(&self, due: NaiveDate, status: OccurrenceStatus) -> Occurrence {
        let r = &self.rule;
        Occurrence {
            rule_id: r.id,
            due,
            transaction_id: doc::occurrence_id(r.id, due),
            kind: r.kind,
            amount: r.amount,
            currency: r.currency,
            category_id: r.category_id,
            description: r.description.clone(),
            status,
            remind_on: (r.remind_days > 0).then(|| due - Duration::days(i64::from(r.remind_days))),
        }
    }
}
