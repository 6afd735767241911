//! CSV bank statements: guessing a file's layout (`sniff_csv`) and reading it with a column
//! mapping the user confirmed (`parse_csv`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    auto_date_format, bad, check_size, clean_description, clean_notes, currency_from_text, decode, describe_format,
    guess_decimal, non_empty, parse_amount, parse_date_with, quoted, too_many_rows, AutoDateError, Encoding,
    FileFormat, ParsedFile, ParsedRow, MAX_ROWS,
};
use crate::error::{Error, Result};
use crate::model::{MAX_YEAR, MIN_YEAR};
use crate::money::MAX_AMOUNT;
use rust_decimal::Decimal;

/// How many data rows `sniff_csv` shows, and how many it reads to guess formats.
const PREVIEW_ROWS: usize = 20;
const SNIFF_ROWS: usize = 1_000;
const DELIMITERS: [char; 4] = [',', ';', '\t', '|'];
/// Statements have a dozen columns; thousands mean a wrong delimiter (and would make guessing
/// the columns slow).
const MAX_COLUMNS: usize = 1_000;

/// A column of the file: its 0-based position, or its name in the header row (compared
/// without regard to case or surrounding spaces). Error messages count columns from 1, as
/// spreadsheets do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    Index(usize),
    Name(String),
}

/// Where the amount is. An empty amount cell counts as zero: like a zero amount, its row is
/// skipped and counted in `ParsedFile::skipped`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AmountColumns {
    /// One column of signed amounts. `negative_is_expense: false` is for files that show
    /// expenses as positive numbers (many credit-card exports): their signs are flipped.
    Signed {
        column: Column,
        #[serde(default = "yes")]
        negative_is_expense: bool,
    },
    /// Money out and money in in two columns, one of them usually empty. Signs in these
    /// columns are ignored: a debit is always money out.
    DebitCredit { debit: Column, credit: Column },
}

fn yes() -> bool {
    true
}

/// How to read a CSV file: the user confirms (or corrects) what `sniff_csv` guessed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CsvMapping {
    pub encoding: Encoding,
    /// `None` detects it among `,` `;` tab and `|`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub delimiter: Option<char>,
    /// The first row after `skip_rows` holds column names.
    pub header: bool,
    /// Lines before the table (account number, period) that some banks write.
    pub skip_rows: usize,
    pub date_column: Column,
    /// A chrono format ("%d.%m.%Y"), or "auto": ISO and month-name dates, else day- or
    /// month-first as the values show (a day above 12 settles it); a file where every date
    /// reads both ways is refused with a request to choose.
    pub date_format: String,
    /// `.` or `,`; the other one, spaces and apostrophes may group thousands.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub decimal_separator: char,
    pub amount: AmountColumns,
    pub description_column: Column,
    pub notes_column: Option<Column>,
    pub currency_column: Option<Column>,
    pub category_column: Option<Column>,
    /// The bank's transaction id, to recognize a statement imported twice.
    pub id_column: Option<Column>,
}

impl Default for CsvMapping {
    fn default() -> Self {
        CsvMapping {
            encoding: Encoding::Auto,
            delimiter: None,
            header: true,
            skip_rows: 0,
            date_column: Column::Index(0),
            date_format: "auto".to_string(),
            decimal_separator: '.',
            amount: AmountColumns::Signed { column: Column::Index(1), negative_is_expense: true },
            description_column: Column::Index(2),
            notes_column: None,
            currency_column: None,
            category_column: None,
            id_column: None,
        }
    }
}

/// What a CSV file looks like, to show the user before the import, with a guessed mapping.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvSniff {
    /// The encoding found (never `Auto`).
    pub encoding: Encoding,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub delimiter: char,
    /// The header row's names, or "Column 1", "Column 2"… when the file has none.
    pub headers: Vec<String>,
    /// The first data rows.
    pub rows: Vec<Vec<String>>,
    /// A mapping guessed from the header names (English, German, French, Spanish, Dutch) and
    /// the values; `None` when no date, amount and description columns could be told.
    pub mapping: Option<CsvMapping>,
}

/// A record of the file and the line where it starts.
struct Record {
    line: usize,
    cells: ::csv::StringRecord,
}

impl Record {
    fn get(&self, index: usize) -> Option<&str> {
        self.cells.get(index)
    }
}

