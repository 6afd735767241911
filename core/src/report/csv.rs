//! The report's transactions as CSV (RFC 4180: comma-separated, CRLF line ends, fields quoted
//! where needed), UTF-8 with a byte-order mark so spreadsheet programs read accents right.
//! One row per transaction, with its original amount and currency and its converted amount in
//! the base currency (empty when no rate converts it), so the converted column sums to the
//! report's totals.

use std::io::Write;

use super::Report;

/// Writes the transactions of `report`.
pub fn write(report: &Report, out: impl Write) -> std::io::Result<()> {
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(out);
    let base = report.base_currency;
    let converted = format!("Amount in {base}");
    w.write_record([
        "Date",
        "Kind",
        "Description",
        "Category",
        "Payment method",
        "Tags",
        "Notes",
        "Amount",
        "Currency",
        converted.as_str(),
        "Rate",
        "Id",
    ])?;
    for r in &report.transactions {
        w.write_record([
            r.date.format("%Y-%m-%d").to_string(),
            r.kind.as_str().to_string(),
            text(&r.description),
            text(&r.category),
            text(&r.payment_method),
            text(&r.tags.join("; ")),
            text(&r.notes),
            r.currency.format(r.amount),
            r.currency.code().to_string(),
            r.converted.map(|c| base.format(c)).unwrap_or_default(),
            r.rate.map(|x| x.to_string()).unwrap_or_default(),
            r.id.to_string(),
        ])?;
    }
    w.flush()
}

/// The whole file: the byte-order mark, then [`write`].
pub fn to_bytes(report: &Report) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + report.transactions.len() * 160);
    out.extend_from_slice("\u{feff}".as_bytes());
    write(report, &mut out).expect("writing to memory cannot fail");
    out
}

/// Text as a cell: one that a spreadsheet would read as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading apostrophe, so a description such as
/// `=HYPERLINK(…)` stays text (OWASP's advice against CSV injection).
fn text(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}
