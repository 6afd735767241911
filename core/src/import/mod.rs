//! Bank statement import: turns CSV, OFX/QFX and QIF files into validated rows, all or nothing,
//! and (`ledger.rs`) previews and books them in a ledger.
//!
//! The parsers are pure: bytes in, rows out. Every problem is one [`Error::BadImport`] naming the file, the line and, where
//! a file has columns, the column; a file that fails yields no rows at all, so an import is
//! never half done. No input makes these functions panic (they are fuzzed, see `core/fuzz`).

mod csv;
mod ledger;
mod ofx;
mod qif;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{MAX_DESCRIPTION, MAX_NOTES, MAX_YEAR, MIN_YEAR};
use crate::money::{Currency, MAX_AMOUNT};

pub use self::csv::{parse_csv, sniff_csv, AmountColumns, Column, CsvMapping, CsvSniff};
pub use self::ofx::parse_ofx;
pub use self::qif::parse_qif;
pub use ledger::{
    inspect, read, CategorySource, DuplicateOf, ImportOptions, ImportOutcome, ImportPreview, Inspection, PreviewRow,
    BATCH,
};

/// Files larger than this are refused: no statement is that large, and it bounds memory.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// At most this many transactions (records, zero-amount ones included) per file.
pub const MAX_ROWS: usize = 100_000;
/// Amounts may have at most this many decimals: what the view stores exactly.
pub const MAX_DECIMALS: u32 = crate::money::AMOUNT_SCALE;

/// The kinds of statement files this module reads.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    /// OFX 1.x (SGML) and 2.x (XML), and Quicken's QFX (OFX with extra tags).
    Ofx,
    Qif,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Csv => "csv",
            FileFormat::Ofx => "ofx",
            FileFormat::Qif => "qif",
        })
    }
}

/// A text encoding of a CSV file. `Auto` looks for a byte-order mark, then takes valid UTF-8
/// as UTF-8 and anything else as Windows-1252 (what spreadsheet programs write on Windows).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(rename = "utf-16le", alias = "utf16le")]
    Utf16Le,
    #[serde(rename = "utf-16be", alias = "utf16be")]
    Utf16Be,
    #[serde(rename = "windows-1252", alias = "cp1252")]
    Windows1252,
    /// ISO 8859-1 proper: bytes 0x80–0x9F are control characters, not Windows-1252's € and
    /// quotes.
    #[serde(rename = "latin1", alias = "iso-8859-1")]
    Latin1,
}

/// Day/month order of a QIF file's dates. QIF does not say; `Auto` decides from the values.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    #[default]
    Auto,
    Dmy,
    Mdy,
    Ymd,
}

/// One transaction read from a file, validated: a real date, a non-zero amount within the
/// ledger's limits, and texts within the ledger's lengths and free of control characters.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedRow {
    /// 1-based line where the record starts in the file.
    pub line: usize,
    pub date: NaiveDate,
    /// Signed: negative is money out (an expense), positive is money in (income). Never zero.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
    /// Set when the file gives this row's currency; otherwise the file's (`ParsedFile::currency`)
    /// or, when that is `None` too, whatever the caller chooses.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub currency: Option<Currency>,
    /// Payee or description, whitespace collapsed, at most 200 characters.
    pub description: String,
    /// Memo, at most 2,000 characters.
    pub notes: String,
    /// The bank's id of the transaction (OFX FITID, or a mapped CSV column), unique within
    /// `ParsedFile::account`: what makes importing the same statement twice detectable.
    pub bank_id: Option<String>,
    /// The category the file names (QIF `L`, or a mapped CSV column); transfers are `None`.
    pub category: Option<String>,
}

/// A whole file's transactions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFile {
    pub format: FileFormat,
    /// The statement's currency (OFX `CURDEF`); `None` when the file does not say.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub currency: Option<Currency>,
    /// The account the statement is for (OFX `ACCTID`, QIF `!Account` name): bank ids are
    /// unique only within it.
    pub account: Option<String>,
    pub rows: Vec<ParsedRow>,
    /// Records left out because their amount is zero (balance notes, declined payments).
    pub skipped: usize,
}

