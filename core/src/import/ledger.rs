//! Bank statements into the ledger: reading a file as the user chose (`read`), a preview of
//! what an import would add (each row's kind, category suggestion and whether it is already
//! in the ledger), and the import itself.
//!
//! - **Duplicates.** A row gets a deterministic id: from the bank's transaction id (OFX
//!   FITID, a CSV id column) scoped by the account, else from its date, amount, description
//!   and how many identical rows come before it in the file. Importing the same file twice —
//!   on one device or on two devices offline — therefore writes each transaction once. A row
//!   that matches a transaction entered by hand (same kind, amount and currency, a date
//!   within 3 days, the same payee) is flagged as a likely duplicate and left out unless the
//!   user includes it.
//! - **Categories** come from the file (a QIF category, a CSV column) when one of that name
//!   exists, else from the payees seen before (the category most used for the same payee,
//!   else for its first word), else the kind's "Other".
//! - **All or nothing.** Every row is checked before anything is written; a file with one bad
//!   row imports nothing. The rows are then written in changes of at most `BATCH` (so that
//!   syncing stays cheap); ids being deterministic, an import cut short by a crash is simply
//!   run again and adds the rest.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{detect_format, parse_csv, parse_ofx, parse_qif, sniff_csv, CsvMapping, CsvSniff, DateOrder, Encoding};
use super::{FileFormat, ParsedFile, ParsedRow};
use crate::doc;
use crate::error::{Error, Result};
use crate::model::{Kind, NewTransaction, Transaction};
use crate::money::Currency;
use crate::store::Store;

/// Transactions written per change.
pub const BATCH: usize = 5_000;

/// Days apart a row and a transaction entered by hand may be and still be the same payment
/// (a card payment is often booked a day or two after it was made).
const DUPLICATE_WINDOW: i64 = 3;

/// Namespace of imported transactions' ids. Frozen forever: the ids of rows already imported
/// derive from it.
const IMPORT_NAMESPACE: Uuid = Uuid::from_u128(0x7a1f_3e52_94c8_4b0d_a6e1_5f2c_8d90_b347);

/// How to read a file and what to do with its rows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportOptions {
    /// Detected from the contents when left out.
    pub format: Option<FileFormat>,
    /// How a CSV file's columns map (the inspection's guess when left out).
    pub mapping: Option<CsvMapping>,
    /// How a QIF file writes dates (detected when `auto`).
    pub date_order: DateOrder,
    /// The currency of rows the file does not give one for (default: the file's, else the
    /// base currency).
    pub currency: Option<String>,
    /// A payment method's id or name for every row (default "Other").
    pub payment_method: Option<String>,
    /// Tags every imported transaction gets.
    pub tags: Vec<String>,
    /// A category (id or name) per line, as chosen in the preview; other lines take the
    /// suggestion.
    pub categories: BTreeMap<usize, String>,
    /// Lines not to import.
    pub skip_lines: Vec<usize>,
    /// Lines flagged as likely duplicates to import anyway.
    pub include_duplicates: Vec<usize>,
}

/// What a file is, before anything is chosen: its format, and for a CSV file its columns,
/// first rows and a guessed mapping.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub file: String,
    pub format: FileFormat,
    pub csv: Option<CsvSniff>,
}

/// Where a suggested category comes from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategorySource {
    /// The file names it.
    File,
    /// Chosen by the user for this line.
    Chosen,
    /// The category this payee's earlier transactions have.
    Payee,
    /// Nothing better: the kind's "Other".
    Default,
}

/// A transaction already in the ledger that a row repeats.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateOf {
    pub id: Uuid,
    pub date: NaiveDate,
    pub description: String,
    /// The very same row, imported before (it is never imported twice); otherwise a
    /// transaction that looks the same, entered another way.
    pub exact: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub line: usize,
    /// The id the transaction gets.
    pub id: Uuid,
    pub date: NaiveDate,
    pub kind: Kind,
    /// Positive; the kind says which way the money went.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub currency: Currency,
    pub description: String,
    pub notes: String,
    pub category_id: Uuid,
    pub category_source: CategorySource,
    pub duplicate: Option<DuplicateOf>,
    /// Whether the import writes it (not skipped, not a duplicate left out).
    pub included: bool,
}

/// What importing a file would do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    pub file: String,
    pub format: FileFormat,
    pub account: Option<String>,
    pub rows: Vec<PreviewRow>,
    /// Rows the import would write.
    pub new: usize,
    /// Rows already in the ledger or looking like a transaction there.
    pub duplicates: usize,
    /// Rows left out: zero amounts in the file, and lines the user skipped.
    pub skipped: usize,
}

