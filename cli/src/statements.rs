//! `expenso import` of a bank statement (CSV, OFX/QFX, QIF): a preview with `--preview`, then
//! all or nothing. Rows already in the ledger (imported before) are never added again; rows
//! that look like a transaction typed by hand are held back unless `--include-duplicates`.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use expenso_core::import::{
    self, AmountColumns, Column, CsvMapping, DateOrder, Encoding, FileFormat, ImportOptions, ImportPreview,
};
use expenso_core::Store;

use crate::output::{table, Out};

#[derive(Args, Default)]
pub struct StatementArgs {
    /// Show what would be imported and write nothing.
    #[arg(long)]
    pub preview: bool,
    /// csv, ofx or qif (detected from the contents by default).
    #[arg(long)]
    pub format: Option<String>,
    /// CSV: which columns hold what, e.g. `date=Buchungstag,amount=Betrag,description=Empfänger`
    /// (names or 0-based numbers; also notes=, currency=, category=, id=, debit= and credit=
    /// instead of amount=). Recognised from the header when left out.
    #[arg(long)]
    pub columns: Option<String>,
    /// CSV: the date format (strftime, e.g. %d.%m.%Y), or `auto`.
    #[arg(long)]
    pub date_format: Option<String>,
    /// CSV: amounts use a decimal comma (1.234,56).
    #[arg(long)]
    pub decimal_comma: bool,
    /// CSV: the column separator (one character; detected by default).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// CSV: lines before the table.
    #[arg(long)]
    pub skip_rows: Option<usize>,
    /// CSV: the file shows expenses as positive amounts (many credit-card exports).
    #[arg(long)]
    pub expenses_positive: bool,
    /// The text encoding: utf-8, utf-16le, utf-16be, windows-1252, latin1 (detected by default).
    #[arg(long)]
    pub encoding: Option<String>,
    /// QIF: how dates are written: dmy, mdy or ymd (detected by default).
    #[arg(long)]
    pub date_order: Option<String>,
    /// The currency of rows the file gives none for (default: the file's, else the base).
    #[arg(long)]
    pub currency: Option<String>,
    /// The payment method of every row.
    #[arg(long)]
    pub payment_method: Option<String>,
    /// A tag for every imported transaction (repeat for more).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Also import rows that look like transactions already in the ledger.
    #[arg(long)]
    pub include_duplicates: bool,
}

pub fn import_statement(store: &mut Store, path: &Path, bytes: &[u8], a: &StatementArgs, out: &Out) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let mut options = options(a)?;
    if options.format.is_none() {
        options.format = Some(import::inspect(&name, bytes)?.format);
    }
    if options.format == Some(FileFormat::Csv) {
        options.mapping = Some(mapping(&name, bytes, a)?);
    }
    let file = import::read(&name, bytes, &options)?;
    let mut preview = store.preview_import(&name, &file, &options)?;
    if a.include_duplicates {
        options.include_duplicates =
            preview.rows.iter().filter(|r| r.duplicate.as_ref().is_some_and(|d| !d.exact)).map(|r| r.line).collect();
        preview = store.preview_import(&name, &file, &options)?;
    }
    if a.preview {
        return show(store, &preview, out);
    }
    let big = file.rows.len() > import::BATCH;
    let done = store.import_statement(&name, &file, &options, Utc::now(), |done, total| {
        if big {
            eprintln!("{done} of {total} written");
        }
    })?;
    out.message(
        &format!(
            "Imported {} transaction(s) from {name}; {} already in the ledger (or likely typed by hand), {} left out{}",
            done.added,
            done.duplicates,
            done.skipped,
            if done.duplicates > 0 && !a.include_duplicates {
                " (see them with --preview; --include-duplicates imports the likely ones)"
            } else {
                ""
            }
        ),
        &done,
    )
}

fn options(a: &StatementArgs) -> Result<ImportOptions> {
    let format = match a.format.as_deref() {
        None => None,
        Some("csv") => Some(FileFormat::Csv),
        Some("ofx" | "qfx") => Some(FileFormat::Ofx),
        Some("qif") => Some(FileFormat::Qif),
        Some(other) => anyhow::bail!("format: {other:?} is not csv, ofx or qif"),
    };
    let date_order = match a.date_order.as_deref() {
        None => DateOrder::Auto,
        Some(text) => serde_json::from_value(serde_json::Value::String(text.to_ascii_lowercase()))
            .with_context(|| format!("date-order: {text:?} is not dmy, mdy or ymd"))?,
    };
    Ok(ImportOptions {
        format,
        date_order,
        currency: a.currency.clone(),
        payment_method: a.payment_method.clone(),
        tags: a.tags.clone(),
        ..ImportOptions::default()
    })
}

