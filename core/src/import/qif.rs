//! QIF statements (Quicken Interchange Format): bank, cash and credit-card transaction lists,
//! with `!Account` blocks, the date styles Quicken and other programs write, and split lines.

use chrono::NaiveDate;

use super::{
    bad, check_size, clean_description, clean_notes, decode, guess_decimal, non_empty, parse_amount, quoted,
    too_many_rows, year_in_range, DateOrder, Encoding, FileFormat, ParsedFile, ParsedRow, MAX_ROWS,
};
use crate::error::Result;

/// A record's field: its code letter, value and line.
struct Field {
    code: char,
    value: String,
    line: usize,
}

/// A transaction record (the lines up to `^`) and the account it belongs to.
struct Record {
    line: usize,
    fields: Vec<Field>,
    account: Option<String>,
}

impl Record {
    fn field(&self, code: char) -> Option<&Field> {
        self.fields.iter().find(|f| f.code == code)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Transactions,
    Accounts,
    /// Category lists, memorized transactions, prices: nothing to import.
    Other,
}

/// Reads a QIF file. `date_order` says how to read dates like 03/04/2024; with `Auto` the
/// values decide (a day above 12, dotted dates being day first, Quicken's `'` year being US
/// month first), and a file where nothing decides is refused with a request to choose.
pub fn parse_qif(file_name: &str, bytes: &[u8], date_order: DateOrder) -> Result<ParsedFile> {
    let file = file_name;
    check_size(file, bytes)?;
    let (text, _) = decode(file, bytes, Encoding::Auto)?;
    let records = read_records(file, &text)?;
    if records.is_empty() {
        return Err(bad(file, 0, None, "the file has no transactions"));
    }
    let accounts: Vec<(&str, usize)> =
        records.iter().filter_map(|r| r.account.as_deref().map(|a| (a, r.line))).collect();
    if let Some(&(other, line)) = accounts.iter().find(|(a, _)| *a != accounts[0].0) {
        return Err(bad(
            file,
            line,
            None,
            format!(
                "the file holds transactions of more than one account ({} and {other}); export each account to a \
                 file of its own",
                accounts[0].0
            ),
        ));
    }
    let order = match date_order {
        DateOrder::Auto => decide_order(file, &records)?,
        order => order,
    };
    let amounts = records.iter().filter_map(amount_field).map(|f| f.value.as_str());
    let decimal = guess_decimal(amounts).unwrap_or('.');

    let mut rows = Vec::with_capacity(records.len());
    let mut skipped = 0;
    for record in &records {
        let date_field = record
            .field('D')
            .filter(|f| !f.value.is_empty())
            .ok_or_else(|| bad(file, record.line, None, "the record has no date (a D line)"))?;
        let date = split_date(&date_field.value).and_then(|d| d.resolve(order)).ok_or_else(|| {
            bad(
                file,
                date_field.line,
                None,
                format!("{} is not a date (expected {})", quoted(&date_field.value), describe_order(order)),
            )
        })?;
        let amount_field =
            amount_field(record).ok_or_else(|| bad(file, record.line, None, "the record has no amount (a T line)"))?;
        let amount = parse_amount(&amount_field.value, decimal)
            .map_err(|message| bad(file, amount_field.line, None, message))?;
        if amount.is_zero() {
            skipped += 1;
            continue;
        }
        let text = |code: char| record.field(code).map_or("", |f| f.value.as_str());
        let (description, notes) = if clean_description(text('P')).is_empty() {
            (clean_description(text('M')), String::new())
        } else {
            (clean_description(text('P')), clean_notes(text('M')))
        };
        rows.push(ParsedRow {
            line: record.line,
            date,
            amount,
            currency: None,
            description,
            notes,
            // A check number (N) is not unique: it is no bank id.
            bank_id: None,
            category: category(text('L')),
        });
    }
    let account = records.iter().find_map(|r| r.account.clone());
    Ok(ParsedFile { format: FileFormat::Qif, currency: None, account, rows, skipped })
}

/// The record's total: T, or U (newer Quicken writes both, older only one).
fn amount_field(record: &Record) -> Option<&Field> {
    record.field('T').filter(|f| !f.value.is_empty()).or_else(|| record.field('U').filter(|f| !f.value.is_empty()))
}

/// `L` is a category ("Food:Groceries", an optional "/Class" after it) or, in brackets, the
/// other account of a transfer, which is no category.
fn category(text: &str) -> Option<String> {
    let name = text.split('/').next().unwrap_or("").trim();
    if name.starts_with('[') {
        return None;
    }
    non_empty(name)
}

/// The transaction records of the file, in order. Split lines (S, E, $, %) stay in their
/// record and are not read: the record's total is its amount.
fn read_records(file: &str, text: &str) -> Result<Vec<Record>> {
    let mut section = Section::Transactions;
    let mut account_list = false;
    let mut account: Option<String> = None;
    let mut records = Vec::new();
    let mut current: Option<Record> = None;
    let mut finish =
        |current: &mut Option<Record>, section: Section, account_list: bool, account: &mut Option<String>| {
            let Some(record) = current.take() else { return };
            match section {
                Section::Transactions => records.push(Record { account: account.clone(), ..record }),
                // With AutoSwitch the accounts are a list, not the one the next transactions are for.
                Section::Accounts if !account_list => *account = record.field('N').and_then(|f| non_empty(&f.value)),
                Section::Accounts | Section::Other => {}
            }
        };
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let content = raw.trim();
        if content.is_empty() {
            continue;
        }
        if let Some(header) = content.strip_prefix('!') {
            finish(&mut current, section, account_list, &mut account);
            let header = header.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
            if let Some(kind) = header.strip_prefix("type:") {
                section =
                    match kind.trim() {
                        "bank" | "ccard" | "cash" | "oth a" | "oth l" | "otha" | "othl" => Section::Transactions,
                        "invst" => return Err(bad(
                            file,
                            line,
                            None,
                            "investment accounts (!Type:Invst) cannot be imported; export a bank, cash or credit-card \
                             account",
                        )),
                        _ => Section::Other,
                    };
            } else if header == "account" {
                section = Section::Accounts;
            } else if header == "option:autoswitch" {
                account_list = true;
            } else if header == "clear:autoswitch" {
                account_list = false;
            }
            continue;
        }
        if content.starts_with('^') {
            finish(&mut current, section, account_list, &mut account);
            continue;
        }
        let mut chars = content.chars();
        let code = chars.next().unwrap_or(' ').to_ascii_uppercase();
        let value = chars.as_str().trim().to_string();
        let record = current.get_or_insert_with(|| Record { line, fields: Vec::new(), account: None });
        record.fields.push(Field { code, value, line });
        if record.fields.len() > 10_000 {
            return Err(bad(file, record.line, None, "the record never ends (no ^ line)"));
        }
    }
    // The last record may lack its closing ^.
    finish(&mut current, section, account_list, &mut account);
    if records.len() > MAX_ROWS {
        return Err(too_many_rows(file, records[MAX_ROWS].line));
    }
    Ok(records)
}