/// Guesses a file's format: by its content first (an OFX header or `<OFX>` element, a QIF
/// `!Type:` line), then by its extension. `None` when neither tells.
pub fn detect_format(file_name: &str, bytes: &[u8]) -> Option<FileFormat> {
    let head = head_text(bytes);
    let trimmed = head.trim_start();
    let upper = trimmed.to_ascii_uppercase();
    if upper.starts_with("OFXHEADER") || upper.contains("<OFX>") || upper.contains("<?OFX") {
        return Some(FileFormat::Ofx);
    }
    if upper.starts_with("!TYPE:") || upper.starts_with("!ACCOUNT") || upper.starts_with("!OPTION:") {
        return Some(FileFormat::Qif);
    }
    let extension = file_name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("ofx" | "qfx") => Some(FileFormat::Ofx),
        Some("qif") => Some(FileFormat::Qif),
        Some("csv" | "tsv" | "txt") => Some(FileFormat::Csv),
        // A text whose first line has a delimiter is most likely a table.
        _ if !head.contains('\0') && head.lines().next().is_some_and(|l| l.contains([',', ';', '\t', '|'])) => {
            Some(FileFormat::Csv)
        }
        _ => None,
    }
}

/// The first few kilobytes as text, enough to recognize a header.
fn head_text(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8 * 1024)];
    match bom(head) {
        Some((encoding, len)) => decode_lossy(&head[len..], encoding),
        None => String::from_utf8_lossy(head).into_owned(),
    }
}

// ---- errors ----

/// The error every parser returns: `line` 0 means the file as a whole.
pub(crate) fn bad(file: &str, line: usize, column: Option<usize>, message: impl Into<String>) -> Error {
    Error::BadImport { file: file.to_string(), line, column, message: message.into() }
}

