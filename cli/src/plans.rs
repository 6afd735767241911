//! `expenso budgets`, `alerts`, `recurring` and `due`: budgets with alerts, recurring
//! transactions and bill reminders over the core. "Today" is this computer's local date.

use anyhow::{bail, Result};
use chrono::{Local, NaiveDate, Utc};
use clap::{Args, Subcommand};
use comfy_table::Table;
use expenso_core::{
    BudgetPatch, BudgetPeriod, BudgetStatus, Frequency, Kind, NewBudget, NewRecurring, Occurrence, RecurringRule,
    Store, TransactionPatch,
};
use serde::Serialize;
use uuid::Uuid;

use crate::output::{table, Out};

fn today() -> NaiveDate {
    Local::now().date_naive()
}

#[derive(Subcommand)]
pub enum BudgetCommand {
    /// Every budget in the current period (or the one holding --date).
    List {
        #[arg(long)]
        date: Option<String>,
    },
    /// Make a budget for a category (or for all expenses).
    Add {
        amount: String,
        /// Expense category name or id (default: all expenses).
        #[arg(long, short)]
        category: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Per year instead of per month.
        #[arg(long)]
        annual: bool,
        /// Any day of the first period (default: today).
        #[arg(long)]
        start: Option<String>,
        /// Carry what was left or overspent into the next period.
        #[arg(long)]
        rollover: bool,
        /// Alert at this % of the limit (repeat; default 80 and 100).
        #[arg(long = "threshold")]
        thresholds: Vec<u32>,
    },
    /// Change a budget.
    Edit {
        id: String,
        #[arg(long)]
        amount: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        rollover: Option<bool>,
        #[arg(long = "threshold")]
        thresholds: Vec<u32>,
    },
    Delete {
        id: String,
    },
    /// A budget's past periods.
    History {
        id: String,
        #[arg(long, default_value_t = 12)]
        periods: u32,
    },
}

#[derive(Args)]
pub struct AlertsArgs {
    /// Mark this alert as seen.
    #[arg(long)]
    dismiss: Option<String>,
}

#[derive(Subcommand)]
pub enum RecurringCommand {
    List,
    /// Make a recurring expense (or income with --income).
    Add(Box<AddRecurring>),
    Delete {
        id: String,
    },
    /// Occurrences waiting for confirmation and those of the next days.
    Upcoming {
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Skip one occurrence (nothing is booked for it).
    Skip {
        id: String,
        due: String,
    },
    /// Book one occurrence now, optionally with another amount.
    Book {
        id: String,
        due: String,
        #[arg(long)]
        amount: Option<String>,
    },
}

#[derive(Args)]
pub struct AddRecurring {
    amount: String,
    #[arg(long)]
    income: bool,
    #[arg(long, short)]
    category: String,
    #[arg(long, short)]
    description: String,
    /// daily, weekly, monthly or yearly.
    #[arg(long)]
    every: String,
    /// Every N days, weeks, months or years.
    #[arg(long, default_value_t = 1)]
    interval: u32,
    /// Day of the month (monthly, yearly); 31 books on the last day of shorter months.
    #[arg(long)]
    day: Option<u32>,
    /// Month (yearly).
    #[arg(long)]
    month: Option<u32>,
    /// First day (YYYY-MM-DD).
    #[arg(long)]
    start: String,
    #[arg(long)]
    end: Option<String>,
    #[arg(long)]
    count: Option<u32>,
    /// Ask before booking each occurrence (`expenso recurring book`).
    #[arg(long)]
    ask: bool,
    /// Days before each occurrence that its reminder shows.
    #[arg(long)]
    remind_days: Option<u32>,
    #[arg(long, short)]
    payment_method: Option<String>,
    #[arg(long)]
    currency: Option<String>,
}

fn print<T: Serialize + ?Sized>(out: &Out, value: &T, table: impl FnOnce() -> Table) -> Result<()> {
    if out.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", table());
    }
    Ok(())
}

fn resolve(kind: &str, ids: impl Iterator<Item = Uuid>, text: &str) -> Result<Uuid> {
    let text = text.trim().to_lowercase();
    let found: Vec<Uuid> = ids.filter(|id| id.to_string().starts_with(&text)).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no {kind} {text:?}"),
        _ => bail!("{text:?} matches several {kind}s; give more of the id"),
    }
}