/// Reads the start of a CSV file to show it and guess how to import it. Errors (a file that
/// is not valid in the given encoding, or has no rows) name "the file".
///
/// Lines before the table that banks write (account number, period) are found by themselves
/// when skipping them is what makes a mapping possible: the guessed mapping's `skip_rows` then
/// counts them, and `headers` and `rows` start at the table.
pub fn sniff_csv(bytes: &[u8], encoding: Encoding, skip_rows: usize) -> Result<CsvSniff> {
    const FILE: &str = "the file";
    check_size(FILE, bytes)?;
    let (text, encoding) = decode(FILE, bytes, encoding)?;
    let body = skip_lines(FILE, &text, skip_rows)?;
    let delimiter = detect_delimiter(body);
    let records = read_records(FILE, body, delimiter, skip_rows, Some(SNIFF_ROWS + 1))?;
    if records.is_empty() {
        return Err(bad(FILE, 0, None, "the file has no rows"));
    }
    let (mut headers, mut rows, mut mapping) = preview(&records, skip_rows);
    if mapping.is_none() {
        if let Some(start) = table_start(&records) {
            let skip = records[start].line - 1;
            let (table_headers, table_rows, table_mapping) = preview(&records[start..], skip);
            if table_mapping.is_some() {
                (headers, rows, mapping) = (table_headers, table_rows, table_mapping);
            }
        }
    }
    let mapping = mapping.map(|mut mapping| {
        mapping.encoding = encoding;
        mapping.delimiter = Some(delimiter);
        mapping
    });
    Ok(CsvSniff { encoding, delimiter, headers, rows, mapping })
}

/// Headers, first rows and a guessed mapping of records that start at line `skip + 1`.
fn preview(records: &[Record], skip: usize) -> (Vec<String>, Vec<Vec<String>>, Option<CsvMapping>) {
    let first = &records[0];
    let header = looks_like_header(first) && records.len() > 1;
    let data = if header { &records[1..] } else { records };
    let width = records.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let headers: Vec<String> = if header {
        first.cells.iter().map(|h| h.trim().to_string()).collect()
    } else {
        (1..=width).map(|i| format!("Column {i}")).collect()
    };
    let rows = data.iter().take(PREVIEW_ROWS).map(|r| r.cells.iter().map(str::to_string).collect()).collect();
    let mapping = guess_mapping(&headers, header, data).map(|mapping| CsvMapping { skip_rows: skip, ..mapping });
    (headers, rows, mapping)
}

/// Where the table starts when rows before it are narrower or wider: the first record as
/// wide as most records are. `None` when that is the first record.
fn table_start(records: &[Record]) -> Option<usize> {
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for record in records {
        *counts.entry(record.cells.len()).or_default() += 1;
    }
    let (width, _) = counts.into_iter().max_by_key(|&(width, count)| (count, width))?;
    records.iter().position(|r| r.cells.len() == width).filter(|&start| start > 0 && width >= 2)
}