/// What an import did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportOutcome {
    pub added: usize,
    pub duplicates: usize,
    pub skipped: usize,
}

/// Looks at a file: its format and, for CSV, its columns and a guessed mapping.
pub fn inspect(file_name: &str, bytes: &[u8]) -> Result<Inspection> {
    let format = detect_format(file_name, bytes).ok_or_else(|| Error::BadImport {
        file: file_name.to_string(),
        line: 0,
        column: None,
        message: "this is not a CSV, OFX, QFX or QIF statement".into(),
    })?;
    let csv = match format {
        FileFormat::Csv => Some(sniff_csv(bytes, Encoding::Auto, 0).map_err(|e| rename(e, file_name))?),
        _ => None,
    };
    Ok(Inspection { file: file_name.to_string(), format, csv })
}

/// Reads a file as `options` say (its format detected when not given, a CSV file with the
/// guessed mapping when none is given).
pub fn read(file_name: &str, bytes: &[u8], options: &ImportOptions) -> Result<ParsedFile> {
    let format = match options.format {
        Some(f) => f,
        None => inspect(file_name, bytes)?.format,
    };
    match format {
        FileFormat::Ofx => parse_ofx(file_name, bytes),
        FileFormat::Qif => parse_qif(file_name, bytes, options.date_order),
        FileFormat::Csv => {
            let mapping = match &options.mapping {
                Some(m) => m.clone(),
                None => sniff_csv(bytes, Encoding::Auto, 0).map_err(|e| rename(e, file_name))?.mapping.ok_or_else(
                    || {
                        Error::invalid(
                            "mapping",
                            "the columns of this CSV file could not be recognised: say which column holds the date, the amount and the description",
                        )
                    },
                )?,
            };
            parse_csv(file_name, bytes, &mapping)
        }
    }
}

/// `sniff_csv` names the file "the file"; the caller knows its name.
fn rename(e: Error, file_name: &str) -> Error {
    match e {
        Error::BadImport { line, column, message, .. } => {
            Error::BadImport { file: file_name.to_string(), line, column, message }
        }
        other => other,
    }
}

/// The deterministic ids of a file's rows (see the module's comment).
fn row_ids(file: &ParsedFile) -> Vec<Uuid> {
    let account = file.account.as_deref().unwrap_or("");
    let mut seen: HashMap<String, usize> = HashMap::new();
    file.rows
        .iter()
        .map(|r| {
            let key = match &r.bank_id {
                Some(fitid) => format!("bank:{account}:{fitid}"),
                None => {
                    let content =
                        format!("row:{account}:{}:{}:{}", r.date, r.amount.normalize(), payee_key(&r.description));
                    let n = seen.entry(content.clone()).or_insert(0);
                    *n += 1;
                    format!("{content}:{n}")
                }
            };
            Uuid::new_v5(&IMPORT_NAMESPACE, key.as_bytes())
        })
        .collect()
}

/// A payee as compared: lower case, letters only (banks add card numbers, dates and
/// references to the same shop's name).
fn payee_key(text: &str) -> String {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    words.join(" ")
}

impl Store {
    /// What importing `file` (read from `file_name`) with `options` would do; writes nothing.
    pub fn preview_import(&self, file_name: &str, file: &ParsedFile, options: &ImportOptions) -> Result<ImportPreview> {
        Ok(self.plan_import(file_name, file, options, Utc::now())?.preview)
    }

    /// Imports `file`: checks every row first (one bad row and nothing is written), then
    /// writes the included rows in changes of at most `BATCH`, calling `progress(done,
    /// total)` after each.
    pub fn import_statement(
        &mut self,
        file_name: &str,
        file: &ParsedFile,
        options: &ImportOptions,
        now: DateTime<Utc>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ImportOutcome> {
        let plan = self.plan_import(file_name, file, options, now)?;
        let total = plan.checked.len();
        let (mut done, mut added) = (0, 0);
        progress(0, total);
        let mut rows = plan.checked.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<Transaction> = rows.by_ref().take(BATCH).collect();
            done += batch.len();
            added += self.add_checked(batch, now)?;
            progress(done, total);
        }
        let p = &plan.preview;
        // A row another process booked meanwhile (the same statement imported at the same
        // moment) counts as a duplicate.
        Ok(ImportOutcome { added, duplicates: p.duplicates + (total - added), skipped: p.skipped })
    }

