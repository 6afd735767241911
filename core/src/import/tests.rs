//! Tests of the statement parsers on the sample files in `core/tests/data/import`: exact
//! counts, sums and rows worked out by hand from each file, errors that name the file, line
//! and column, and no panic on random or mangled input.

use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::error::Error;

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn total(file: &ParsedFile) -> Decimal {
    file.rows.iter().map(|r| r.amount).sum()
}

fn currency(code: &str) -> Option<Currency> {
    Currency::from_code(code)
}

fn name(text: &str) -> Column {
    Column::Name(text.to_string())
}

/// The error's text, checking it is one `BadImport` whose fields match its text.
fn failure(result: Result<ParsedFile>) -> (String, usize, Option<usize>) {
    let error = result.expect_err("the file should be refused");
    assert_eq!(error.code(), "bad_import");
    let text = error.to_string();
    match error {
        Error::BadImport { file, line, column, .. } => {
            assert!(text.starts_with(&file), "{text}");
            (text, line, column)
        }
        other => panic!("not a BadImport: {other:?}"),
    }
}

// ---- CSV ----

fn german_mapping() -> CsvMapping {
    CsvMapping {
        encoding: Encoding::Windows1252,
        delimiter: Some(';'),
        header: true,
        skip_rows: 4,
        date_column: name("Buchungstag"),
        date_format: "%d.%m.%Y".to_string(),
        decimal_separator: ',',
        amount: AmountColumns::Signed { column: name("Betrag (EUR)"), negative_is_expense: true },
        description_column: name("Auftraggeber/Empfänger"),
        notes_column: Some(name("Verwendungszweck")),
        currency_column: None,
        category_column: None,
        id_column: None,
    }
}

#[test]
fn german_bank_csv_in_windows_1252_with_preamble() {
    let parsed = parse_csv("umsaetze.csv", &sample("de_girokonto.csv"), &german_mapping()).unwrap();
    assert_eq!(parsed.format, FileFormat::Csv);
    assert_eq!(parsed.rows.len(), 8);
    assert_eq!(parsed.skipped, 1, "the 0,00 account fee");
    assert_eq!(total(&parsed), dec("1350.01"));
    let first = &parsed.rows[0];
    assert_eq!(first.line, 6);
    assert_eq!(first.date, day(2024, 3, 1));
    assert_eq!(first.amount, dec("2850.00"));
    assert_eq!(first.description, "Bäckerei Schröder GmbH");
    assert_eq!(first.notes, "Lohn/Gehalt 03/2024");
    assert_eq!(first.currency, None);
    assert_eq!(first.bank_id, None);
    let rent = &parsed.rows[3];
    assert_eq!((rent.line, rent.amount, rent.description.as_str()), (9, dec("-1234.56"), "Vermieter Hans Weiß"));
    let cafe = &parsed.rows[4];
    assert_eq!((cafe.line, cafe.description.as_str(), cafe.notes.as_str()), (10, "Café Größenwahn", ""));
    assert_eq!(parsed.rows[5].description, "Überweisung an Jürgen");
    assert_eq!(parsed.rows[6].amount, dec("19.99"), "a leading plus");
    assert_eq!(parsed.rows[7].line, 14, "the zero row on line 13 is skipped");
}

#[test]
fn german_bank_csv_is_sniffed_and_the_guess_reads_it() {
    let bytes = sample("de_girokonto.csv");
    let sniff = sniff_csv(&bytes, Encoding::Auto, 4).unwrap();
    assert_eq!(sniff.encoding, Encoding::Windows1252);
    assert_eq!(sniff.delimiter, ';');
    assert_eq!(sniff.headers[2], "Auftraggeber/Empfänger");
    assert_eq!(sniff.rows.len(), 9);
    assert_eq!(sniff.rows[0][2], "Bäckerei Schröder GmbH");
    let mapping = sniff.mapping.expect("a mapping from the German header names");
    assert_eq!(mapping, german_mapping());
    let parsed = parse_csv("umsaetze.csv", &bytes, &mapping).unwrap();
    assert_eq!(total(&parsed), dec("1350.01"));
}

#[test]
fn german_bank_csv_preamble_is_found_without_being_told() {
    let sniff = sniff_csv(&sample("de_girokonto.csv"), Encoding::Auto, 0).unwrap();
    assert_eq!(sniff.headers[0], "Buchungstag");
    assert_eq!(sniff.rows.len(), 9);
    assert_eq!(sniff.mapping, Some(german_mapping()), "skip_rows 4 found");
}

#[test]
fn duplicate_header_names_are_mapped_by_position() {
    let bytes = b"Datum;Betrag;Name;Betrag\n01.02.2024;-1,00;A;x\n02.02.2024;-2,00;B;y\n";
    let mapping = sniff_csv(bytes, Encoding::Auto, 0).unwrap().mapping.unwrap();
    assert_eq!(mapping.amount, AmountColumns::Signed { column: Column::Index(1), negative_is_expense: true });
    assert_eq!(mapping.description_column, name("Name"));
}

#[test]
fn an_explicit_encoding_that_does_not_fit_names_the_first_bad_byte() {
    let mapping = CsvMapping { encoding: Encoding::Utf8, ..german_mapping() };
    let (text, line, column) = failure(parse_csv("umsaetze.csv", &sample("de_girokonto.csv"), &mapping));
    // `"Kontoinhaber:";"J` is 18 characters; the ü of Jürgen is byte 0xFC in Windows-1252.
    assert_eq!((line, column), (1, Some(19)), "{text}");
    assert!(text.contains("not valid UTF-8"), "{text}");
}

