//! Bank statements into a ledger: a preview first, then all or nothing; the same file twice
//! (or on two devices offline) adds each transaction once; likely duplicates of what was typed
//! by hand are held back; categories follow the payees seen before.

use std::path::PathBuf;
use std::str::FromStr;

use expenso_core::import::{self, CategorySource, ImportOptions};
use expenso_core::{Decimal, Filter, Kind, NewTransaction, PageRequest, Sort, Store};

use crate::support::*;

fn sample(name: &str) -> (String, Vec<u8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name);
    (name.to_string(), std::fs::read(path).unwrap())
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn import_file(s: &mut Store, name: &str, options: &ImportOptions) -> expenso_core::Result<import::ImportOutcome> {
    let (name, bytes) = sample(name);
    let file = import::read(&name, &bytes, options)?;
    s.import_statement(&name, &file, options, at(100), |_, _| {})
}

#[test]
fn a_german_bank_csv_imports_once_with_exact_totals() {
    let mut s = memory_store(1);
    let (name, bytes) = sample("de_girokonto.csv");
    let inspection = import::inspect(&name, &bytes).unwrap();
    assert_eq!(inspection.format, import::FileFormat::Csv);
    let guessed = inspection.csv.unwrap().mapping.expect("the columns are recognised");
    let options = ImportOptions { mapping: Some(guessed), ..ImportOptions::default() };
    let file = import::read(&name, &bytes, &options).unwrap();
    let preview = s.preview_import(&name, &file, &options).unwrap();
    assert_eq!((preview.new, preview.duplicates, preview.skipped), (8, 0, 1));
    assert!(s.transaction_count().unwrap() == 0, "a preview writes nothing");
    let salary = preview.rows.iter().find(|r| r.kind == Kind::Income && r.amount == dec("2850.00")).unwrap();
    assert_eq!(salary.description, "Bäckerei Schröder GmbH");

    let mut calls = Vec::new();
    let done = s.import_statement(&name, &file, &options, at(1), |d, t| calls.push((d, t))).unwrap();
    assert_eq!((done.added, done.duplicates, done.skipped), (8, 0, 1));
    assert_eq!(calls, [(0, 8), (8, 8)]);
    let b = s.balance(None, None).unwrap();
    // 2,850.00 + 19.99 in; 87.45 + 112.00 + 1,234.56 + 12.80 + 50.00 + 23.17 out.
    assert_eq!((b.base.income, b.base.expense, b.base.net), (dec("2869.99"), dec("1519.98"), dec("1350.01")));

    // The same file again adds nothing: every row is already there, exactly.
    let again = s.preview_import(&name, &file, &options).unwrap();
    assert_eq!((again.new, again.duplicates), (0, 8));
    assert!(again.rows.iter().all(|r| r.duplicate.as_ref().is_some_and(|d| d.exact)));
    let done = s.import_statement(&name, &file, &options, at(2), |_, _| {}).unwrap();
    assert_eq!(done.added, 0);
    assert_eq!(s.transaction_count().unwrap(), 8);
    s.verify().unwrap().unwrap();
}

#[test]
fn two_devices_importing_one_statement_offline_book_each_transaction_once() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    assert_eq!(import_file(&mut a, "bank_sgml.ofx", &ImportOptions::default()).unwrap().added, 5);
    assert_eq!(import_file(&mut b, "bank_sgml.ofx", &ImportOptions::default()).unwrap().added, 5);
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.transaction_count().unwrap(), 5);
        // -87.45 - 1,234.56 + 2,850.00 - 19.99 - 23.17
        assert_eq!(s.balance(None, None).unwrap().base.net, dec("1484.83"));
        s.verify().unwrap().unwrap();
    }
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
}

#[test]
fn a_transaction_typed_by_hand_is_not_imported_again_unless_asked() {
    let mut s = memory_store(1);
    // Typed on the phone a day before the bank booked it.
    let typed = NewTransaction { description: "Lidl sagt danke".into(), ..expense("23.17", "2024-03-27", "groceries") };
    s.add_transaction(&typed, id(1), at(1)).unwrap();
    let (name, bytes) = sample("bank_sgml.ofx");
    let file = import::read(&name, &bytes, &ImportOptions::default()).unwrap();
    let preview = s.preview_import(&name, &file, &ImportOptions::default()).unwrap();
    let lidl = preview.rows.iter().find(|r| r.description == "Lidl sagt Danke").unwrap();
    let dup = lidl.duplicate.as_ref().expect("flagged as a likely duplicate");
    assert_eq!((dup.id, dup.exact, lidl.included), (id(1), false, false));
    assert_eq!((preview.new, preview.duplicates), (4, 1));
    // Groceries was the typed one's category: the same payee's row is suggested there too.
    assert_eq!(lidl.category_source, CategorySource::Payee);
    assert_eq!(lidl.category_id, s.find_category(Some(Kind::Expense), "groceries").unwrap().id);

    let with_it = ImportOptions { include_duplicates: vec![lidl.line], ..ImportOptions::default() };
    let done = s.import_statement(&name, &file, &with_it, at(2), |_, _| {}).unwrap();
    assert_eq!((done.added, done.duplicates), (5, 0));
    assert_eq!(s.transaction_count().unwrap(), 6);
}

