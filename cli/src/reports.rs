//! `expenso report`: a period's report — income, expenses and net in the base currency, by
//! category, payment method and tag, month by month, against the period before and the
//! budgets — as a table, a CSV file or a PDF document.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{Datelike, Local, NaiveDate, Utc};
use clap::{Args, ValueEnum};
use expenso_core::report::{csv, pdf, Paper, Report};
use expenso_core::{Month, Store};

use crate::output::{table, unconverted_note, Out};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Tables on the terminal.
    Text,
    /// One row per transaction (RFC 4180, UTF-8).
    Csv,
    /// The whole report, to print or share.
    Pdf,
}

#[derive(Args)]
pub struct ReportArgs {
    /// First day, YYYY-MM-DD.
    #[arg(long, conflicts_with_all = ["month", "quarter", "year"], requires = "to")]
    from: Option<String>,
    /// Last day, YYYY-MM-DD.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// A month, YYYY-MM (the default: this month).
    #[arg(long, conflicts_with_all = ["quarter", "year"])]
    month: Option<String>,
    /// A quarter, YYYY-Q1 … YYYY-Q4.
    #[arg(long, conflicts_with = "year")]
    quarter: Option<String>,
    /// A year, YYYY.
    #[arg(long)]
    year: Option<i32>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Where to write a CSV or PDF file (CSV goes to standard output without it).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The PDF's paper.
    #[arg(long, default_value = "a4")]
    paper: String,
}

pub fn report(store: &Store, a: ReportArgs, out: &Out) -> Result<()> {
    let (from, to) = period(&a)?;
    let report = store.report(from, to, Utc::now())?;
    match a.format {
        Format::Text => text(&report, out),
        Format::Csv => {
            let bytes = csv::to_bytes(&report);
            match &a.output {
                Some(path) => {
                    crate::write_atomically(path, &bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("Wrote {} transactions to {}", report.transactions.len(), path.display());
                    Ok(())
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes)?;
                    Ok(())
                }
            }
        }
        Format::Pdf => {
            let paper: Paper = a.paper.parse()?;
            let path = a.output.clone().unwrap_or_else(|| PathBuf::from(format!("report-{from}-{to}.pdf")));
            let bytes = pdf::render(&report, paper);
            crate::write_atomically(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
            out.message(
                &format!(
                    "Wrote the report of {} to {} ({} KB)",
                    report.period.label,
                    path.display(),
                    bytes.len() / 1024
                ),
                &serde_json::json!({ "path": path, "bytes": bytes.len(), "period": report.period }),
            )
        }
    }
}

/// The period the flags name; this month when none does.
fn period(a: &ReportArgs) -> Result<(NaiveDate, NaiveDate)> {
    let day = |field: &str, text: &str| expenso_core::model::parse_date(field, text).map_err(anyhow::Error::from);
    if let (Some(from), Some(to)) = (&a.from, &a.to) {
        return Ok((day("from", from)?, day("to", to)?));
    }
    if let Some(m) = &a.month {
        let m: Month = m.parse()?;
        return Ok((m.first_day(), m.last_day()));
    }
    if let Some(q) = &a.quarter {
        let (year, n) = q
            .split_once(['-', ' '])
            .and_then(|(y, q)| Some((y.parse::<i32>().ok()?, q.trim_start_matches(['Q', 'q']).parse::<u32>().ok()?)))
            .filter(|(_, n)| (1..=4).contains(n))
            .with_context(|| format!("quarter: {q:?} is not a quarter like 2026-Q1"))?;
        let first = Month { year, month: (n - 1) * 3 + 1 };
        let last = Month { year, month: n * 3 };
        return Ok((first.first_day(), last.last_day()));
    }
    if let Some(y) = a.year {
        let first = NaiveDate::from_ymd_opt(y, 1, 1).with_context(|| format!("year: {y} is not a year"))?;
        return Ok((first, NaiveDate::from_ymd_opt(y, 12, 31).expect("31 December exists")));
    }
    let m = Month::of(Local::now().date_naive());
    if m.first_day().year() < 1900 {
        bail!("the computer's clock is wrong");
    }
    Ok((m.first_day(), m.last_day()))
}

fn text(r: &Report, out: &Out) -> Result<()> {
    if out.json {
        return out.message("", r);
    }
    let cur = r.base_currency;
    let money = |v| format!("{} {cur}", cur.format(v));
    println!("{} — {} ({} – {})", r.title, r.period.label, r.period.from, r.period.to);
    let mut t = table(&["", &r.period.label, &format!("{} (before)", r.previous.period.label), "change"]);
    let pct = |p: Option<expenso_core::Decimal>| p.map(|p| format!("{p}%")).unwrap_or_else(|| "–".into());
    let p = &r.previous;
    t.add_row(["income".to_string(), money(r.summary.income), money(p.summary.income), pct(p.income_change)]);
    t.add_row(["expenses".to_string(), money(r.summary.expense), money(p.summary.expense), pct(p.expense_change)]);
    t.add_row(["net".to_string(), money(r.summary.net), money(p.summary.net), pct(p.net_change)]);
    t.add_row(["transactions".to_string(), r.summary.count.to_string(), p.summary.count.to_string(), String::new()]);
    println!("{t}");
    unconverted_note(&r.unconverted);
    for (title, lines) in
        [("By category", &r.categories), ("By payment method", &r.payment_methods), ("By tag", &r.tags)]
    {
        if lines.is_empty() {
            continue;
        }
        println!("{title}");
        let mut t = table(&["kind", "name", "amount", "share", "transactions"]);
        for l in lines {
            t.add_row([
                l.kind.to_string(),
                l.name.clone(),
                money(l.total),
                format!("{}%", l.percent),
                l.count.to_string(),
            ]);
        }
        println!("{t}");
    }
    println!("Month by month");
    let mut t = table(&["month", "income", "expenses", "net"]);
    for m in &r.months {
        t.add_row([m.month.to_string(), money(m.income), money(m.expense), money(m.net)]);
    }
    println!("{t}");
    if !r.budgets.is_empty() {
        println!("Budgets");
        let mut t = table(&["budget", "period", "limit", "actual", "left", "used"]);
        for b in &r.budgets {
            t.add_row([
                b.name.clone(),
                format!("{} – {}", b.from, b.to),
                money(b.limit),
                money(b.actual),
                money(b.remaining),
                format!("{}%", b.percent),
            ]);
        }
        println!("{t}");
    }
    println!(
        "{} transaction(s); `--format csv` lists them, `--format pdf` makes the whole report.",
        r.transactions.len()
    );
    Ok(())
}