#[test]
fn us_bank_csv_with_debit_and_credit_columns() {
    let bytes = sample("us_checking.csv");
    let sniff = sniff_csv(&bytes, Encoding::Auto, 0).unwrap();
    assert_eq!((sniff.encoding, sniff.delimiter), (Encoding::Utf8, ','));
    let mapping = sniff.mapping.unwrap();
    assert_eq!(mapping.amount, AmountColumns::DebitCredit { debit: name("Debit"), credit: name("Credit") });
    assert_eq!(mapping.date_format, "%m/%d/%Y");
    assert_eq!(mapping.decimal_separator, '.');
    assert_eq!(mapping.description_column, name("Description"));

    let parsed = parse_csv("checking.csv", &bytes, &CsvMapping { date_format: "auto".into(), ..mapping }).unwrap();
    assert_eq!(parsed.rows.len(), 8);
    assert_eq!(parsed.skipped, 0);
    assert_eq!(total(&parsed), dec("1565.67"));
    let amazon = &parsed.rows[0];
    assert_eq!(amazon.description, "AMAZON.COM, INC. SEATTLE, WA");
    assert_eq!((amazon.line, amazon.date, amazon.amount), (2, day(2024, 1, 2), dec("-45.99")));
    assert_eq!(parsed.rows[1].amount, dec("2500.00"));
    assert_eq!(parsed.rows[3].description, "Joe's Diner \"Best Burgers\"");
    assert_eq!(parsed.rows[6].amount, dec("-1450.00"));
    assert_eq!(parsed.rows[7].date, day(2024, 1, 28));
    assert_eq!(parsed.rows[7].amount, dec("1199.99"));
}

#[test]
fn uk_credit_card_csv_shows_expenses_positive() {
    let bytes = sample("uk_creditcard.csv");
    let mapping = CsvMapping {
        amount: AmountColumns::Signed { column: name("amount"), negative_is_expense: false },
        date_column: name("Date"),
        description_column: name("Description"),
        category_column: Some(name("Category")),
        id_column: Some(name("Reference")),
        ..CsvMapping::default()
    };
    let parsed = parse_csv("card.csv", &bytes, &mapping).unwrap();
    assert_eq!(parsed.rows.len(), 6);
    assert_eq!(parsed.skipped, 1);
    assert_eq!(total(&parsed), dec("92.79"));
    let tesco = &parsed.rows[0];
    assert_eq!((tesco.date, tesco.amount), (day(2024, 1, 3), dec("-34.56")));
    assert_eq!(tesco.category.as_deref(), Some("Groceries"));
    assert_eq!(tesco.bank_id.as_deref(), Some("REF0001"));
    let payment = &parsed.rows[2];
    assert_eq!((payment.amount, payment.category.as_deref()), (dec("250.00"), None));
    assert_eq!(parsed.rows[5].amount, dec("19.99"), "a refund is money in");

    let sniff = sniff_csv(&bytes, Encoding::Auto, 0).unwrap();
    assert_eq!(sniff.encoding, Encoding::Windows1252, "£ as byte 0xA3");
    let guessed = sniff.mapping.unwrap();
    assert_eq!(guessed.date_format, "%d/%m/%Y");
    assert_eq!(guessed.category_column, Some(name("Category")));
}

#[test]
fn utf8_csv_with_bom_and_a_currency_column() {
    let bytes = sample("multi_currency_bom.csv");
    let sniff = sniff_csv(&bytes, Encoding::Auto, 0).unwrap();
    assert_eq!(sniff.encoding, Encoding::Utf8);
    assert_eq!(sniff.headers[0], "Date", "the BOM is not part of the first name");
    let mapping = sniff.mapping.unwrap();
    assert_eq!(mapping.description_column, name("Payee"));
    assert_eq!(mapping.notes_column, Some(name("Memo")));
    assert_eq!(mapping.currency_column, Some(name("Currency")));
    assert_eq!(mapping.id_column, Some(name("Transaction ID")));
    assert_eq!(mapping.date_format, "%Y-%m-%d");

    let parsed = parse_csv("wallet.csv", &bytes, &mapping).unwrap();
    assert_eq!(parsed.rows.len(), 6);
    assert_eq!(total(&parsed), dec("3152.62"));
    let sum_in =
        |code: &str| -> Decimal { parsed.rows.iter().filter(|r| r.currency == currency(code)).map(|r| r.amount).sum() };
    assert_eq!((sum_in("EUR"), sum_in("CHF"), sum_in("GBP")), (dec("3067.90"), dec("90.92"), dec("-6.20")));
    let cafe = &parsed.rows[0];
    assert_eq!((cafe.description.as_str(), cafe.notes.as_str()), ("Café Zürich", "Kaffee ☕"));
    assert_eq!(cafe.bank_id.as_deref(), Some("tx-001"));
    assert_eq!(parsed.rows[3].notes, "Dinner, with friends");
}

#[test]
fn tab_separated_csv_with_crlf_and_a_line_break_in_a_quoted_field() {
    let bytes = sample("nl_tabs_crlf.csv");
    let sniff = sniff_csv(&bytes, Encoding::Auto, 0).unwrap();
    assert_eq!(sniff.delimiter, '\t');
    let mapping = sniff.mapping.unwrap();
    assert_eq!((mapping.decimal_separator, mapping.date_format.as_str()), (',', "%Y%m%d"));
    assert_eq!(mapping.description_column, name("Omschrijving"));
    assert_eq!(mapping.notes_column, Some(name("Mededelingen")));
    let parsed = parse_csv("ing.csv", &bytes, &mapping).unwrap();
    assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5, 6, 7]);
    assert_eq!(total(&parsed), dec("1283.08"));
    assert_eq!(parsed.rows[1].notes, "Reis Utrecht -\nAmsterdam");
    assert_eq!(parsed.rows[2].amount, dec("2450.00"));
    assert_eq!(parsed.rows[3].date, day(2024, 3, 8));
}