/// Reads a CSV file with a mapping. All rows or one error naming the file, line and column.
pub fn parse_csv(file_name: &str, bytes: &[u8], mapping: &CsvMapping) -> Result<ParsedFile> {
    let file = file_name;
    check_size(file, bytes)?;
    check_mapping(mapping)?;
    let (text, _) = decode(file, bytes, mapping.encoding)?;
    let body = skip_lines(file, &text, mapping.skip_rows)?;
    let delimiter = mapping.delimiter.unwrap_or_else(|| detect_delimiter(body));
    let records = read_records(file, body, delimiter, mapping.skip_rows, None)?;
    let (header, data) = match (mapping.header, records.split_first()) {
        (true, Some((first, rest))) => (Some(first), rest),
        (true, None) => return Err(no_transactions(file)),
        (false, _) => (None, &records[..]),
    };
    if data.is_empty() {
        return Err(no_transactions(file));
    }
    if let Some(record) = data.get(MAX_ROWS) {
        return Err(too_many_rows(file, record.line));
    }
    let resolve = |column: &Column, field: &str| resolve_column(file, header, column, field);
    let date_col = resolve(&mapping.date_column, "date_column")?;
    let amount = match &mapping.amount {
        AmountColumns::Signed { column, negative_is_expense } => {
            Amount::Signed(resolve(column, "amount.column")?, *negative_is_expense)
        }
        AmountColumns::DebitCredit { debit, credit } => {
            Amount::DebitCredit(resolve(debit, "amount.debit")?, resolve(credit, "amount.credit")?)
        }
    };
    let description_col = resolve(&mapping.description_column, "description_column")?;
    let optional = |column: &Option<Column>, field: &str| column.as_ref().map(|c| resolve(c, field)).transpose();
    let notes_col = optional(&mapping.notes_column, "notes_column")?;
    let currency_col = optional(&mapping.currency_column, "currency_column")?;
    let category_col = optional(&mapping.category_column, "category_column")?;
    let id_col = optional(&mapping.id_column, "id_column")?;

    let date_format: &str = if mapping.date_format.trim().eq_ignore_ascii_case("auto") {
        choose_date_format(file, data, date_col)?
    } else {
        mapping.date_format.trim()
    };

    let mut rows = Vec::with_capacity(data.len());
    let mut skipped = 0;
    for record in data {
        let line = record.line;
        let required = |index: usize, what: &str| {
            record.get(index).ok_or_else(|| {
                bad(
                    file,
                    line,
                    Some(index + 1),
                    format!("the row has only {} columns, so no {what} in column {}", record.cells.len(), index + 1),
                )
            })
        };
        let date_text = required(date_col, "date")?;
        let date = parse_date_with(date_text, date_format).ok_or_else(|| {
            let message = if date_text.trim().is_empty() {
                "the date is empty".to_string()
            } else if chrono::NaiveDate::parse_and_remainder(date_text.trim(), date_format).is_ok() {
                format!("{} is not between the years {MIN_YEAR} and {MAX_YEAR}", quoted(date_text))
            } else {
                format!("{} is not a date in the format {}", quoted(date_text), describe_format(date_format))
            };
            bad(file, line, Some(date_col + 1), message)
        })?;
        let amount_at = |index: usize| -> Result<Decimal> {
            let text = required(index, "amount")?;
            if text.trim().is_empty() {
                return Ok(Decimal::ZERO);
            }
            parse_amount(text, mapping.decimal_separator).map_err(|message| bad(file, line, Some(index + 1), message))
        };
        let value = match amount {
            Amount::Signed(index, negative_is_expense) => {
                let value = amount_at(index)?;
                if negative_is_expense {
                    value
                } else {
                    -value
                }
            }
            Amount::DebitCredit(debit, credit) => {
                let value = amount_at(credit)?.abs() - amount_at(debit)?.abs();
                if value.abs() > Decimal::from(MAX_AMOUNT) {
                    return Err(bad(file, line, Some(debit + 1), format!("the amount is above {MAX_AMOUNT}")));
                }
                value
            }
        };
        let description = clean_description(required(description_col, "description")?);
        let currency = match currency_col.and_then(|i| record.get(i)).map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(code) => Some(currency_from_text(code).ok_or_else(|| {
                bad(
                    file,
                    line,
                    currency_col.map(|i| i + 1),
                    format!("{} is not a currency code (ISO 4217, like EUR or USD)", quoted(code)),
                )
            })?),
        };
        if value.is_zero() {
            skipped += 1;
            continue;
        }
        rows.push(ParsedRow {
            line,
            date,
            amount: value,
            currency,
            description,
            notes: notes_col.and_then(|i| record.get(i)).map(clean_notes).unwrap_or_default(),
            bank_id: id_col.and_then(|i| record.get(i)).and_then(non_empty),
            category: category_col.and_then(|i| record.get(i)).and_then(non_empty),
        });
    }
    Ok(ParsedFile { format: FileFormat::Csv, currency: None, account: None, rows, skipped })
}

#[derive(Clone, Copy)]
enum Amount {
    Signed(usize, bool),
    DebitCredit(usize, usize),
}

fn no_transactions(file: &str) -> Error {
    bad(file, 0, None, "the file has no transactions")
}