pub(crate) fn check_size(file: &str, bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(bad(
            file,
            0,
            None,
            format!(
                "the file is {} MB; at most {} MB can be imported at once",
                bytes.len().div_ceil(1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn too_many_rows(file: &str, line: usize) -> Error {
    bad(file, line, None, format!("the file has more than {MAX_ROWS} transactions; split it into smaller files"))
}

// ---- text decoding ----

/// Decodes a file to text with `\n` line ends (CRLF and old Mac CR files alike), so that line
/// numbers mean the same everywhere. Returns the encoding used (never `Auto`).
///
/// `Auto` never fails (Windows-1252 decodes any byte); an explicit encoding fails on the first
/// byte sequence it cannot decode, naming its line and column.
pub(crate) fn decode(file: &str, bytes: &[u8], encoding: Encoding) -> Result<(String, Encoding)> {
    let (text, used) = match encoding {
        Encoding::Auto => {
            let (encoding, skip) = match bom(bytes) {
                Some(found) => found,
                None if looks_utf16(bytes, true) => (Encoding::Utf16Le, 0),
                None if looks_utf16(bytes, false) => (Encoding::Utf16Be, 0),
                None if std::str::from_utf8(bytes).is_ok() => (Encoding::Utf8, 0),
                None => (Encoding::Windows1252, 0),
            };
            (decode_lossy(&bytes[skip..], encoding), encoding)
        }
        explicit => {
            let body = match bom(bytes) {
                Some((found, len)) if found == explicit => &bytes[len..],
                _ => bytes,
            };
            (decode_strict(file, body, explicit)?, explicit)
        }
    };
    Ok((normalize_newlines(text), used))
}

/// A byte-order mark and its length.
fn bom(bytes: &[u8]) -> Option<(Encoding, usize)> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        Some((Encoding::Utf8, 3))
    } else if bytes.starts_with(b"\xFF\xFE") {
        Some((Encoding::Utf16Le, 2))
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some((Encoding::Utf16Be, 2))
    } else {
        None
    }
}

/// UTF-16 without a mark: ASCII text then has a zero in every other byte.
fn looks_utf16(bytes: &[u8], little_endian: bool) -> bool {
    let sample = &bytes[..bytes.len().min(512)];
    if sample.len() < 4 || sample.len() % 2 != 0 {
        return false;
    }
    let (zero_at, text_at) = if little_endian { (1, 0) } else { (0, 1) };
    let pairs = sample.chunks_exact(2);
    let count = pairs.len();
    let ascii = sample.chunks_exact(2).filter(|p| p[zero_at] == 0 && p[text_at] != 0).count();
    ascii * 10 >= count * 9
}

fn decode_lossy(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Auto | Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Utf16Le => encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0.into_owned(),
        Encoding::Utf16Be => encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0.into_owned(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
        Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn decode_strict(file: &str, bytes: &[u8], encoding: Encoding) -> Result<String> {
    let (codec, name) = match encoding {
        Encoding::Auto | Encoding::Utf8 => {
            return match std::str::from_utf8(bytes) {
                Ok(text) => Ok(text.to_string()),
                Err(e) => {
                    let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned();
                    Err(not_decodable(file, &valid, "UTF-8"))
                }
            };
        }
        Encoding::Utf16Le => (encoding_rs::UTF_16LE, "UTF-16LE"),
        Encoding::Utf16Be => (encoding_rs::UTF_16BE, "UTF-16BE"),
        // Every byte means something in these two.
        Encoding::Windows1252 | Encoding::Latin1 => return Ok(decode_lossy(bytes, encoding)),
    };
    if let Some(text) = codec.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    // Find where it breaks to name the place: the text before the first bad code unit.
    let units = bytes.chunks(2).map(|pair| match (pair, encoding) {
        ([a, b], Encoding::Utf16Le) => u16::from_le_bytes([*a, *b]),
        ([a, b], _) => u16::from_be_bytes([*a, *b]),
        // An odd last byte: never a valid unit on its own.
        _ => 0xDC00,
    });
    let mut valid = String::new();
    for unit in char::decode_utf16(units) {
        match unit {
            Ok(c) => valid.push(c),
            Err(_) => break,
        }
    }
    Err(not_decodable(file, &valid, name))
}

fn not_decodable(file: &str, valid_prefix: &str, encoding: &str) -> Error {
    let normalized = normalize_newlines(valid_prefix.to_string());
    let line = normalized.matches('\n').count() + 1;
    let column = normalized.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    bad(
        file,
        line,
        Some(column),
        format!("the file is not valid {encoding} here; choose its encoding (e.g. Windows-1252)"),
    )
}

fn normalize_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

// ---- texts ----

/// A payee or description: whitespace collapsed, control characters dropped, at most 200
/// characters (longer ones are cut, not refused: banks pad and repeat).
pub(crate) fn clean_description(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    truncate(out, MAX_DESCRIPTION)
}

/// A memo: trimmed, control characters other than new lines and tabs dropped, at most 2,000
/// characters.
pub(crate) fn clean_notes(text: &str) -> String {
    let kept: String = text.trim().chars().filter(|&c| !c.is_control() || c == '\n' || c == '\t').collect();
    truncate(kept, MAX_NOTES)
}

fn truncate(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => text[..cut].trim_end().to_string(),
        None => text,
    }
}

/// An optional text: trimmed, `None` when empty.
pub(crate) fn non_empty(text: &str) -> Option<String> {
    let cleaned = clean_description(text);
    (!cleaned.is_empty()).then_some(cleaned)
}

// ---- amounts ----

/// Characters that group thousands besides the non-decimal one of `.` and `,`: spaces (also
/// no-break and thin ones), apostrophes (Swiss), typographic apostrophes.
const GROUP_MARKS: [char; 6] = [' ', '\u{a0}', '\u{202f}', '\u{2009}', '\'', '\u{2019}'];

/// Signs of currencies banks print next to amounts.
const CURRENCY_SIGNS: [char; 16] = ['$', '€', '£', '¥', '₹', '₽', '₩', '₺', '₪', '₫', '฿', '₴', '₦', '¢', '₱', '₣'];

fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{202f}'
}

/// Parses an amount as banks write it: `decimal` is `.` or `,`; the other one and spaces or
/// apostrophes group thousands ("1.234,56", "1 234,56", "1'234.56"); a leading or trailing
/// minus, parentheses or a trailing "DR" mean negative ("CR" positive); currency signs and
/// codes around the number are ignored. Zero is returned as zero (callers skip such rows).
///
/// The error is the whole message, quoting the text.
pub(crate) fn parse_amount(text: &str, decimal: char) -> std::result::Result<Decimal, String> {
    let example = if decimal == ',' { "1.234,56" } else { "1,234.56" };
    let not_a_number = || format!("{} is not an amount (expected a number like {example})", quoted(text));
    let mut s = text.trim_matches(is_space);
    let mut minus = 0;
    let (mut open, mut close) = (false, false);
    let mut debit_credit: Option<bool> = None;
    // Leading signs, parentheses and currency marks.
    loop {
        s = s.trim_start_matches(is_space);
        let Some(c) = s.chars().next() else { break };
        match c {
            '-' | '\u{2212}' => minus += 1,
            '+' => {}
            '(' if !open => open = true,
            c if c.is_alphabetic() || CURRENCY_SIGNS.contains(&c) => {}
            _ => break,
        }
        s = &s[c.len_utf8()..];
    }
    // Trailing ones; letters come as a word so that "DR" and "CR" can be told from "EUR".
    loop {
        s = s.trim_end_matches(is_space);
        let Some(c) = s.chars().next_back() else { break };
        if c.is_alphabetic() {
            let word_start = s.trim_end_matches(char::is_alphabetic).len();
            let word = &s[word_start..];
            if word.eq_ignore_ascii_case("DR") || word.eq_ignore_ascii_case("DB") {
                debit_credit = Some(true);
            } else if word.eq_ignore_ascii_case("CR") {
                debit_credit = Some(false);
            }
            s = &s[..word_start];
            continue;
        }
        match c {
            '-' | '\u{2212}' => minus += 1,
            '+' => {}
            ')' if open && !close => close = true,
            c if CURRENCY_SIGNS.contains(&c) => {}
            _ => break,
        }
        s = &s[..s.len() - c.len_utf8()];
    }
    if open != close || minus > 1 || (minus == 1 && open) {
        return Err(not_a_number());
    }
    let negative = minus == 1 || open || debit_credit == Some(true);
    let group_other = if decimal == ',' { '.' } else { ',' };
    let is_group = |c: char| c == group_other || GROUP_MARKS.contains(&c);
    let (whole, fraction) = match s.split_once(decimal) {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let fraction = fraction.unwrap_or("");
    if !fraction.chars().all(|c| c.is_ascii_digit()) || (whole.is_empty() && fraction.is_empty()) {
        return Err(not_a_number());
    }
    let digits: String = if whole.contains(is_group) {
        let marks: Vec<char> = whole.chars().filter(|&c| is_group(c)).collect();
        let groups: Vec<&str> = whole.split(is_group).collect();
        let same_mark = marks.iter().all(|&m| m == marks[0]);
        let all_digits = groups.iter().all(|g| !g.is_empty() && g.chars().all(|c| c.is_ascii_digit()));
        // Thousands (1,234,567) or the Indian lakh grouping (12,34,567).
        let middle = &groups[1..groups.len() - 1];
        let grouped = groups[0].len() <= 3
            && groups[groups.len() - 1].len() == 3
            && (middle.iter().all(|g| g.len() == 3) || middle.iter().all(|g| g.len() == 2));
        if !(same_mark && all_digits && grouped) {
            return Err(not_a_number());
        }
        groups.concat()
    } else if whole.chars().all(|c| c.is_ascii_digit()) {
        whole.to_string()
    } else {
        return Err(not_a_number());
    };
    let whole_digits = digits.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    if whole_digits.len() > 13 {
        return Err(format!("{} is too large (at most {MAX_AMOUNT})", quoted(text)));
    }
    if fraction.len() > MAX_DECIMALS as usize {
        return Err(format!("{} has more than {MAX_DECIMALS} decimals", quoted(text)));
    }
    let literal = format!("{}.{}", if whole_digits.is_empty() { "0" } else { whole_digits }, fraction);
    let value = Decimal::from_str(literal.trim_end_matches('.')).map_err(|_| not_a_number())?;
    if value > Decimal::from(MAX_AMOUNT) {
        return Err(format!("{} is too large (at most {MAX_AMOUNT})", quoted(text)));
    }
    Ok(if negative { -value } else { value })
}

/// Which of `.` and `,` the numbers use for decimals, from the values that tell: a separator
/// followed by one or two digits at the end, or the later of the two when both appear.
/// `None` when no value tells (all whole numbers, or "1,234" alone).
pub(crate) fn guess_decimal<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<char> {
    let (mut dots, mut commas) = (0usize, 0usize);
    for value in values {
        let v = value.trim().trim_end_matches(|c: char| !c.is_ascii_digit());
        let Some(at) = v.rfind(['.', ',']) else { continue };
        let sep = if v[at..].starts_with('.') { '.' } else { ',' };
        let after = v[at + 1..].chars().take_while(char::is_ascii_digit).count();
        let both = v.contains('.') && v.contains(',');
        if both || (1..=2).contains(&after) || after >= 4 {
            if sep == '.' {
                dots += 1;
            } else {
                commas += 1;
            }
        }
    }
    match dots.cmp(&commas) {
        std::cmp::Ordering::Greater => Some('.'),
        std::cmp::Ordering::Less => Some(','),
        std::cmp::Ordering::Equal => None,
    }
}

// ---- dates ----

pub(crate) fn year_in_range(date: NaiveDate) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&date.year())
}

/// Parses a date with a chrono format; a time after the date ("2024-01-15 10:30") is allowed.
pub(crate) fn parse_date_with(text: &str, format: &str) -> Option<NaiveDate> {
    let text = text.trim();
    let (date, rest) = NaiveDate::parse_and_remainder(text, format).ok()?;
    let rest_ok = rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == 'T' || c == ',');
    (rest_ok && year_in_range(date)).then_some(date)
}

/// A chrono format as people read it: "%d.%m.%Y" is "DD.MM.YYYY".
pub(crate) fn describe_format(format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = chars.next();
        if matches!(spec, Some('-' | '_' | '0')) {
            spec = chars.next();
        }
        out.push_str(match spec {
            Some('d' | 'e') => "DD",
            Some('m') => "MM",
            Some('Y') => "YYYY",
            Some('y') => "YY",
            Some('b' | 'h') => "Mon",
            Some('B') => "Month",
            Some('j') => "DDD",
            Some('F') => "YYYY-MM-DD",
            Some('D' | 'x') => "MM/DD/YY",
            Some('%') => "%",
            _ => "?",
        });
    }
    out
}