#[test]
fn a_csv_date_that_does_not_exist_is_named_by_line_and_column() {
    let bytes = sample("bad_date.csv");
    for format in ["auto", "%d/%m/%Y"] {
        let mapping = CsvMapping {
            date_column: name("Date"),
            date_format: format.to_string(),
            amount: AmountColumns::Signed { column: name("Amount"), negative_is_expense: true },
            description_column: name("Description"),
            ..CsvMapping::default()
        };
        let (text, line, column) = failure(parse_csv("statement.csv", &bytes, &mapping));
        assert_eq!(text, "statement.csv, line 14, column 3: \"31/02/2024\" is not a date in the format DD/MM/YYYY");
        assert_eq!((line, column), (14, Some(3)));
    }
}

#[test]
fn a_csv_amount_that_is_not_a_number_is_named_by_line_and_column() {
    let mapping = CsvMapping {
        amount: AmountColumns::Signed { column: Column::Index(3), negative_is_expense: true },
        description_column: Column::Index(1),
        ..CsvMapping::default()
    };
    let (text, _, _) = failure(parse_csv("bad_amount.csv", &sample("bad_amount.csv"), &mapping));
    assert_eq!(
        text,
        "bad_amount.csv, line 6, column 4: \"12,34,5\" is not an amount (expected a number like 1,234.56)"
    );
}

#[test]
fn csv_mapping_mistakes_are_named() {
    let bytes = sample("us_checking.csv");
    let unknown = CsvMapping {
        amount: AmountColumns::Signed { column: name("Betrag"), negative_is_expense: true },
        description_column: name("Description"),
        ..CsvMapping::default()
    };
    let (text, line, _) = failure(parse_csv("checking.csv", &bytes, &unknown));
    assert_eq!(line, 1);
    assert!(text.contains("no column named \"Betrag\"") && text.contains("\"Check Number\""), "{text}");

    let missing = CsvMapping {
        amount: AmountColumns::Signed { column: Column::Index(2), negative_is_expense: true },
        description_column: Column::Index(9),
        ..CsvMapping::default()
    };
    let (text, line, column) = failure(parse_csv("checking.csv", &bytes, &missing));
    assert_eq!((line, column), (2, Some(10)), "{text}");
    assert!(text.contains("only 6 columns"), "{text}");

    let no_header = CsvMapping { header: false, date_column: name("Date"), ..CsvMapping::default() };
    let error = parse_csv("checking.csv", &bytes, &no_header).unwrap_err();
    assert_eq!(error.code(), "invalid");

    let old = b"Date,Amount,Payee\n1850-01-01,-1,A\n";
    let iso = CsvMapping { date_format: "%Y-%m-%d".into(), ..CsvMapping::default() };
    let (text, _, _) = failure(parse_csv("old.csv", old, &iso));
    assert_eq!(text, "old.csv, line 2, column 1: \"1850-01-01\" is not between the years 1900 and 2200");

    let comma_space = CsvMapping { decimal_separator: ' ', ..CsvMapping::default() };
    assert_eq!(parse_csv("checking.csv", &bytes, &comma_space).unwrap_err().code(), "invalid");
}

#[test]
fn csv_with_no_rows_or_ambiguous_dates_is_refused() {
    let mapping = CsvMapping::default();
    let (text, line, _) = failure(parse_csv("empty.csv", b"Date,Amount,Payee\n", &mapping));
    assert_eq!((text.as_str(), line), ("empty.csv: the file has no transactions", 0));
    assert_eq!(failure(parse_csv("empty.csv", b"", &mapping)).1, 0);

    let ambiguous = b"Date,Amount,Payee\n01/02/2024,-5.00,A\n03/04/2024,-6.00,B\n";
    let (text, line, column) = failure(parse_csv("a.csv", ambiguous, &mapping));
    assert_eq!((line, column), (2, Some(1)));
    assert!(text.contains("day first or month first"), "{text}");
    let day_first = CsvMapping { date_format: "%d/%m/%Y".into(), ..mapping };
    let parsed = parse_csv("a.csv", ambiguous, &day_first).unwrap();
    assert_eq!(parsed.rows[1].date, day(2024, 4, 3));
}

#[test]
fn csv_row_and_size_limits() {
    let mut text = String::from("Date,Amount,Payee\n");
    for i in 0..MAX_ROWS {
        text.push_str(&format!("{:02}/01/2024,-{}.00,Shop\n", i % 28 + 1, i % 90 + 1));
    }
    let started = std::time::Instant::now();
    let parsed = parse_csv("big.csv", text.as_bytes(), &CsvMapping::default()).unwrap();
    assert_eq!(parsed.rows.len(), MAX_ROWS, "exactly the limit is allowed");
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
    text.push_str("01/01/2024,-1,Shop\n");
    let (message, line, _) = failure(parse_csv("big.csv", text.as_bytes(), &CsvMapping::default()));
    assert_eq!(line, MAX_ROWS + 2, "{message}");
    assert!(message.contains("more than 100000 transactions"), "{message}");

    let wide = format!("Date,Amount,Payee\n2024-01-01,-1,{}\n", ",".repeat(2000));
    let (message, line, _) = failure(parse_csv("wide.csv", wide.as_bytes(), &CsvMapping::default()));
    assert_eq!(line, 2);
    assert!(message.contains("more than 1000 columns"), "{message}");

    let huge = vec![b'a'; MAX_FILE_BYTES + 1];
    let (message, _, _) = failure(parse_csv("huge.csv", &huge, &CsvMapping::default()));
    assert!(message.contains("at most 50 MB"), "{message}");
    assert!(parse_ofx("huge.ofx", &huge).is_err());
    assert!(parse_qif("huge.qif", &huge, DateOrder::Auto).is_err());
    assert!(sniff_csv(&huge, Encoding::Auto, 0).is_err());
}