fn check_mapping(mapping: &CsvMapping) -> Result<()> {
    if !matches!(mapping.decimal_separator, '.' | ',') {
        return Err(Error::invalid("decimal_separator", "must be \".\" or \",\""));
    }
    if let Some(d) = mapping.delimiter {
        if !d.is_ascii() || matches!(d, '"' | '\n' | '\r') || d.is_ascii_alphanumeric() {
            return Err(Error::invalid("delimiter", format!("{d:?} cannot separate columns")));
        }
    }
    let format = mapping.date_format.trim();
    if format.is_empty() {
        return Err(Error::invalid("date_format", "is required (e.g. %d.%m.%Y, or auto)"));
    }
    let broken = chrono::format::StrftimeItems::new(format).any(|item| matches!(item, chrono::format::Item::Error));
    if !format.eq_ignore_ascii_case("auto") && broken {
        return Err(Error::invalid("date_format", format!("{format:?} is not a date format (e.g. %d.%m.%Y)")));
    }
    Ok(())
}

/// The text after the first `count` lines.
fn skip_lines<'t>(file: &str, text: &'t str, count: usize) -> Result<&'t str> {
    let mut rest = text;
    for done in 0..count {
        match rest.split_once('\n') {
            Some((_, after)) => rest = after,
            None => return Err(bad(file, 0, None, format!("the file has only {done} lines; cannot skip {count}"))),
        }
    }
    Ok(rest)
}

/// The delimiter that splits the first rows into the same number of columns most often (and
/// into more columns on a tie: a `;` file's decimal commas split rows evenly too).
fn detect_delimiter(body: &str) -> char {
    let mut best = (0, 0, ',');
    for delimiter in DELIMITERS {
        let mut reader = reader(body, delimiter);
        let counts: Vec<usize> = reader.records().take(30).filter_map(|r| r.ok()).map(|r| r.len()).collect();
        let mut mode = (0, 0);
        for &count in &counts {
            let frequency = counts.iter().filter(|&&c| c == count).count();
            if (frequency, count) > mode {
                mode = (frequency, count);
            }
        }
        let (frequency, columns) = mode;
        if columns >= 2 && (frequency, columns) > (best.0, best.1) {
            best = (frequency, columns, delimiter);
        }
    }
    best.2
}

fn reader(body: &str, delimiter: char) -> ::csv::Reader<&[u8]> {
    // Delimiters are ASCII (checked), so the byte is the character.
    ::csv::ReaderBuilder::new()
        .delimiter(u8::try_from(delimiter).unwrap_or(b','))
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes())
}

/// The non-empty records, with their line in the whole file (`offset` lines were skipped).
fn read_records(file: &str, body: &str, delimiter: char, offset: usize, limit: Option<usize>) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for result in reader(body, delimiter).into_records() {
        let cells = result.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize + offset);
            bad(file, line, None, format!("the file cannot be read as CSV: {e}"))
        })?;
        let line = cells.position().map_or(0, |p| p.line() as usize) + offset;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if cells.len() > MAX_COLUMNS {
            return Err(bad(
                file,
                line,
                None,
                format!("the row has more than {MAX_COLUMNS} columns; is {delimiter:?} the right delimiter?"),
            ));
        }
        // One more than the rows allowed, for the header row.
        if records.len() > MAX_ROWS {
            return Err(too_many_rows(file, line));
        }
        records.push(Record { line, cells });
        if limit.is_some_and(|limit| records.len() >= limit) {
            break;
        }
    }
    Ok(records)
}

fn header_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn resolve_column(file: &str, header: Option<&Record>, column: &Column, field: &str) -> Result<usize> {
    match column {
        Column::Index(index) => Ok(*index),
        Column::Name(name) => {
            let Some(header) = header else {
                return Err(Error::invalid(
                    field,
                    format!("names the column {name:?}, but the mapping says the file has no header row"),
                ));
            };
            let key = header_key(name);
            header.cells.iter().position(|h| header_key(h) == key).ok_or_else(|| {
                let names: Vec<String> = header.cells.iter().map(|h| format!("{:?}", h.trim())).collect();
                bad(
                    file,
                    header.line,
                    None,
                    format!("there is no column named {name:?} (the header has {})", names.join(", ")),
                )
            })
        }
    }
}

