//! Period reports from a real ledger: totals to the cent against sums computed here from the
//! inputs, the breakdowns, the comparison with the period before, budgets against actual, and
//! the CSV and PDF exports as a reader sees them.

use std::collections::BTreeMap;
use std::process::Command;
use std::str::FromStr;

use chrono::NaiveDate;
use expenso_core::report::{csv, pdf, Paper};
use expenso_core::{Decimal, Kind, NewBudget, NewRate, NewTransaction, Store};

use crate::support::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// (kind, amount, currency, date, category, payment method, description, tags)
type Row =
    (Kind, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static [&'static str]);

const ROWS: &[Row] = &[
    (Kind::Income, "3000.00", "EUR", "2026-01-31", "salary", "bank_transfer", "January salary", &[]),
    (Kind::Expense, "900.00", "EUR", "2026-01-02", "housing", "bank_transfer", "Rent January", &[]),
    (Kind::Expense, "42.10", "EUR", "2026-01-15", "groceries", "card", "Market", &["food"]),
    (Kind::Income, "3000.00", "EUR", "2026-02-27", "salary", "bank_transfer", "February salary", &[]),
    (Kind::Expense, "900.00", "EUR", "2026-02-02", "housing", "bank_transfer", "Rent February", &[]),
    (Kind::Expense, "61.35", "EUR", "2026-02-06", "groceries", "card", "Market, \"organic\" stall", &["food"]),
    (Kind::Expense, "120.00", "USD", "2026-02-10", "travel", "card", "Hotel Boston", &["trip", "work"]),
    (Kind::Expense, "33.33", "USD", "2026-02-11", "food & dining", "cash", "Diner\nsecond line", &["trip"]),
    (Kind::Expense, "4500", "JPY", "2026-02-12", "shopping", "card", "=cmd|' /C calc'!A0", &[]),
    (Kind::Income, "250.50", "USD", "2026-02-20", "freelance", "bank_transfer", "Logo for Café Ölmühle", &["work"]),
    (Kind::Expense, "15.00", "EUR", "2026-03-01", "food & dining", "cash", "Lunch", &[]),
];

/// 1 USD = 0.9 EUR from 2026-02-01; the yen has no rate.
const USD_RATE: &str = "0.9";

fn ledger() -> Store {
    let mut s = memory_store(1);
    for (i, &(kind, amount, currency, date, category, method, description, tags)) in ROWS.iter().enumerate() {
        let input = NewTransaction {
            kind: Some(kind),
            amount: amount.into(),
            currency: Some(currency.into()),
            date: date.into(),
            category: category.into(),
            payment_method: Some(method.into()),
            description: description.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..NewTransaction::default()
        };
        s.add_transaction(&input, id(i as u128 + 1), at(i as i64)).unwrap();
    }
    let rate = NewRate { from: "USD".into(), to: None, date: "2026-02-01".into(), rate: USD_RATE.into() };
    s.set_rate(&rate, at(20)).unwrap();
    let groceries = NewBudget { category: Some("groceries".into()), amount: "50".into(), ..NewBudget::default() };
    s.add_budget(&groceries, id(100), d("2026-01-10"), at(21)).unwrap();
    s
}

/// Income and expenses of February in EUR, computed here: each amount converted and rounded
/// to the cent on its own, then summed; the yen left out.
fn expected_february() -> (Decimal, Decimal, BTreeMap<&'static str, Decimal>) {
    let (mut income, mut expense) = (Decimal::ZERO, Decimal::ZERO);
    let mut by_method = BTreeMap::new();
    for &(kind, amount, currency, date, _, method, ..) in ROWS {
        if !date.starts_with("2026-02") || currency == "JPY" {
            continue;
        }
        let value = if currency == "USD" { (dec(amount) * dec(USD_RATE)).round_dp(2) } else { dec(amount) };
        match kind {
            Kind::Income => income += value,
            Kind::Expense => {
                expense += value;
                *by_method.entry(method).or_insert(Decimal::ZERO) += value;
            }
        }
    }
    (income, expense, by_method)
}

#[test]
fn a_months_report_is_exact_and_complete() {
    let s = ledger();
    let r = s.report(d("2026-02-01"), d("2026-02-28"), at(30)).unwrap();
    let (income, expense, by_method) = expected_february();
    assert_eq!((r.summary.income, r.summary.expense), (income, expense));
    assert_eq!((r.summary.income.to_string(), r.summary.expense.to_string()), ("3225.45".into(), "1099.35".into()));
    assert_eq!(r.summary.net, income - expense);
    assert_eq!(r.period.label, "February 2026");
    assert_eq!(r.base_currency.code(), "EUR");
    // The dashboard's balance for the same days says the same.
    let balance = s.balance(Some(d("2026-02-01")), Some(d("2026-02-28"))).unwrap();
    assert_eq!((balance.base.income, balance.base.expense), (r.summary.income, r.summary.expense));

    // January before it: 3000 in, 942.10 out.
    assert_eq!(r.previous.period.label, "January 2026");
    assert_eq!((r.previous.summary.income, r.previous.summary.expense), (dec("3000.00"), dec("942.10")));
    // (1099.35 − 942.10) / 942.10 = 16.69…%
    assert_eq!(r.previous.expense_change, Some(dec("16.7")));

    // The yen has no rate: listed, not counted.
    assert_eq!(r.unconverted.len(), 1);
    assert_eq!((r.unconverted[0].currency.code(), r.unconverted[0].expense), ("JPY", dec("4500")));

    let expenses: Vec<(&str, String, String)> = r
        .categories
        .iter()
        .filter(|l| l.kind == Kind::Expense)
        .map(|l| (l.name.as_str(), l.total.to_string(), l.percent.to_string()))
        .collect();
    assert_eq!(
        expenses,
        [
            ("Housing", "900.00".into(), "81.9".into()),
            ("Travel", "108.00".into(), "9.8".into()),
            ("Groceries", "61.35".into(), "5.6".into()),
            ("Food & dining", "30.00".into(), "2.7".into()),
        ]
    );
    let methods: BTreeMap<String, Decimal> = r
        .payment_methods
        .iter()
        .filter(|l| l.kind == Kind::Expense)
        .map(|l| (l.name.to_lowercase(), l.total))
        .collect();
    assert_eq!(methods["bank transfer"], by_method["bank_transfer"]);
    assert_eq!(methods["card"], by_method["card"]);
    assert_eq!(methods["cash"], by_method["cash"]);
    let trip = r.tags.iter().find(|l| l.name == "#trip" && l.kind == Kind::Expense).unwrap();
    assert_eq!((trip.total, trip.count), (dec("138.00"), 2));
    assert_eq!(r.months.len(), 1);
    assert_eq!((r.months[0].income, r.months[0].expense), (income, expense));

    // The groceries budget: 61.35 of 50 in February.
    let b = r.budgets.iter().find(|b| b.from == d("2026-02-01")).unwrap();
    assert_eq!((b.limit, b.actual, b.remaining, b.percent), (dec("50.00"), dec("61.35"), dec("-11.35"), dec("122.7")));

    assert_eq!(r.transactions.len(), 7);
    assert!(r.transactions.windows(2).all(|w| w[0].date <= w[1].date), "oldest first");
    let hotel = r.transactions.iter().find(|t| t.description == "Hotel Boston").unwrap();
    assert_eq!((hotel.converted, hotel.rate), (Some(dec("108.00")), Some(dec("0.9"))));
}

#[test]
fn a_quarter_compares_with_the_quarter_before_and_bad_periods_are_refused() {
    let s = ledger();
    let r = s.report(d("2026-01-01"), d("2026-03-31"), at(30)).unwrap();
    assert_eq!(r.period.label, "Q1 2026");
    assert_eq!((r.previous.period.from, r.previous.period.to), (d("2025-10-01"), d("2025-12-31")));
    assert_eq!(r.previous.income_change, None, "nothing before: no percentage");
    assert_eq!(r.months.iter().map(|m| m.month.to_string()).collect::<Vec<_>>(), ["2026-01", "2026-02", "2026-03"]);
    assert_eq!(r.months[2].expense, dec("15.00"));
    let sum: Decimal = r.months.iter().map(|m| m.net).sum();
    assert_eq!(sum, r.summary.net);
    for (from, to, field) in
        [("2026-03-01", "2026-02-01", "from"), ("1800-01-01", "2026-01-01", "from"), ("2000-01-01", "2026-01-01", "to")]
    {
        let err = s.report(d(from), d(to), at(30)).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{field}: ")), "{err}");
    }
}

#[test]
fn the_csv_has_one_row_per_transaction_and_sums_to_the_report() {
    let s = ledger();
    let r = s.report(d("2026-02-01"), d("2026-02-28"), at(30)).unwrap();
    let bytes = csv::to_bytes(&r);
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "a byte-order mark for spreadsheets");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("\r\n") && !text.replace("\r\n", "").contains("\r"), "CRLF line ends");
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            "Date",
            "Kind",
            "Description",
            "Category",
            "Payment method",
            "Tags",
            "Notes",
            "Amount",
            "Currency",
            "Amount in EUR",
            "Rate",
            "Id"
        ]
    );
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.transactions.len());
    let (mut income, mut expense) = (Decimal::ZERO, Decimal::ZERO);
    for row in &rows {
        if row[9].is_empty() {
            assert_eq!(&row[8], "JPY", "only the yen lacks a converted amount");
            continue;
        }
        match &row[1] {
            "income" => income += dec(&row[9]),
            _ => expense += dec(&row[9]),
        }
    }
    assert_eq!((income, expense), (r.summary.income, r.summary.expense));
    // Quotes, commas and line breaks survive; a formula stays text.
    let descriptions: Vec<&str> = rows.iter().map(|r| r.get(2).unwrap()).collect();
    assert!(descriptions.contains(&"Market, \"organic\" stall"));
    assert!(descriptions.contains(&"Diner\nsecond line"));
    assert!(descriptions.contains(&"'=cmd|' /C calc'!A0"));
    assert!(descriptions.contains(&"Logo for Café Ölmühle"));
    let hotel = rows.iter().find(|r| &r[2] == "Hotel Boston").unwrap();
    assert_eq!(
        (&hotel[5], &hotel[7], &hotel[8], &hotel[9], &hotel[10]),
        ("trip; work", "120.00", "USD", "108.00", "0.9")
    );
}