fn statuses(out: &Out, list: &[BudgetStatus]) -> Result<()> {
    print(out, list, || {
        let mut t = table(&["id", "budget", "period", "spent", "limit", "left", "used", "projected", "alerts"]);
        for s in list {
            let c = s.budget.currency;
            t.add_row(vec![
                s.budget.id.to_string()[..8].to_string(),
                s.budget.name.clone(),
                format!("{} – {}", s.period_start, s.period_end),
                format!("{} {c}", s.spent),
                format!("{} {c}", s.limit),
                format!("{} {c}", s.remaining),
                format!("{}%", s.percent),
                format!("{} {c}", s.projected),
                s.alerts.iter().map(|a| format!("{}%", a.threshold)).collect::<Vec<_>>().join(" "),
            ]);
        }
        t
    })
}

pub fn budgets(store: &mut Store, command: BudgetCommand, out: &Out) -> Result<()> {
    let today = today();
    let budget_id = |store: &Store, text: &str| resolve("budget", store.budgets()?.into_iter().map(|b| b.id), text);
    match command {
        BudgetCommand::List { date } => {
            let date = date.map(|d| expenso_core::model::parse_date("date", &d)).transpose()?.unwrap_or(today);
            statuses(out, &store.budget_statuses(date, today)?)
        }
        BudgetCommand::Add { amount, category, name, annual, start, rollover, thresholds } => {
            let input = NewBudget {
                name,
                category,
                period: Some(if annual { BudgetPeriod::Annual } else { BudgetPeriod::Monthly }),
                amount,
                start,
                rollover: Some(rollover),
                thresholds: (!thresholds.is_empty()).then_some(thresholds),
            };
            let b = store.add_budget(&input, Uuid::now_v7(), today, Utc::now())?;
            out.message(
                &format!(
                    "Budget {} ({}): {} {} {}",
                    b.name,
                    &b.id.to_string()[..8],
                    b.amount,
                    b.currency,
                    b.period.as_str()
                ),
                &b,
            )
        }
        BudgetCommand::Edit { id, amount, name, rollover, thresholds } => {
            let id = budget_id(store, &id)?;
            let patch =
                BudgetPatch { name, amount, rollover, thresholds: (!thresholds.is_empty()).then_some(thresholds) };
            let b = store.edit_budget(id, &patch, Utc::now())?;
            out.message(&format!("Budget {}: {} {} {}", b.name, b.amount, b.currency, b.period.as_str()), &b)
        }
        BudgetCommand::Delete { id } => {
            let id = budget_id(store, &id)?;
            store.delete_budget(id, Utc::now())?;
            out.message("Deleted the budget", &serde_json::json!({ "deleted": id }))
        }
        BudgetCommand::History { id, periods } => {
            let id = budget_id(store, &id)?;
            statuses(out, &store.budget_history(id, periods, today)?)
        }
    }
}

pub fn alerts(store: &mut Store, args: AlertsArgs, out: &Out) -> Result<()> {
    if let Some(id) = args.dismiss {
        store.dismiss_alert(&id, Utc::now())?;
        return out.message("Dismissed", &serde_json::json!({ "dismissed": id }));
    }
    let list = store.alerts()?;
    print(out, &list, || {
        let mut t = table(&["id", "budget", "period", "threshold", "spent", "limit", "raised", "seen"]);
        for a in &list {
            t.add_row(vec![
                a.id.clone(),
                a.budget_name.clone(),
                format!("{} – {}", a.period_start, a.period_end),
                format!("{}%", a.threshold),
                format!("{} {}", a.spent, a.currency),
                format!("{} {}", a.limit, a.currency),
                a.raised_at.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string(),
                if a.dismissed { "yes".into() } else { "no".into() },
            ]);
        }
        t
    })
}

/// "every 2 weeks", "monthly on day 31", …
pub fn schedule(r: &RecurringRule) -> String {
    let unit = match r.frequency {
        Frequency::Daily => "day",
        Frequency::Weekly => "week",
        Frequency::Monthly => "month",
        Frequency::Yearly => "year",
    };
    let every = if r.interval == 1 { format!("every {unit}") } else { format!("every {} {unit}s", r.interval) };
    match (r.frequency, r.day, r.month) {
        (Frequency::Monthly, Some(day), _) => format!("{every} on day {day}"),
        (Frequency::Yearly, Some(day), Some(month)) => format!("{every} on {day}/{month}"),
        _ => every,
    }
}