/// "auto": one format for the whole date column, or an error at the first date it cannot
/// read or asking the user to choose when day and month could be either way round.
fn choose_date_format(file: &str, data: &[Record], column: usize) -> Result<&'static str> {
    let cells: Vec<(&Record, &str)> =
        data.iter().filter_map(|r| r.get(column).map(|c| (r, c.trim()))).filter(|(_, c)| !c.is_empty()).collect();
    let values: Vec<&str> = cells.iter().map(|(_, c)| *c).collect();
    match auto_date_format(&values) {
        Ok(format) => Ok(format),
        Err(AutoDateError::Ambiguous { index }) => {
            let (record, text) = cells[index];
            Err(bad(
                file,
                record.line,
                Some(column + 1),
                format!(
                    "dates like {} can be read day first or month first; choose the date format \
                     (e.g. %d/%m/%Y or %m/%d/%Y)",
                    quoted(text)
                ),
            ))
        }
        Err(AutoDateError::NoFormat { index, best }) => {
            let (record, text) = cells.get(index).copied().unwrap_or((&data[0], ""));
            Err(bad(
                file,
                record.line,
                Some(column + 1),
                format!("{} is not a date in the format {}", quoted(text), describe_format(best)),
            ))
        }
    }
}

// ---- guessing a mapping ----

fn looks_like_header(record: &Record) -> bool {
    record.cells.iter().map(str::trim).filter(|c| !c.is_empty()).all(|cell| {
        let is_date = matches!(auto_date_format(&[cell]), Ok(_) | Err(AutoDateError::Ambiguous { .. }));
        let is_number = parse_amount(cell, '.').is_ok() || parse_amount(cell, ',').is_ok();
        !is_date && !is_number
    })
}