/// Runs a poppler tool on a file; a missing tool fails the test with how to install it.
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} is needed to check the PDF ({e}): install poppler-utils (apt-get install -y poppler-utils)")
    });
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_pdf_reads_back_with_the_reports_figures() {
    let s = ledger();
    let r = s.report(d("2026-02-01"), d("2026-02-28"), at(30)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for paper in [Paper::A4, Paper::Letter] {
        let path = dir.path().join(format!("report-{paper:?}.pdf"));
        std::fs::write(&path, pdf::render(&r, paper)).unwrap();
        let text = poppler("pdftotext", &["-layout", path.to_str().unwrap(), "-"]);
        for needle in [
            "Income and expenses",
            "February 2026",
            "3,225.45",
            "1,099.35",
            "2,126.10",
            "January 2026",
            "Hotel Boston",
            "Logo for Café Ölmühle",
            "JPY",
            "no rate",
            "Page 1 of",
        ] {
            assert!(text.contains(needle), "{paper:?}: {needle:?} is missing from:\n{text}");
        }
        let info = poppler("pdfinfo", &[path.to_str().unwrap()]);
        let size = if paper == Paper::A4 { "595" } else { "612" };
        assert!(info.lines().any(|l| l.starts_with("Page size:") && l.contains(size)), "{info}");
    }
    // A picture of the first page, to look at (target/report-page.png).
    let png = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/report-page");
    let pdf = dir.path().join("report-A4.pdf");
    poppler(
        "pdftoppm",
        &["-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", pdf.to_str().unwrap(), png.to_str().unwrap()],
    );
}