#[test]
fn csv_without_a_header_is_guessed_from_values() {
    let bytes = "15.01.2024;Miete Januar;-850,00\n16.01.2024;Supermarkt;-42,10\n31.01.2024;Gehalt;2.100,00\n";
    let sniff = sniff_csv(bytes.as_bytes(), Encoding::Auto, 0).unwrap();
    assert_eq!(sniff.headers, ["Column 1", "Column 2", "Column 3"]);
    let mapping = sniff.mapping.unwrap();
    assert!(!mapping.header);
    assert_eq!(mapping.date_column, Column::Index(0));
    assert_eq!(mapping.description_column, Column::Index(1));
    assert_eq!((mapping.decimal_separator, mapping.date_format.as_str()), (',', "%d.%m.%Y"));
    let parsed = parse_csv("x.csv", bytes.as_bytes(), &mapping).unwrap();
    assert_eq!(total(&parsed), dec("1207.90"));
}

#[test]
fn csv_mapping_json_round_trips() {
    let json = r#"{"date_column":"Buchungstag","amount":{"type":"debit_credit","debit":3,"credit":"Haben"},
                   "description_column":1,"decimal_separator":",","encoding":"windows-1252"}"#;
    let mapping: CsvMapping = serde_json::from_str(json).unwrap();
    assert_eq!(mapping.date_column, name("Buchungstag"));
    assert_eq!(mapping.amount, AmountColumns::DebitCredit { debit: Column::Index(3), credit: name("Haben") });
    assert_eq!((mapping.encoding, mapping.date_format.as_str(), mapping.header), (Encoding::Windows1252, "auto", true));
    let signed: CsvMapping = serde_json::from_str(r#"{"amount":{"type":"signed","column":2}}"#).unwrap();
    assert_eq!(signed.amount, AmountColumns::Signed { column: Column::Index(2), negative_is_expense: true });
    let back: CsvMapping = serde_json::from_str(&serde_json::to_string(&mapping).unwrap()).unwrap();
    assert_eq!(back, mapping);
    assert_eq!(serde_json::to_string(&FileFormat::Ofx).unwrap(), "\"ofx\"");
}

// ---- amounts and dates ----