    fn plan_import(
        &self,
        file_name: &str,
        file: &ParsedFile,
        options: &ImportOptions,
        now: DateTime<Utc>,
    ) -> Result<Plan> {
        let lookup = self.lookup()?;
        let base = self.settings()?.base_currency;
        let default_currency = match options.currency.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => crate::model::parse_currency("currency", code)?,
            None => file.currency.unwrap_or(base),
        };
        let payment_method = match options.payment_method.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) => self.find_payment_method(m)?.id,
            None => doc::default_payment_method_id("other"),
        };
        let tags = crate::model::check_tags(&options.tags)?;
        let lines: HashSet<usize> = file.rows.iter().map(|r| r.line).collect();
        for line in options.categories.keys().chain(&options.skip_lines).chain(&options.include_duplicates) {
            if !lines.contains(line) {
                return Err(Error::invalid("lines", format!("the file has no transaction on line {line}")));
            }
        }
        let skip: HashSet<usize> = options.skip_lines.iter().copied().collect();
        let include: HashSet<usize> = options.include_duplicates.iter().copied().collect();
        let categories = self.categories(true)?;
        let history = self.payee_history()?;
        let candidates = self.duplicate_candidates(file)?;
        let mut claimed: HashSet<Uuid> = HashSet::new();
        let ids = row_ids(file);
        let mut preview = ImportPreview {
            file: file_name.to_string(),
            format: file.format,
            account: file.account.clone(),
            rows: Vec::with_capacity(file.rows.len()),
            new: 0,
            duplicates: 0,
            skipped: file.skipped,
        };
        let mut checked = Vec::new();
        for (row, id) in file.rows.iter().zip(ids) {
            let kind = if row.amount < Decimal::ZERO { Kind::Expense } else { Kind::Income };
            let amount = row.amount.abs();
            let currency = row.currency.unwrap_or(default_currency);
            let (category_id, category_source) = match options.categories.get(&row.line) {
                Some(chosen) => {
                    let c = crate::query::pick_category(&categories, Some(kind), chosen)
                        .map_err(|e| Error::invalid(format!("categories.{}", row.line), e.to_string()))?;
                    (c.id, CategorySource::Chosen)
                }
                None => suggest(row, kind, &categories, &history),
            };
            let duplicate = if self.transaction_exists(id)? {
                Some(self.transaction(id)?.map_or_else(
                    || DuplicateOf { id, date: row.date, description: row.description.clone(), exact: true },
                    |t| DuplicateOf { id, date: t.date, description: t.description, exact: true },
                ))
            } else {
                candidates.find(row, kind, amount, currency, &mut claimed)
            };
            let skipped = skip.contains(&row.line);
            let included = !skipped
                && match &duplicate {
                    None => true,
                    Some(d) => !d.exact && include.contains(&row.line),
                };
            if skipped {
                preview.skipped += 1;
            } else if duplicate.is_some() && !included {
                preview.duplicates += 1;
            }
            if included {
                preview.new += 1;
                let input = NewTransaction {
                    kind: Some(kind),
                    amount: amount.to_string(),
                    currency: Some(currency.code().to_string()),
                    date: row.date.format("%Y-%m-%d").to_string(),
                    category: category_id.to_string(),
                    payment_method: Some(payment_method.to_string()),
                    description: row.description.clone(),
                    notes: row.notes.clone(),
                    tags: tags.clone(),
                };
                // Checked now, so that a bad row stops the import before anything is written.
                let t = lookup.validate_new(&input, id, now).map_err(|e| match e {
                    Error::Invalid { field, message } => Error::BadImport {
                        file: file_name.to_string(),
                        line: row.line,
                        column: None,
                        message: format!("{field}: {message}"),
                    },
                    other => other,
                })?;
                checked.push(t);
            }
            preview.rows.push(PreviewRow {
                line: row.line,
                id,
                date: row.date,
                kind,
                amount,
                currency,
                description: row.description.clone(),
                notes: row.notes.clone(),
                category_id,
                category_source,
                duplicate,
                included,
            });
        }
        Ok(Plan { preview, checked })
    }

    /// For each payee seen before (and for each payee's first word), the category its
    /// transactions of each kind were filed under most often.
    fn payee_history(&self) -> Result<HashMap<(Kind, String), Uuid>> {
        let mut stmt = self.conn.prepare(
            "SELECT t.description, t.kind, c.id, count(*) FROM transactions t JOIN categories c ON c.no = t.category
             WHERE t.description <> '' GROUP BY 1, 2, 3",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, Kind::from_i64(r.get(1)?), r.get::<_, Vec<u8>>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut counts: HashMap<(Kind, String), HashMap<Uuid, i64>> = HashMap::new();
        for row in rows {
            let (description, kind, id, n) = row?;
            let Ok(id) = Uuid::from_slice(&id) else { continue };
            let key = payee_key(&description);
            if key.is_empty() {
                continue;
            }
            let first = key.split(' ').next().unwrap_or_default().to_string();
            *counts.entry((kind, key)).or_default().entry(id).or_default() += n;
            if first.chars().count() >= 4 {
                *counts.entry((kind, format!("{first} *"))).or_default().entry(id).or_default() += n;
            }
        }
        Ok(counts
            .into_iter()
            .filter_map(|(k, by)| {
                by.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(id, _)| (k, id))
            })
            .collect())
    }

    /// The transactions dated within the file's span (and a few days around it), which a row
    /// might repeat.
    fn duplicate_candidates(&self, file: &ParsedFile) -> Result<Candidates> {
        let (Some(first), Some(last)) =
            (file.rows.iter().map(|r| r.date).min(), file.rows.iter().map(|r| r.date).max())
        else {
            return Ok(Candidates::default());
        };
        let window = Duration::days(DUPLICATE_WINDOW);
        let existing = self.transactions_between(first - window, last + window)?;
        let mut by_amount: HashMap<AmountKey, Vec<Existing>> = HashMap::new();
        for t in existing {
            by_amount.entry((t.kind, t.currency, t.amount.normalize())).or_default().push((
                t.date,
                t.id,
                t.description,
            ));
        }
        Ok(Candidates { by_amount })
    }
}