/// The CSV mapping: the guess from the file's header, with what the flags say on top.
fn mapping(name: &str, bytes: &[u8], a: &StatementArgs) -> Result<CsvMapping> {
    let encoding: Encoding = match &a.encoding {
        Some(text) => {
            serde_json::from_value(serde_json::Value::String(text.to_ascii_lowercase())).with_context(|| {
                format!("encoding: {text:?} is not one of utf-8, utf-16le, utf-16be, windows-1252, latin1")
            })?
        }
        None => Encoding::Auto,
    };
    let sniff = import::sniff_csv(bytes, encoding, a.skip_rows.unwrap_or(0))?;
    let mut m = match (sniff.mapping, &a.columns) {
        (Some(m), _) => m,
        (None, Some(_)) => CsvMapping { encoding: sniff.encoding, delimiter: Some(sniff.delimiter), ..CsvMapping::default() },
        (None, None) => anyhow::bail!(
            "{name}: the columns could not be recognised (they are: {}); say which is which with --columns date=…,amount=…,description=…",
            sniff.headers.join(", ")
        ),
    };
    if let Some(columns) = &a.columns {
        let (mut debit, mut credit) = (None, None);
        for pair in columns.split(',') {
            let (key, value) =
                pair.split_once('=').with_context(|| format!("columns: {pair:?} is not like date=Datum"))?;
            let column = match value.trim().parse::<usize>() {
                Ok(i) => Column::Index(i),
                Err(_) => Column::Name(value.trim().to_string()),
            };
            match key.trim() {
                "date" => m.date_column = column,
                "amount" => m.amount = AmountColumns::Signed { column, negative_is_expense: true },
                "debit" => debit = Some(column),
                "credit" => credit = Some(column),
                "description" => m.description_column = column,
                "notes" => m.notes_column = Some(column),
                "currency" => m.currency_column = Some(column),
                "category" => m.category_column = Some(column),
                "id" => m.id_column = Some(column),
                other => anyhow::bail!("columns: {other:?} is not one of date, amount, debit, credit, description, notes, currency, category, id"),
            }
        }
        match (debit, credit) {
            (Some(debit), Some(credit)) => m.amount = AmountColumns::DebitCredit { debit, credit },
            (None, None) => {}
            _ => anyhow::bail!("columns: debit= and credit= go together"),
        }
    }
    if let Some(f) = &a.date_format {
        m.date_format = f.clone();
    }
    if a.decimal_comma {
        m.decimal_separator = ',';
    }
    if let Some(d) = a.delimiter {
        m.delimiter = Some(d);
    }
    if let Some(n) = a.skip_rows {
        m.skip_rows = n;
    }
    if a.encoding.is_some() {
        m.encoding = encoding;
    }
    if a.expenses_positive {
        if let AmountColumns::Signed { negative_is_expense, .. } = &mut m.amount {
            *negative_is_expense = false;
        }
    }
    Ok(m)
}

fn show(store: &Store, p: &ImportPreview, out: &Out) -> Result<()> {
    if out.json {
        return out.message("", p);
    }
    let names: std::collections::HashMap<uuid::Uuid, String> =
        store.all_categories()?.into_iter().map(|c| (c.id, c.name)).collect();
    let mut t = table(&["line", "date", "amount", "description", "category", "status"]);
    for r in &p.rows {
        let status = match (&r.duplicate, r.included) {
            (Some(d), false) if d.exact => "already imported".to_string(),
            (Some(d), false) => format!("likely typed already ({} {})", d.date, d.description),
            (Some(_), true) => "new (duplicate included)".into(),
            (None, true) => "new".into(),
            (None, false) => "skipped".into(),
        };
        let sign = if r.kind == expenso_core::Kind::Expense { "-" } else { "+" };
        t.add_row([
            r.line.to_string(),
            r.date.to_string(),
            format!("{sign}{} {}", r.currency.format(r.amount), r.currency),
            r.description.clone(),
            names.get(&r.category_id).cloned().unwrap_or_default(),
            status,
        ]);
    }
    println!("{t}");
    println!(
        "{} ({}): {} new, {} already in the ledger or likely typed by hand, {} left out. Nothing was written.",
        p.file, p.format, p.new, p.duplicates, p.skipped
    );
    Ok(())
}