#[test]
fn amounts_as_banks_write_them() {
    for (text, decimal, expected) in [
        ("1.234,56", ',', "1234.56"),
        ("1 234,56", ',', "1234.56"),
        ("1\u{a0}234,56", ',', "1234.56"),
        ("1'234.56", '.', "1234.56"),
        ("1,234,567.8", '.', "1234567.8"),
        ("12,34,567.00", '.', "1234567"),
        ("(12.34)", '.', "-12.34"),
        ("12.34-", '.', "-12.34"),
        ("-€12.34", '.', "-12.34"),
        ("EUR -1.000,00", ',', "-1000"),
        ("12.50 USD", '.', "12.5"),
        ("12.50 DR", '.', "-12.5"),
        ("12.50 CR", '.', "12.5"),
        ("+0,5", ',', "0.5"),
        (".75", '.', "0.75"),
        ("1.2345", '.', "1.2345"),
        ("0.00", '.', "0"),
        ("1000000000000", '.', "1000000000000"),
        ("\u{2212}7", '.', "-7"),
    ] {
        assert_eq!(parse_amount(text, decimal), Ok(dec(expected)), "{text}");
    }
    for (text, decimal, expected) in [
        ("12,34,5", '.', "not an amount"),
        ("12,34,5", ',', "not an amount"),
        ("1.234.5", ',', "not an amount"),
        ("1,23", '.', "not an amount"),
        ("1234.56", ',', "not an amount"),
        ("abc", '.', "not an amount"),
        ("-", '.', "not an amount"),
        ("1e5", '.', "not an amount"),
        ("--5", '.', "not an amount"),
        ("-(5)", '.', "not an amount"),
        ("(5", '.', "not an amount"),
        ("1.23456", '.', "more than 4 decimals"),
        ("1000000000000.01", '.', "too large"),
        ("99999999999999999999999999999999", '.', "too large"),
    ] {
        let message = parse_amount(text, decimal).unwrap_err();
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn auto_dates() {
    assert_eq!(auto_date_format(&["2024-01-15", "2024-12-01"]).unwrap(), "%Y-%m-%d");
    assert_eq!(auto_date_format(&["15.01.2024", "01.02.2024"]).unwrap(), "%d.%m.%Y");
    assert_eq!(auto_date_format(&["01/15/2024", "02/01/2024"]).unwrap(), "%m/%d/%Y");
    assert_eq!(auto_date_format(&["15/01/24", "01/02/24"]).unwrap(), "%d/%m/%y");
    assert_eq!(auto_date_format(&["15 Jan 2024", "1 Feb 2024"]).unwrap(), "%d %b %Y");
    assert_eq!(auto_date_format(&["2024-01-15 10:30:00"]).unwrap(), "%Y-%m-%d");
    assert!(matches!(auto_date_format(&["01/02/2024"]), Err(AutoDateError::Ambiguous { index: 0 })));
    assert!(matches!(
        auto_date_format(&["13/01/2024", "01/13/2024"]),
        Err(AutoDateError::NoFormat { index: 1, best: "%d/%m/%Y" })
    ));
    assert_eq!(describe_format("%d.%m.%Y"), "DD.MM.YYYY");
    assert_eq!(parse_date_with("1850-01-01", "%Y-%m-%d"), None, "outside the years a ledger holds");
}

#[test]
fn texts_are_cleaned_and_cut() {
    assert_eq!(clean_description("  REWE \t Markt\n Köln\u{0} "), "REWE Markt Köln");
    assert_eq!(clean_description(&"x".repeat(250)).chars().count(), 200);
    assert_eq!(clean_notes(&"ü".repeat(2500)).chars().count(), 2000);
    assert_eq!(clean_notes(" a\u{7}\nb "), "a\nb");
}

// ---- OFX ----

#[test]
fn ofx_1_sgml_bank_statement_in_windows_1252() {
    let bytes = sample("bank_sgml.ofx");
    assert_eq!(detect_format("export.dat", &bytes), Some(FileFormat::Ofx));
    let parsed = parse_ofx("bank.ofx", &bytes).unwrap();
    assert_eq!(parsed.format, FileFormat::Ofx);
    assert_eq!(parsed.currency, currency("EUR"));
    assert_eq!(parsed.account.as_deref(), Some("0648489890"));
    assert_eq!(parsed.rows.len(), 5);
    assert_eq!(parsed.skipped, 1);
    assert_eq!(total(&parsed), dec("1484.83"));
    assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [42, 50, 58, 66, 75]);
    let rewe = &parsed.rows[0];
    assert_eq!((rewe.date, rewe.amount), (day(2024, 3, 2), dec("-87.45")));
    assert_eq!((rewe.description.as_str(), rewe.notes.as_str()), ("REWE Markt Köln", "Einkauf vom 01.03."));
    assert_eq!(rewe.bank_id.as_deref(), Some("2024030200001"));
    assert_eq!(rewe.currency, None, "the statement's currency");
    assert_eq!(parsed.rows[1].amount, dec("-1234.56"), "a decimal comma");
    assert_eq!(parsed.rows[1].description, "Vermieter Hans Weiß");
    assert_eq!(parsed.rows[2].date, day(2024, 3, 15), "a time and zone after the date");
    let empty_memo = &parsed.rows[3];
    assert_eq!(empty_memo.description, "Müller & Söhne");
    assert_eq!(empty_memo.bank_id.as_deref(), Some("2024032000004"), "found past an empty unclosed <MEMO>");
    assert_eq!(empty_memo.notes, "");
    let no_name = &parsed.rows[4];
    assert_eq!((no_name.description.as_str(), no_name.notes.as_str()), ("Lidl sagt Danke", ""));
}

#[test]
fn ofx_credit_card_statement() {
    let parsed = parse_ofx("card.ofx", &sample("creditcard.ofx")).unwrap();
    assert_eq!(parsed.currency, currency("USD"));
    assert_eq!(parsed.account.as_deref(), Some("4111111111111111"));
    assert_eq!(parsed.rows.len(), 6);
    assert_eq!(total(&parsed), dec("-1020.86"));
    assert_eq!(parsed.rows[0].description, "WHOLEFDS MKT #10234", "lower-case tags");
    assert_eq!(parsed.rows[0].line, 25);
    assert_eq!((parsed.rows[1].date, parsed.rows[1].notes.as_str()), (day(2024, 1, 9), "ATLANTA   GA"));
    assert_eq!(parsed.rows[2].currency, currency("EUR"), "CURRENCY: the amount is in euros");
    assert_eq!(parsed.rows[3].currency, None, "ORIGCURRENCY: the amount was converted to dollars");
    assert_eq!(parsed.rows[4].amount, dec("500.00"));
    assert_eq!(parsed.rows[5].description, "AT&T WIRELESS", "a bare & stays");
    assert!(parsed.rows.iter().all(|r| r.bank_id.as_deref().is_some_and(|id| id.starts_with("FIT2024"))));
}

#[test]
fn ofx_2_xml_statement() {
    let parsed = parse_ofx("releve.ofx", &sample("bank_xml.ofx")).unwrap();
    assert_eq!(parsed.currency, currency("EUR"));
    assert_eq!(parsed.account.as_deref(), Some("FR7630004001230001234567890"));
    assert_eq!(parsed.rows.len(), 5);
    assert_eq!(total(&parsed), dec("1701.08"));
    assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [27, 35, 49, 57, 65]);
    assert_eq!(parsed.rows[0].notes, "Paiement CB 01/04 <Lyon>");
    assert_eq!(parsed.rows[1].description, "EDF Électricité", "PAYEE/NAME");
    assert_eq!(parsed.rows[2].description, "Société Générale", "numeric entities");
    assert_eq!(parsed.rows[2].notes, "Virement <SEPA> reçu", "CDATA");
    assert_eq!(parsed.rows[3].description, "Crêperie \"Chez Anne\"");
    assert_eq!(parsed.rows[3].notes, "");
    assert_eq!((parsed.rows[4].date, parsed.rows[4].amount), (day(2024, 4, 25), dec("-250.00")));
}

#[test]
fn qfx_with_intuit_tags() {
    let bytes = sample("quicken.qfx");
    assert_eq!(detect_format("quicken.qfx", &bytes), Some(FileFormat::Ofx));
    let parsed = parse_ofx("quicken.qfx", &bytes).unwrap();
    assert_eq!((parsed.currency, parsed.account.as_deref()), (currency("USD"), Some("000123456789")));
    assert_eq!(parsed.rows.len(), 4);
    assert_eq!(total(&parsed), dec("1676.53"));
    assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [11, 12, 13, 14]);
    assert_eq!(parsed.rows[1].description, "CHECK 1043");
    assert_eq!(parsed.rows[1].bank_id.as_deref(), Some("202405061"));
    assert_eq!(parsed.rows[3].notes, "SHELL OIL 57442 AUSTIN TX");
}