struct Plan {
    preview: ImportPreview,
    /// The rows to write, checked by the rules typed input follows.
    checked: Vec<Transaction>,
}

/// Kind, currency and amount (normalized): what a repeated payment has in common.
type AmountKey = (Kind, Currency, Decimal);
/// A transaction in the ledger: its date, id and description.
type Existing = (NaiveDate, Uuid, String);

#[derive(Default)]
struct Candidates {
    by_amount: HashMap<AmountKey, Vec<Existing>>,
}

impl Candidates {
    /// A transaction entered some other way that this row repeats: the same kind, amount
    /// and currency, within the window, with the same payee (or no description on either
    /// side). Each matches one row at most; the nearest date wins.
    fn find(
        &self,
        row: &ParsedRow,
        kind: Kind,
        amount: Decimal,
        currency: Currency,
        claimed: &mut HashSet<Uuid>,
    ) -> Option<DuplicateOf> {
        let list = self.by_amount.get(&(kind, currency, amount.normalize()))?;
        let payee = payee_key(&row.description);
        let best = list
            .iter()
            .filter(|(date, id, description)| {
                let other = payee_key(description);
                (*date - row.date).num_days().abs() <= DUPLICATE_WINDOW
                    && !claimed.contains(id)
                    && (other == payee || other.is_empty() || payee.is_empty())
            })
            .min_by_key(|(date, ..)| (*date - row.date).num_days().abs())?;
        claimed.insert(best.1);
        Some(DuplicateOf { id: best.1, date: best.0, description: best.2.clone(), exact: false })
    }
}

/// The category a row gets when the user did not choose one.
fn suggest(
    row: &ParsedRow,
    kind: Kind,
    categories: &[crate::model::Category],
    history: &HashMap<(Kind, String), Uuid>,
) -> (Uuid, CategorySource) {
    let usable = |id: Uuid| categories.iter().any(|c| c.id == id && c.kind == kind && !c.archived && !c.deleted);
    if let Some(name) = &row.category {
        // QIF writes "Parent:Child": the most specific part that names a category wins.
        for part in std::iter::once(name.as_str()).chain(name.rsplit(':')) {
            let found = categories
                .iter()
                .find(|c| c.kind == kind && !c.deleted && !c.archived && c.name.eq_ignore_ascii_case(part.trim()));
            if let Some(c) = found {
                return (c.id, CategorySource::File);
            }
        }
    }
    let key = payee_key(&row.description);
    let first = key.split(' ').next().unwrap_or_default();
    for k in [key.clone(), format!("{first} *")] {
        if let Some(&id) = history.get(&(kind, k)) {
            if usable(id) {
                return (id, CategorySource::Payee);
            }
        }
    }
    (doc::fallback_category(kind), CategorySource::Default)
}