/// Formats tried by "auto": unambiguous ones first.
const UNAMBIGUOUS_FORMATS: [&str; 11] = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%d %b %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %y",
    "%b %d, %Y",
    "%b %d %Y",
    "%d. %b %Y",
];
const DAY_FIRST_FORMATS: [&str; 6] = ["%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%y", "%d/%m/%y", "%d-%m-%y"];
const MONTH_FIRST_FORMATS: [&str; 6] = ["%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y", "%m/%d/%y", "%m-%d-%y", "%m.%d.%y"];

/// Why "auto" could not choose a date format. `index` is into the values given.
#[derive(Debug)]
pub(crate) enum AutoDateError {
    /// Every value reads both as day/month and as month/day.
    Ambiguous { index: usize },
    /// No format reads every value; the one reading the most fails first at `index`.
    NoFormat { index: usize, best: &'static str },
}

/// Chooses one date format for all the values: ISO and month-name forms first, then day- or
/// month-first numbers, decided by the values (a day above 12 settles it).
pub(crate) fn auto_date_format(values: &[&str]) -> std::result::Result<&'static str, AutoDateError> {
    let first_failure = |format: &str| values.iter().position(|v| parse_date_with(v, format).is_none());
    if let Some(format) = UNAMBIGUOUS_FORMATS.iter().find(|f| first_failure(f).is_none()) {
        return Ok(format);
    }
    let day_first = DAY_FIRST_FORMATS.iter().find(|f| first_failure(f).is_none());
    let month_first = MONTH_FIRST_FORMATS.iter().find(|f| first_failure(f).is_none());
    match (day_first, month_first) {
        (Some(format), None) | (None, Some(format)) => Ok(format),
        // Dates written with dots are day first wherever they are written (Germany, Austria,
        // Switzerland, Scandinavia, Eastern Europe); no bank writes month.day.year.
        (Some(format), Some(_)) if format.starts_with("%d.") => Ok(format),
        (Some(_), Some(_)) => Err(AutoDateError::Ambiguous { index: 0 }),
        (None, None) => {
            let all = UNAMBIGUOUS_FORMATS.iter().chain(&DAY_FIRST_FORMATS).chain(&MONTH_FIRST_FORMATS);
            // The format that reads the most values is the one the file meant; on a tie the
            // first listed (`max_by_key` keeps the last maximum, hence `rev`).
            let (index, best) = all
                .rev()
                .map(|f| {
                    let parsed = values.iter().filter(|v| parse_date_with(v, f).is_some()).count();
                    (parsed, first_failure(f).unwrap_or(0), *f)
                })
                .max_by_key(|&(parsed, _, _)| parsed)
                .map_or((0, "%Y-%m-%d"), |(_, index, f)| (index, f));
            Err(AutoDateError::NoFormat { index, best })
        }
    }
}

/// Reads a currency cell: an ISO 4217 code, or the € and £ signs, which name one currency
/// each (unlike $).
pub(crate) fn currency_from_text(text: &str) -> Option<Currency> {
    match text.trim() {
        "€" => Currency::from_code("EUR"),
        "£" => Currency::from_code("GBP"),
        other => Currency::from_code(other),
    }
}

/// Text as found, for messages: quoted, and cut when long.
pub(crate) fn quoted(text: &str) -> String {
    let trimmed = text.trim();
    let short: Cow<str> = match trimmed.char_indices().nth(40) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &trimmed[..cut])),
        None => Cow::Borrowed(trimmed),
    };
    format!("{short:?}")
}