#[test]
fn truncated_ofx_is_refused_at_its_last_line() {
    let (text, line, _) = failure(parse_ofx("bad_truncated.ofx", &sample("bad_truncated.ofx")));
    assert_eq!(line, 39, "{text}");
    assert!(text.starts_with("bad_truncated.ofx, line 39: the file ends before </OFX>"), "{text}");
}

#[test]
fn ofx_transaction_problems_are_named() {
    let ofx = |transaction: &str| {
        format!(
            "OFXHEADER:100\n\n<OFX>\n<BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n<BANKTRANLIST>\n{transaction}\n\
             </BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1>\n</OFX>\n"
        )
    };
    let no_date = ofx("<STMTTRN>\n<TRNTYPE>DEBIT\n<TRNAMT>-5.00\n<FITID>1\n</STMTTRN>");
    let (text, line, _) = failure(parse_ofx("s.ofx", no_date.as_bytes()));
    assert_eq!((text.as_str(), line), ("s.ofx, line 6: the transaction has no DTPOSTED (date posted)", 6));

    let no_amount = ofx("<STMTTRN>\n<DTPOSTED>20240101\n</STMTTRN>");
    assert!(failure(parse_ofx("s.ofx", no_amount.as_bytes())).0.contains("has no TRNAMT"));

    let bad_amount = ofx("<STMTTRN>\n<DTPOSTED>20240101\n  <TRNAMT>12.3.4\n</STMTTRN>");
    let (text, line, column) = failure(parse_ofx("s.ofx", bad_amount.as_bytes()));
    assert_eq!((line, column), (8, Some(3)), "{text}");
    assert!(text.contains("\"12.3.4\" is not an amount"), "{text}");

    let bad_date = ofx("<STMTTRN>\n<DTPOSTED>20241301\n<TRNAMT>1\n</STMTTRN>");
    assert!(failure(parse_ofx("s.ofx", bad_date.as_bytes()))
        .0
        .contains("line 7, column 1: \"20241301\" is not a date"));

    let bad_currency = ofx("<STMTTRN><DTPOSTED>20240101<TRNAMT>1<CURRENCY><CURSYM>XXY</CURRENCY></STMTTRN>");
    assert!(failure(parse_ofx("s.ofx", bad_currency.as_bytes())).0.contains("\"XXY\" is not a currency code"));

    let (text, line, _) = failure(parse_ofx("s.ofx", ofx("").as_bytes()));
    assert_eq!(
        (text.as_str(), line),
        ("s.ofx: the file has no transactions (no STMTTRN in a bank or credit-card statement)", 0)
    );

    assert!(failure(parse_ofx("s.ofx", b"Date,Amount\n")).0.contains("not an OFX file"));

    let refused = "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR<MESSAGE>Signon invalid\
                   </STATUS></SONRS></SIGNONMSGSRSV1></OFX>";
    assert_eq!(
        failure(parse_ofx("s.ofx", refused.as_bytes())).0,
        "s.ofx: the file has no transactions: the bank reported an error (code 15500): Signon invalid"
    );
}

#[test]
fn ofx_with_two_accounts_is_refused() {
    let statement = |account: &str| {
        format!(
            "<STMTRS><CURDEF>EUR<BANKACCTFROM><ACCTID>{account}</BANKACCTFROM><BANKTRANLIST>\
             <STMTTRN><DTPOSTED>20240101<TRNAMT>-1<FITID>1</STMTTRN></BANKTRANLIST></STMTRS>"
        )
    };
    let same = format!("<OFX>{}{}</OFX>", statement("111"), statement("111"));
    assert_eq!(parse_ofx("x.ofx", same.as_bytes()).unwrap().rows.len(), 2);
    let two = format!("<OFX>{}{}</OFX>", statement("111"), statement("222"));
    assert!(failure(parse_ofx("x.ofx", two.as_bytes())).0.contains("more than one account (111 and 222)"));
}

// ---- QIF ----

#[test]
fn us_quicken_qif() {
    let bytes = sample("us_quicken.qif");
    assert_eq!(detect_format("export.txt", &bytes), Some(FileFormat::Qif));
    let parsed = parse_qif("quicken.qif", &bytes, DateOrder::Auto).unwrap();
    assert_eq!(parsed.format, FileFormat::Qif);
    assert_eq!((parsed.currency, parsed.account.as_deref()), (None, None));
    assert_eq!(parsed.rows.len(), 5);
    assert_eq!(total(&parsed), dec("637.87"));
    assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 11, 17, 24, 29]);
    let rent = &parsed.rows[0];
    assert_eq!((rent.date, rent.amount), (day(2024, 1, 2), dec("-1234.56")));
    assert_eq!((rent.description.as_str(), rent.notes.as_str()), ("Landlord Properties LLC", "January rent"));
    assert_eq!(rent.category.as_deref(), Some("Housing:Rent"));
    assert_eq!(rent.bank_id, None, "a check number is no id");
    assert_eq!(parsed.rows[1].date, day(2024, 1, 15));
    assert_eq!(parsed.rows[3].category, None, "a transfer");
    assert_eq!(parsed.rows[4].category.as_deref(), Some("Groceries"), "the class is dropped");
}