#[test]
fn categories_come_from_the_file_the_payees_or_the_users_choice() {
    let mut s = memory_store(1);
    s.add_transaction(
        &NewTransaction { description: "REWE Markt Berlin 0815".into(), ..expense("10", "2024-01-05", "groceries") },
        id(1),
        at(1),
    )
    .unwrap();
    let (name, bytes) = sample("bank_sgml.ofx");
    let file = import::read(&name, &bytes, &ImportOptions::default()).unwrap();
    let preview = s.preview_import(&name, &file, &ImportOptions::default()).unwrap();
    let rewe = preview.rows.iter().find(|r| r.description.starts_with("REWE")).unwrap();
    assert_eq!(
        (rewe.category_source, rewe.category_id),
        (CategorySource::Payee, s.find_category(Some(Kind::Expense), "groceries").unwrap().id)
    );
    let rent = preview.rows.iter().find(|r| r.description.starts_with("Vermieter")).unwrap();
    assert_eq!(rent.category_source, CategorySource::Default);
    let chosen = ImportOptions {
        categories: [(rent.line, "Housing".to_string())].into(),
        payment_method: Some("bank transfer".into()),
        tags: vec!["imported".into()],
        ..ImportOptions::default()
    };
    let preview = s.preview_import(&name, &file, &chosen).unwrap();
    let rent = preview.rows.iter().find(|r| r.description.starts_with("Vermieter")).unwrap();
    assert_eq!(rent.category_source, CategorySource::Chosen);
    s.import_statement(&name, &file, &chosen, at(2), |_, _| {}).unwrap();
    let housing = s.find_category(Some(Kind::Expense), "housing").unwrap().id;
    let page = s
        .list_transactions(
            &Filter { categories: vec![housing], ..Filter::default() },
            Sort::default(),
            PageRequest::default(),
        )
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].tags, ["imported"]);
    assert_eq!(page.items[0].payment_method_id, s.find_payment_method("bank transfer").unwrap().id);

    // QIF categories name the ledger's own ("Groceries").
    let mut q = memory_store(2);
    let (name, bytes) = sample("us_quicken.qif");
    let file = import::read(&name, &bytes, &ImportOptions::default()).unwrap();
    let preview = q.preview_import(&name, &file, &ImportOptions::default()).unwrap();
    assert!(preview.rows.iter().any(|r| r.category_source == CategorySource::File), "{preview:#?}");
    q.import_statement(&name, &file, &ImportOptions::default(), at(3), |_, _| {}).unwrap();
    q.verify().unwrap().unwrap();
}

#[test]
fn a_bad_file_or_a_row_the_ledger_refuses_imports_nothing() {
    let mut s = memory_store(1);
    s.add_transaction(&expense("1", "2024-01-01", "other"), id(1), at(0)).unwrap();
    let heads = s.heads().unwrap();
    for name in ["bad_date.csv", "bad_amount.csv", "bad_truncated.ofx", "bad_no_date.qif"] {
        let err = import_file(&mut s, name, &ImportOptions::default()).unwrap_err();
        assert_eq!(err.code(), "bad_import", "{name}: {err}");
        assert!(err.to_string().starts_with(name), "{err}");
    }
    // Yen have no decimals: the row is refused by the ledger's rules, naming its line, and
    // none of the file's other rows is written.
    let csv = "Date,Amount,Description,Currency\n2024-03-01,-12.50,Coffee,EUR\n2024-03-02,-1500.5,Ramen,JPY\n";
    let options = ImportOptions {
        mapping: import::sniff_csv(csv.as_bytes(), import::Encoding::Auto, 0).unwrap().mapping,
        ..ImportOptions::default()
    };
    let file = import::read("tokyo.csv", csv.as_bytes(), &options).unwrap();
    let err = s.import_statement("tokyo.csv", &file, &options, at(1), |_, _| {}).unwrap_err();
    assert_eq!(err.to_string(), "tokyo.csv, line 3: amount: JPY has no decimals");
    assert_eq!(s.heads().unwrap(), heads, "the ledger is unchanged");
    // A line the file does not have is refused too.
    let options = ImportOptions { skip_lines: vec![99], ..ImportOptions::default() };
    let err = import_file(&mut s, "bank_sgml.ofx", &options).unwrap_err();
    assert!(err.to_string().starts_with("lines: "), "{err}");
}

#[test]
fn a_large_statement_is_written_in_batches_and_a_later_edit_stays_small() {
    let mut s = memory_store(1);
    let mut csv = String::from("Date;Amount;Payee\n");
    for i in 0..12_000 {
        csv.push_str(&format!(
            "2025-{:02}-{:02};-{},{:02};Shop {}\n",
            i % 12 + 1,
            i % 28 + 1,
            i % 90 + 1,
            i % 100,
            i % 37
        ));
    }
    let options = ImportOptions {
        mapping: import::sniff_csv(csv.as_bytes(), import::Encoding::Auto, 0).unwrap().mapping,
        ..ImportOptions::default()
    };
    let file = import::read("big.csv", csv.as_bytes(), &options).unwrap();
    let mut calls = 0;
    let done = s.import_statement("big.csv", &file, &options, at(1), |_, _| calls += 1).unwrap();
    assert_eq!((done.added, calls), (12_000, 4), "three changes of at most 5,000, reported after each");
    let before = s.heads().unwrap();
    let t = s.recent_transactions(1).unwrap().remove(0);
    let patch = expenso_core::TransactionPatch { description: Some("Corner shop".into()), ..Default::default() };
    s.edit_transaction(t.id, &patch, at(2)).unwrap();
    let edit = s.changes_since(&before).unwrap();
    assert_eq!(edit.len(), 1);
    assert!(edit[0].len() < 1024, "one edit after a big import is {} bytes", edit[0].len());
}