fn occurrences(out: &Out, list: &[Occurrence]) -> Result<()> {
    print(out, list, || {
        let mut t = table(&["rule", "due", "description", "amount", "status"]);
        for o in list {
            t.add_row(vec![
                o.rule_id.to_string()[..8].to_string(),
                o.due.to_string(),
                o.description.clone(),
                format!("{} {}", o.currency.format(o.amount), o.currency),
                format!("{:?}", o.status).to_lowercase(),
            ]);
        }
        t
    })
}

pub fn recurring(store: &mut Store, command: RecurringCommand, out: &Out) -> Result<()> {
    let rule_id =
        |store: &Store, text: &str| resolve("recurring rule", store.recurring_rules()?.into_iter().map(|r| r.id), text);
    match command {
        RecurringCommand::List => {
            let list = store.recurring_rules()?;
            print(out, &list, || {
                let mut t = table(&["id", "description", "amount", "schedule", "next", "books"]);
                for r in &list {
                    t.add_row(vec![
                        r.id.to_string()[..8].to_string(),
                        r.description.clone(),
                        format!(
                            "{}{} {}",
                            if r.kind == Kind::Expense { "-" } else { "+" },
                            r.currency.format(r.amount),
                            r.currency
                        ),
                        schedule(r),
                        r.next_due.map(|d| d.to_string()).unwrap_or_else(|| "ended".into()),
                        if r.auto { "by itself".into() } else { "asks".into() },
                    ]);
                }
                t
            })
        }
        RecurringCommand::Add(a) => {
            let frequency = Frequency::parse(&a.every)
                .ok_or_else(|| anyhow::anyhow!("--every {:?} is not daily, weekly, monthly or yearly", a.every))?;
            let input = NewRecurring {
                kind: Some(if a.income { Kind::Income } else { Kind::Expense }),
                amount: a.amount,
                currency: a.currency,
                category: a.category,
                payment_method: a.payment_method,
                description: a.description,
                notes: String::new(),
                tags: Vec::new(),
                frequency: Some(frequency),
                interval: Some(a.interval),
                day: a.day,
                month: a.month,
                start: a.start,
                end: a.end,
                count: a.count,
                auto: Some(!a.ask),
                remind_days: a.remind_days,
            };
            let r = store.add_recurring(&input, Uuid::now_v7(), Utc::now())?;
            let next = r.next_due.map(|d| d.to_string()).unwrap_or_default();
            out.message(
                &format!("{} ({}): {}, next on {next}", r.description, &r.id.to_string()[..8], schedule(&r)),
                &r,
            )
        }
        RecurringCommand::Delete { id } => {
            let id = rule_id(store, &id)?;
            store.delete_recurring(id, Utc::now())?;
            out.message("Deleted the recurring rule (booked transactions stay)", &serde_json::json!({ "deleted": id }))
        }
        RecurringCommand::Upcoming { days } => occurrences(out, &store.upcoming(today(), days)?),
        RecurringCommand::Skip { id, due } => {
            let id = rule_id(store, &id)?;
            let due = expenso_core::model::parse_date("due", &due)?;
            store.skip_occurrence(id, due, Utc::now())?;
            out.message(&format!("Skipped the occurrence of {due}"), &serde_json::json!({ "skipped": due }))
        }
        RecurringCommand::Book { id, due, amount } => {
            let id = rule_id(store, &id)?;
            let due = expenso_core::model::parse_date("due", &due)?;
            let t = store.book_occurrence(id, due, &TransactionPatch { amount, ..Default::default() }, Utc::now())?;
            out.transaction(store, &t)
        }
    }
}

/// Books what is due (catching up on what was missed), raises alerts, lists reminders.
pub fn due(store: &mut Store, out: &Out) -> Result<()> {
    let run = store.run_plans(today(), Utc::now())?;
    if out.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(());
    }
    println!("Booked {} recurring transaction{}", run.booked, if run.booked == 1 { "" } else { "s" });
    for a in &run.alerts {
        println!(
            "Alert: {} reached {}% of its budget ({} of {} {})",
            a.budget_name, a.threshold, a.spent, a.limit, a.currency
        );
    }
    if !run.reminders.is_empty() {
        occurrences(out, &run.reminders)?;
    }
    Ok(())
}