#[test]
fn european_qif_in_windows_1252() {
    let parsed = parse_qif("konto.qif", &sample("european.qif"), DateOrder::Auto).unwrap();
    assert_eq!(parsed.rows.len(), 4);
    assert_eq!(total(&parsed), dec("1562.04"));
    assert_eq!(parsed.rows[0].date, day(2024, 2, 1), "dotted dates are day first");
    assert_eq!(parsed.rows[0].amount, dec("-1234.56"));
    assert_eq!(parsed.rows[0].description, "Wohnungsbaugesellschaft Süd");
    assert_eq!(parsed.rows[3].notes, "Taschenbuch \"Grüße\"");
    assert_eq!(parsed.rows[3].date, day(2024, 2, 12));
    let month_first = parse_qif("konto.qif", &sample("european.qif"), DateOrder::Mdy).unwrap();
    assert_eq!(month_first.rows[0].date, day(2024, 1, 2), "the caller's order wins");
}

#[test]
fn qif_splits_use_the_record_total() {
    let parsed = parse_qif("card.qif", &sample("splits.qif"), DateOrder::Auto).unwrap();
    assert_eq!(parsed.rows.len(), 3);
    assert_eq!(total(&parsed), dec("90.00"));
    assert_eq!((parsed.rows[0].date, parsed.rows[0].amount), (day(2024, 3, 2), dec("-150.00")));
    assert_eq!(parsed.rows[0].category.as_deref(), Some("Groceries"));
    assert_eq!(parsed.rows[0].notes, "Monthly shopping");
    assert_eq!(parsed.rows[1].category, None);
    assert_eq!(parsed.rows[2].category, None);
}

#[test]
fn qif_account_block_and_missing_final_caret() {
    let parsed = parse_qif("checking.qif", &sample("account_block.qif"), DateOrder::Auto).unwrap();
    assert_eq!(parsed.account.as_deref(), Some("Checking"));
    assert_eq!(parsed.rows.len(), 3);
    assert_eq!(total(&parsed), dec("730.01"));
    let last = &parsed.rows[2];
    assert_eq!((last.line, last.date, last.description.as_str()), (24, day(2024, 1, 5), "Utility Co"));
    assert_eq!(last.category.as_deref(), Some("Utilities"));
}

#[test]
fn qif_problems_are_named() {
    let (text, _, _) = failure(parse_qif("bad_no_date.qif", &sample("bad_no_date.qif"), DateOrder::Auto));
    assert_eq!(text, "bad_no_date.qif, line 6: the record has no date (a D line)");

    let ambiguous = b"!Type:Bank\nD01/02/2024\nT-5\n^\n";
    let (text, line, _) = failure(parse_qif("a.qif", ambiguous, DateOrder::Auto));
    assert_eq!(line, 2);
    assert!(text.contains("choose the date order"), "{text}");
    let parsed = parse_qif("a.qif", ambiguous, DateOrder::Dmy).unwrap();
    assert_eq!(parsed.rows[0].date, day(2024, 2, 1));

    let bad_date = b"!Type:Bank\nD13/45/2024\nT-5\n^\n";
    assert_eq!(
        failure(parse_qif("b.qif", bad_date, DateOrder::Mdy)).0,
        "b.qif, line 2: \"13/45/2024\" is not a date (expected MM/DD/YYYY or MM/DD'YY)"
    );
    let no_amount = b"!Type:Bank\nD01/13/2024\nPShop\n^\n";
    assert_eq!(
        failure(parse_qif("c.qif", no_amount, DateOrder::Auto)).0,
        "c.qif, line 2: the record has no amount (a T line)"
    );
    let bad_amount = b"!Type:Bank\nD01/13/2024\nT12,34,5\n^\n";
    assert!(failure(parse_qif("d.qif", bad_amount, DateOrder::Auto)).0.starts_with("d.qif, line 3: \"12,34,5\""));
    let investments = b"!Type:Invst\nD01/13/2024\nNBuy\n^\n";
    assert!(failure(parse_qif("e.qif", investments, DateOrder::Auto)).0.contains("investment accounts"));
    let two_accounts =
        b"!Account\nNA\n^\n!Type:Bank\nD2024-01-01\nT-1\n^\n!Account\nNB\n^\n!Type:Bank\nD2024-01-02\nT-2\n^\n";
    let (text, line, _) = failure(parse_qif("f.qif", two_accounts, DateOrder::Auto));
    assert_eq!(line, 12, "{text}");
    assert_eq!(failure(parse_qif("g.qif", b"!Type:Bank\n", DateOrder::Auto)).1, 0);
}

#[test]
fn qif_date_styles() {
    let qif = |date: &str| format!("!Type:Bank\nD{date}\nT-1\n^\n");
    for (date, order, expected) in [
        ("1/15/2024", DateOrder::Auto, day(2024, 1, 15)),
        ("01/15/24", DateOrder::Auto, day(2024, 1, 15)),
        ("1/15'24", DateOrder::Auto, day(2024, 1, 15)),
        ("1/ 5' 4", DateOrder::Mdy, day(2004, 1, 5)),
        ("12/31/99", DateOrder::Mdy, day(1999, 12, 31)),
        ("15.01.2024", DateOrder::Auto, day(2024, 1, 15)),
        ("2024-01-15", DateOrder::Auto, day(2024, 1, 15)),
        ("1-15-2024", DateOrder::Auto, day(2024, 1, 15)),
        ("24/01/15", DateOrder::Ymd, day(2024, 1, 15)),
    ] {
        let parsed = parse_qif("d.qif", qif(date).as_bytes(), order).unwrap();
        assert_eq!(parsed.rows[0].date, expected, "{date}");
    }
}