/// A header name reduced for matching: lower case, common accents dropped, units in
/// parentheses ("Betrag (EUR)") and punctuation removed.
fn normalize_header(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            'à' | 'á' | 'â' | 'ä' | 'ã' => out.push('a'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            'ß' => out.push_str("ss"),
            c if c.is_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

const DATE_NAMES: &[&str] = &[
    "date",
    "datum",
    "buchungstag",
    "buchungsdatum",
    "fecha",
    "transaction date",
    "posting date",
    "posted date",
    "booking date",
    "date operation",
    "fecha operacion",
    "boekdatum",
    "transactiedatum",
    "valuta",
    "valutadatum",
    "wertstellung",
    "value date",
    "date valeur",
    "fecha valor",
];
const AMOUNT_NAMES: &[&str] = &["amount", "betrag", "montant", "importe", "bedrag", "umsatz", "transaction amount"];
const DEBIT_NAMES: &[&str] =
    &["debit", "soll", "money out", "paid out", "withdrawal", "withdrawals", "debit amount", "debe", "cargo"];
const CREDIT_NAMES: &[&str] =
    &["credit", "haben", "money in", "paid in", "deposit", "deposits", "credit amount", "haber", "abono"];
/// Payee-like names first: when a file has both a payee and a purpose column, the payee is
/// the description and the purpose the notes.
const DESCRIPTION_NAMES: &[&str] = &[
    "payee",
    "name",
    "beguenstigter zahlungspflichtiger",
    "begunstigter zahlungspflichtiger",
    "zahlungsempfanger",
    "empfanger",
    "auftraggeber empfanger",
    "auftraggeber",
    "merchant",
    "description",
    "beschreibung",
    "libelle",
    "libelle operation",
    "concepto",
    "descripcion",
    "omschrijving",
    "naam omschrijving",
    "naam",
    "transaction description",
    "details",
    "narrative",
    "verwendungszweck",
];
const NOTES_NAMES: &[&str] =
    &["memo", "notes", "note", "verwendungszweck", "notiz", "mededelingen", "remarque", "notas", "reference"];
const CURRENCY_NAMES: &[&str] = &["currency", "wahrung", "waehrung", "devise", "moneda", "divisa", "munt", "ccy"];
const CATEGORY_NAMES: &[&str] = &["category", "kategorie", "categorie", "categoria"];
const ID_NAMES: &[&str] = &["transaction id", "id", "fitid", "transaktions id", "transaction reference"];
/// Columns that must never be taken for amounts or dates: running balances, account numbers.
const NEVER: &[&str] = &["saldo", "balance", "kontostand", "solde", "konto", "account", "iban", "rekening"];

/// Finds the column for one of `names` not already `taken`: an exact name first (earlier
/// names win), then a name that contains one as a word.
fn find_column(normalized: &[String], names: &[&str], taken: &[usize]) -> Option<usize> {
    let free = |i: &usize| !taken.contains(i);
    let never = |h: &str| h.split(' ').any(|w| NEVER.contains(&w));
    for name in names {
        if let Some(i) = (0..normalized.len()).filter(free).find(|&i| normalized[i] == *name && !never(&normalized[i]))
        {
            return Some(i);
        }
    }
    for name in names.iter().filter(|n| n.len() >= 4) {
        let contains = |h: &str| format!(" {h} ").contains(&format!(" {name} "));
        if let Some(i) =
            (0..normalized.len()).filter(free).find(|&i| contains(&normalized[i]) && !never(&normalized[i]))
        {
            return Some(i);
        }
    }
    None
}

fn guess_mapping(headers: &[String], header: bool, data: &[Record]) -> Option<CsvMapping> {
    let column_values = |i: usize| data.iter().filter_map(move |r| r.get(i)).map(str::trim).filter(|c| !c.is_empty());
    let (date, amount, description, notes, currency, category, id) = if header {
        let normalized: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
        let mut taken = Vec::new();
        let pick = |names: &[&str], taken: &mut Vec<usize>| {
            let found = find_column(&normalized, names, taken);
            taken.extend(found);
            found
        };
        let date = pick(DATE_NAMES, &mut taken)?;
        let amount = match pick(AMOUNT_NAMES, &mut taken) {
            Some(column) => Guess::Signed(column),
            None => Guess::DebitCredit(pick(DEBIT_NAMES, &mut taken)?, pick(CREDIT_NAMES, &mut taken)?),
        };
        let description = pick(DESCRIPTION_NAMES, &mut taken)?;
        let notes = pick(NOTES_NAMES, &mut taken);
        let currency = pick(CURRENCY_NAMES, &mut taken);
        let category = pick(CATEGORY_NAMES, &mut taken);
        let id = pick(ID_NAMES, &mut taken);
        (date, amount, description, notes, currency, category, id)
    } else {
        // No names: tell the columns by their values.
        let width = headers.len();
        let all = |i: usize, test: &dyn Fn(&str) -> bool| {
            let mut values = column_values(i).peekable();
            values.peek().is_some() && values.all(test)
        };
        let is_date = |c: &str| matches!(auto_date_format(&[c]), Ok(_) | Err(AutoDateError::Ambiguous { .. }));
        let is_amount = |c: &str| parse_amount(c, '.').is_ok() || parse_amount(c, ',').is_ok();
        let date = (0..width).find(|&i| all(i, &is_date))?;
        let amount = (0..width).find(|&i| i != date && all(i, &is_amount))?;
        let average_len = |i: usize| {
            let (sum, count) = column_values(i).fold((0, 0), |(s, n), c| (s + c.chars().count(), n + 1));
            sum.checked_div(count).unwrap_or(0)
        };
        let description =
            (0..width).filter(|&i| i != date && i != amount).max_by_key(|&i| (average_len(i), usize::MAX - i))?;
        (date, Guess::Signed(amount), description, None, None, None, None)
    };
    // A name that two columns share would find the first: such columns go by position.
    let unique = |i: usize| headers.iter().filter(|h| header_key(h) == header_key(&headers[i])).count() == 1;
    let column = |i: usize| if header && unique(i) { Column::Name(headers[i].clone()) } else { Column::Index(i) };
    let amount_values: Vec<&str> = match amount {
        Guess::Signed(i) => column_values(i).collect(),
        Guess::DebitCredit(d, c) => column_values(d).chain(column_values(c)).collect(),
    };
    let decimal_separator = guess_decimal(amount_values.iter().copied()).unwrap_or('.');
    let dates: Vec<&str> = column_values(date).collect();
    let date_format = auto_date_format(&dates).map_or_else(|_| "auto".to_string(), str::to_string);
    Some(CsvMapping {
        encoding: Encoding::Auto,
        delimiter: None,
        header,
        skip_rows: 0,
        date_column: column(date),
        date_format,
        decimal_separator,
        amount: match amount {
            Guess::Signed(i) => AmountColumns::Signed { column: column(i), negative_is_expense: true },
            Guess::DebitCredit(d, c) => AmountColumns::DebitCredit { debit: column(d), credit: column(c) },
        },
        description_column: column(description),
        notes_column: notes.map(column),
        currency_column: currency.map(column),
        category_column: category.map(column),
        id_column: id.map(column),
    })
}

#[derive(Clone, Copy)]
enum Guess {
    Signed(usize),
    DebitCredit(usize, usize),
}