/// A date split into its three numbers: 1/15/2024, 01/15/24, 1/15'24, 1/15' 4, 15.01.2024,
/// 2024-01-15, 1-15-2024.
struct QifDate {
    parts: [u32; 3],
    lengths: [usize; 3],
    /// Quicken's `'` before the year means 2000 and later.
    apostrophe: bool,
    dotted: bool,
}

fn split_date(text: &str) -> Option<QifDate> {
    let pieces: Vec<&str> = text.split(['/', '.', '-', '\'', ' ']).filter(|p| !p.is_empty()).collect();
    let [a, b, c] = pieces[..] else { return None };
    let mut parts = [0; 3];
    let mut lengths = [0; 3];
    for (i, piece) in [a, b, c].into_iter().enumerate() {
        if piece.len() > 4 || !piece.chars().all(|ch| ch.is_ascii_digit()) {
            return None;
        }
        parts[i] = piece.parse().ok()?;
        lengths[i] = piece.len();
    }
    Some(QifDate { parts, lengths, apostrophe: text.contains('\''), dotted: text.contains('.') })
}

impl QifDate {
    fn year_first(&self) -> bool {
        self.lengths[0] == 4
    }

    fn resolve(&self, order: DateOrder) -> Option<NaiveDate> {
        let [a, b, c] = self.parts;
        let (year, year_length, month, day) = if self.year_first() || order == DateOrder::Ymd {
            (a, self.lengths[0], b, c)
        } else if order == DateOrder::Dmy {
            (c, self.lengths[2], b, a)
        } else {
            (c, self.lengths[2], a, b)
        };
        let year = match year_length {
            4 => year,
            1 | 2 if self.apostrophe || year < 70 => 2000 + year,
            1 | 2 => 1900 + year,
            _ => return None,
        };
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        year_in_range(date).then_some(date)
    }
}

fn describe_order(order: DateOrder) -> &'static str {
    match order {
        DateOrder::Dmy => "DD.MM.YYYY or DD/MM/YYYY",
        DateOrder::Mdy | DateOrder::Auto => "MM/DD/YYYY or MM/DD'YY",
        DateOrder::Ymd => "YYYY-MM-DD",
    }
}

/// Day/month order from the values: a first number above 12 is a day, a second one above 12
/// too; failing that, dotted dates are day first (European) and `'` years are month first
/// (Quicken US).
fn decide_order(file: &str, records: &[Record]) -> Result<DateOrder> {
    let dates: Vec<(usize, &str, QifDate)> = records
        .iter()
        .filter_map(|r| r.field('D'))
        .filter_map(|f| split_date(&f.value).map(|d| (f.line, f.value.as_str(), d)))
        .filter(|(_, _, d)| !d.year_first())
        .collect();
    let day_first = dates.iter().find(|(_, _, d)| d.parts[0] > 12);
    let month_first = dates.iter().find(|(_, _, d)| d.parts[1] > 12);
    match (day_first, month_first) {
        (Some(_), None) => Ok(DateOrder::Dmy),
        (None, Some(_)) => Ok(DateOrder::Mdy),
        (Some((day_line, day_text, _)), Some((month_line, month_text, _))) => Err(bad(
            file,
            *day_line.max(month_line),
            None,
            format!(
                "the dates disagree on day/month order ({} on line {day_line} is day first, {} on line {month_line} \
                 month first); choose the date order",
                quoted(day_text),
                quoted(month_text)
            ),
        )),
        (None, None) => {
            if dates.iter().all(|(_, _, d)| d.dotted) {
                Ok(DateOrder::Dmy)
            } else if dates.iter().any(|(_, _, d)| d.apostrophe) {
                Ok(DateOrder::Mdy)
            } else {
                let (line, text, _) = &dates[0];
                Err(bad(
                    file,
                    *line,
                    None,
                    format!("dates like {} can be read day first or month first; choose the date order", quoted(text)),
                ))
            }
        }
    }
}