#[test]
fn formats_are_detected_by_content_then_name() {
    assert_eq!(detect_format("x.csv", &sample("bank_xml.ofx")), Some(FileFormat::Ofx));
    assert_eq!(detect_format("x.ofx", &sample("us_quicken.qif")), Some(FileFormat::Qif));
    assert_eq!(detect_format("Export.CSV", &sample("de_girokonto.csv")), Some(FileFormat::Csv));
    assert_eq!(detect_format("statement", &sample("us_checking.csv")), Some(FileFormat::Csv));
    assert_eq!(detect_format("x.qfx", b""), Some(FileFormat::Ofx));
    assert_eq!(detect_format("x.qif", b""), Some(FileFormat::Qif));
    assert_eq!(detect_format("photo.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF"), None);
    let utf16: Vec<u8> = "\u{feff}<OFX>".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(detect_format("x", &utf16), Some(FileFormat::Ofx));
}

#[test]
fn utf16_csv_is_decoded() {
    let text = "Date;Amount;Payee\n2024-01-15;-3,50;Bäcker\n";
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let sniff = sniff_csv(&le, Encoding::Auto, 0).unwrap();
    assert_eq!((sniff.encoding, sniff.delimiter), (Encoding::Utf16Le, ';'));
    let parsed = parse_csv("x.csv", &le, &sniff.mapping.unwrap()).unwrap();
    assert_eq!((parsed.rows[0].amount, parsed.rows[0].description.as_str()), (dec("-3.50"), "Bäcker"));
    let mut broken = le.clone();
    broken.extend([0x00, 0xD8, b'x', 0]);
    let mapping = CsvMapping { encoding: Encoding::Utf16Le, ..CsvMapping::default() };
    let (text, line, _) = failure(parse_csv("x.csv", &broken, &mapping));
    assert_eq!(line, 3, "{text}");
}

// ---- no panic on any input ----

const SAMPLES: [&str; 17] = [
    "de_girokonto.csv",
    "us_checking.csv",
    "uk_creditcard.csv",
    "multi_currency_bom.csv",
    "nl_tabs_crlf.csv",
    "bad_date.csv",
    "bad_amount.csv",
    "bank_sgml.ofx",
    "creditcard.ofx",
    "bank_xml.ofx",
    "quicken.qfx",
    "bad_truncated.ofx",
    "us_quicken.qif",
    "european.qif",
    "splits.qif",
    "account_block.qif",
    "bad_no_date.qif",
];

/// Every entry point on the bytes; only a panic fails.
fn run_all(bytes: &[u8]) {
    let _ = detect_format("f", bytes);
    let _ = parse_ofx("f", bytes);
    let _ = parse_qif("f", bytes, DateOrder::Auto);
    let _ = parse_qif("f", bytes, DateOrder::Ymd);
    if let Ok(sniff) = sniff_csv(bytes, Encoding::Auto, 0) {
        if let Some(mapping) = sniff.mapping {
            let _ = parse_csv("f", bytes, &mapping);
        }
    }
    let _ = sniff_csv(bytes, Encoding::Utf16Be, 1);
    let _ = parse_csv("f", bytes, &CsvMapping::default());
    let _ = parse_csv("f", bytes, &CsvMapping { encoding: Encoding::Utf8, header: false, ..CsvMapping::default() });
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"<".to_vec(),
        b">".to_vec(),
        b"</STMTTRN>".to_vec(),
        b"<STMTTRN>".to_vec(),
        b"\"".to_vec(),
        b";".to_vec(),
        b"\n^\n".to_vec(),
        b"\r".to_vec(),
        b"&#x".to_vec(),
        b"\xff\xfe".to_vec(),
        b"\xc3".to_vec(),
        b"-".to_vec(),
        b"'".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        (any::<usize>(), prop_oneof![interesting, prop::collection::vec(any::<u8>(), 1..8)])
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete(at, len)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(at, byte) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = *byte;
                }
            }
            Mutation::Insert(at, insert) => {
                let at = at % len.min(bytes.len() + 1);
                bytes.splice(at..at, insert.iter().copied());
            }
            Mutation::Delete(at, count) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    let end = (at + count).min(bytes.len());
                    bytes.drain(at..end);
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
            Mutation::Duplicate(at, count) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    let end = (at + count).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(end..end, copy);
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        run_all(&bytes);
    }

    #[test]
    fn mangled_samples_never_panic(
        which in 0..SAMPLES.len(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let bytes = mutate(sample(SAMPLES[which]), &mutations);
        run_all(&bytes);
    }

    #[test]
    fn random_text_of_the_formats_alphabet_never_panics(
        text in "(<[A-Za-z/]{0,10}>?|[0-9.,;'\\-/ ]{0,8}|\n|\\^|![A-Za-z:]{0,10}|[DTPLMNS]|&[a-z#0-9]{0,5};?|\"){0,80}",
    ) {
        run_all(text.as_bytes());
    }

    #[test]
    fn written_amounts_read_back(cents in -100_000_000_000i64..100_000_000_000i64, style in 0..4usize) {
        let value = Decimal::new(cents, 2);
        if cents != 0 {
            let plain = value.abs().to_string();
            let (whole, fraction) = plain.split_once('.').unwrap();
            let mut grouped = String::new();
            for (i, digit) in whole.chars().enumerate() {
                if i > 0 && (whole.len() - i) % 3 == 0 {
                    grouped.push(match style { 0 => ',', 1 => '.', 2 => ' ', _ => '\'' });
                }
                grouped.push(digit);
            }
            let decimal = if style == 1 || style == 2 { ',' } else { '.' };
            let text = format!("{}{grouped}{decimal}{fraction}", if cents < 0 { "-" } else { "" });
            prop_assert_eq!(parse_amount(&text, decimal), Ok(value), "{}", text);
        }
    }
}
