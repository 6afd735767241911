//! The local store: writes, validation, categories, persistence and damaged files.

use expenso_core::{
    CategoryPatch, Error, Filter, Kind, NewCategory, NewTransaction, PageRequest, Sort, Store, TransactionPatch,
};

use crate::support::*;

#[test]
fn adds_edits_deletes_and_restores_a_transaction() {
    let mut s = memory_store(1);
    let t = s.add_transaction(&expense("12.5", "2026-02-14", "groceries"), id(1), at(1)).unwrap();
    assert_eq!(t.amount.to_string(), "12.50");
    assert_eq!(t.currency.code(), "EUR", "defaults to the base currency");
    assert_eq!(s.find_category(Some(Kind::Expense), "Groceries").unwrap().id, t.category_id);

    let patch = TransactionPatch {
        amount: Some("13".into()),
        description: Some("Market".into()),
        tags: Some(vec!["Food ".into(), "weekly".into()]),
        ..Default::default()
    };
    let edited = s.edit_transaction(id(1), &patch, at(2)).unwrap();
    assert_eq!(edited.amount.to_string(), "13.00");
    assert_eq!(edited.description, "Market");
    assert_eq!(edited.tags, vec!["food", "weekly"]);
    assert_eq!(edited.created_at, at(1));
    assert_eq!(edited.updated_at, at(2));

    let deleted = s.delete_transaction(id(1), at(3)).unwrap();
    assert!(s.transaction(id(1)).unwrap().is_none());
    assert_eq!(s.balance(None, None).unwrap().currencies, vec![]);
    s.restore_transaction(&deleted, at(4)).unwrap();
    assert_eq!(s.transaction(id(1)).unwrap().unwrap(), edited);
    assert_eq!(s.verify().unwrap(), Ok(()));
}

#[test]
fn changing_the_kind_requires_a_category_of_that_kind() {
    let mut s = memory_store(1);
    s.add_transaction(&expense("10", "2026-01-01", "other"), id(1), at(1)).unwrap();
    let err = s
        .edit_transaction(id(1), &TransactionPatch { kind: Some(Kind::Income), ..Default::default() }, at(2))
        .unwrap_err();
    assert!(err.to_string().starts_with("category: "), "{err}");
    let patch = TransactionPatch { kind: Some(Kind::Income), category: Some("salary".into()), ..Default::default() };
    assert_eq!(s.edit_transaction(id(1), &patch, at(2)).unwrap().kind, Kind::Income);
}

#[test]
fn bad_input_is_rejected_naming_the_field_and_changes_nothing() {
    let mut s = memory_store(1);
    s.add_transaction(&expense("5", "2026-01-01", "food & dining"), id(1), at(1)).unwrap();
    let before = s.view_dump().unwrap();
    let long = "x".repeat(201);
    let cases: Vec<(NewTransaction, &str)> = vec![
        (expense("-5", "2026-01-01", "food & dining"), "amount"),
        (expense("0", "2026-01-01", "food & dining"), "amount"),
        (expense("ten", "2026-01-01", "food & dining"), "amount"),
        (expense("1.999", "2026-01-01", "food & dining"), "amount"),
        (NewTransaction { currency: Some("EUX".into()), ..expense("1", "2026-01-01", "food & dining") }, "currency"),
        (NewTransaction { currency: Some("JPY".into()), ..expense("1.5", "2026-01-01", "food & dining") }, "amount"),
        (expense("1", "2026-02-30", "food & dining"), "date"),
        (expense("1", "26-02-01", "food & dining"), "date"),
        (expense("1", "2026-01-01", "no such thing"), "category"),
        (expense("1", "2026-01-01", "salary"), "category"),
        (NewTransaction { description: long, ..expense("1", "2026-01-01", "other") }, "description"),
        (
            NewTransaction { payment_method: Some("crypto".into()), ..expense("1", "2026-01-01", "other") },
            "payment_method",
        ),
        (NewTransaction { tags: vec!["a,b".into()], ..expense("1", "2026-01-01", "other") }, "tags"),
        (NewTransaction { kind: None, ..expense("1", "2026-01-01", "other") }, "kind"),
    ];
    for (i, (input, field)) in cases.into_iter().enumerate() {
        let err = s.add_transaction(&input, id(100 + i as u128), at(2)).unwrap_err();
        assert_eq!(err.code(), "invalid", "{err}");
        assert!(err.to_string().starts_with(&format!("{field}: ")), "expected {field}: {err}");
    }
    let err = s
        .edit_transaction(id(1), &TransactionPatch { amount: Some("0".into()), ..Default::default() }, at(3))
        .unwrap_err();
    assert!(err.to_string().starts_with("amount: "));
    let err = s.edit_transaction(id(9), &TransactionPatch::default(), at(3)).unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(s.view_dump().unwrap(), before, "the ledger is unchanged");
    assert_eq!(s.verify().unwrap(), Ok(()));
}

#[test]
fn undo_restores_only_valid_records_and_ids_are_never_reused() {
    let mut s = memory_store(1);
    let t = s.add_transaction(&expense("5", "2026-01-01", "other"), id(1), at(1)).unwrap();
    let deleted = s.delete_transaction(id(1), at(2)).unwrap();
    let mut tampered = deleted.clone();
    tampered.amount = "5.001".parse().unwrap();
    assert!(s.restore_transaction(&tampered, at(3)).unwrap_err().to_string().starts_with("amount: "));
    tampered = deleted.clone();
    tampered.tags = vec!["a,b".into()];
    assert!(s.restore_transaction(&tampered, at(3)).unwrap_err().to_string().starts_with("tags: "));
    assert_eq!(s.restore_transaction(&deleted, at(3)).unwrap(), t);
    let again = vec![(id(1), expense("1", "2026-01-01", "other"))];
    assert!(s.add_transactions(&again, at(4)).unwrap_err().to_string().contains("already exists"));
    let twice = vec![(id(2), expense("1", "2026-01-01", "other")), (id(2), expense("2", "2026-01-01", "other"))];
    assert!(s.add_transactions(&twice, at(4)).unwrap_err().to_string().starts_with("transaction #2: id: "));
    assert_eq!(s.transaction_count().unwrap(), 1);
}

#[test]
fn a_bulk_add_is_all_or_nothing() {
    let mut s = memory_store(1);
    let items = vec![(id(1), expense("1", "2026-01-01", "other")), (id(2), expense("x", "2026-01-01", "other"))];
    let err = s.add_transactions(&items, at(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "transaction #2: amount: \"x\" is not a number (use digits and a '.' for decimals, e.g. 12.50)"
    );
    assert_eq!(s.transaction_count().unwrap(), 0);
}

#[test]
fn categories_can_be_created_renamed_recoloured_archived_and_deleted() {
    let mut s = memory_store(1);
    let pets = s
        .add_category(
            &NewCategory {
                name: "Pets".into(),
                kind: Some(Kind::Expense),
                color: Some("#FF0000".into()),
                icon: Some("🐶".into()),
            },
            id(50),
            at(1),
        )
        .unwrap();
    assert_eq!(pets.color, "#ff0000");
    let dup = s
        .add_category(
            &NewCategory { name: "pets".into(), kind: Some(Kind::Expense), ..Default::default() },
            id(51),
            at(1),
        )
        .unwrap_err();
    assert!(dup.to_string().starts_with("name: "), "{dup}");
    let bad = s
        .add_category(
            &NewCategory { name: "X".into(), kind: Some(Kind::Expense), color: Some("red".into()), icon: None },
            id(52),
            at(1),
        )
        .unwrap_err();
    assert!(bad.to_string().starts_with("color: "), "{bad}");

    let renamed = s
        .edit_category(
            pets.id,
            &CategoryPatch { name: Some("Animals".into()), color: Some("#00ff00".into()), ..Default::default() },
            at(2),
        )
        .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.color.as_str()), ("Animals", "#00ff00"));

    s.add_transaction(&expense("30", "2026-01-05", "animals"), id(1), at(3)).unwrap();
    s.add_transaction(&expense("20", "2026-01-06", "animals"), id(2), at(3)).unwrap();

    s.edit_category(pets.id, &CategoryPatch { archived: Some(true), ..Default::default() }, at(4)).unwrap();
    assert!(
        !s.categories(false).unwrap().iter().any(|c| c.id == pets.id),
        "archived categories are hidden from pickers"
    );
    let err = s.add_transaction(&expense("1", "2026-01-06", "animals"), id(3), at(4)).unwrap_err();
    assert!(err.to_string().contains("archived"), "{err}");
    assert_eq!(s.transaction(id(1)).unwrap().unwrap().category_id, pets.id, "archiving keeps the transactions");

    let in_use = s.delete_category(pets.id, None, at(5)).unwrap_err();
    assert_eq!(in_use.code(), "category_in_use");
    assert!(in_use.to_string().contains("2 transaction"), "{in_use}");
    let salary = s.find_category(Some(Kind::Income), "salary").unwrap();
    assert_eq!(s.delete_category(pets.id, Some(salary.id), at(5)).unwrap_err().code(), "invalid", "kinds must match");

    let other = s.find_category(Some(Kind::Expense), "other").unwrap();
    assert_eq!(s.delete_category(pets.id, Some(other.id), at(6)).unwrap(), 2);
    assert!(s.category(pets.id).unwrap().unwrap().deleted);
    assert_eq!(s.transaction(id(1)).unwrap().unwrap().category_id, other.id);
    assert_eq!(s.category_usage(other.id).unwrap(), 2);
    assert_eq!(s.delete_category(other.id, None, at(7)).unwrap_err().code(), "invalid", "Other is the fallback");
    assert_eq!(s.verify().unwrap(), Ok(()));
}

#[test]
fn payment_methods_and_base_currency() {
    let mut s = memory_store(1);
    let names: Vec<_> = s.payment_methods(false).unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["Bank transfer", "Card", "Cash", "Other"]);
    let paypal = s.add_payment_method("PayPal", id(70), at(1)).unwrap();
    let t = s
        .add_transaction(
            &NewTransaction { payment_method: Some("paypal".into()), ..expense("3", "2026-01-01", "other") },
            id(1),
            at(2),
        )
        .unwrap();
    assert_eq!(t.payment_method_id, paypal.id);
    let t2 = s
        .add_transaction(
            &NewTransaction { payment_method: Some("bank_transfer".into()), ..expense("3", "2026-01-01", "other") },
            id(2),
            at(2),
        )
        .unwrap();
    assert_eq!(
        s.payment_methods(true).unwrap().iter().find(|m| m.id == t2.payment_method_id).unwrap().name,
        "Bank transfer"
    );
    s.edit_payment_method(paypal.id, Some("PayPal wallet"), Some(true), at(3)).unwrap();
    assert!(!s.payment_methods(false).unwrap().iter().any(|m| m.id == paypal.id));
    s.set_base_currency("usd", at(4)).unwrap();
    assert_eq!(s.settings().unwrap().base_currency.code(), "USD");
    assert!(s.set_base_currency("ABC", at(5)).unwrap_err().to_string().starts_with("base_currency: "));
}

#[test]
fn a_ledger_file_persists_and_reads_without_loading_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let mut s = Store::create(&path, actor(1), eur(), t0()).unwrap();
        s.add_transaction(&expense("9.99", "2026-02-01", "entertainment"), id(1), at(1)).unwrap();
    }
    assert_eq!(Store::create(&path, actor(1), eur(), t0()).err().unwrap().code(), "ledger_exists");
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.actor(), &actor(1));
    let page = s.list_transactions(&Filter::default(), Sort::default(), PageRequest::default()).unwrap();
    assert_eq!(page.total, 1);
    assert!(!s.is_document_loaded(), "reads use the view only");
    s.add_transaction(&expense("1", "2026-02-02", "other"), id(2), at(2)).unwrap();
    assert!(s.is_document_loaded());
    s.compact().unwrap();
    assert_eq!(s.storage_stats().unwrap().pending_changes, 0);
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.transaction_count().unwrap(), 2);
    assert_eq!(s.verify().unwrap(), Ok(()));
}

#[test]
fn damaged_files_give_a_clear_error_and_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    {
        let mut s = Store::create(&good, actor(1), eur(), t0()).unwrap();
        for i in 0..200 {
            s.add_transaction(&expense("1", "2026-02-01", "other"), id(i), at(1)).unwrap();
        }
        s.compact().unwrap();
    }
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"this is not a ledger at all, just some text".repeat(100)),
        ("truncated-header", bytes[..10].to_vec()),
        ("truncated", bytes[..bytes.len() / 3].to_vec()),
        // Every page but the first gets its header scribbled over, so whatever is read fails.
        ("scribbled", {
            let mut b = bytes.clone();
            for page in b.chunks_mut(4096).skip(1) {
                page[..16].fill(0xAB);
            }
            b
        }),
    ];
    for (name, content) in cases {
        let path = dir.path().join(format!("{name}.db"));
        std::fs::write(&path, &content).unwrap();
        let result = Store::open(&path).and_then(|s| {
            s.list_transactions(&Filter::default(), Sort::default(), PageRequest { offset: 0, limit: 1000 })?;
            s.verify()?.map_err(|reason| Error::Corrupt { reason })?;
            Ok(())
        });
        let err = result.expect_err(name);
        assert_eq!(err.code(), "corrupt", "{name}: {err}");
        assert!(err.to_string().contains("damaged"), "{name}: {err}");
        assert_eq!(std::fs::read(&path).unwrap(), content, "{name}: the file was modified");
    }
    let sqlite_but_not_ours = dir.path().join("other.db");
    rusqlite_create_empty(&sqlite_but_not_ours);
    assert_eq!(Store::open(&sqlite_but_not_ours).err().unwrap().code(), "corrupt");
    assert_eq!(Store::open(&dir.path().join("missing.db")).err().unwrap().code(), "no_ledger");
}

#[test]
fn a_damaged_stored_change_is_reported_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let mut s = Store::create(&path, actor(1), eur(), t0()).unwrap();
        for i in 0..5 {
            s.add_transaction(&expense("1", "2026-02-01", "other"), id(i), at(1)).unwrap();
        }
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n = conn
        .execute("UPDATE doc_changes SET data = substr(data, 1, 20) WHERE seq = (SELECT max(seq) FROM doc_changes)", [])
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    let mut s = Store::open(&path).unwrap();
    let err = s.verify().unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
    assert!(err.to_string().contains("cannot be read"), "{err}");
    let write = s.add_transaction(&expense("1", "2026-02-01", "other"), id(99), at(2)).unwrap_err();
    assert_eq!(write.code(), "corrupt");
    assert_eq!(s.transaction_count().unwrap(), 5, "the view still shows what was stored");
}

#[test]
fn two_processes_writing_one_ledger_never_lose_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut app = Store::create(&path, actor(1), eur(), t0()).unwrap();
    app.add_transaction(&expense("1", "2026-02-01", "other"), id(1), at(1)).unwrap();
    // A second process (the CLI, say) opens the same file while the app keeps its document.
    let mut cli = Store::open(&path).unwrap();
    cli.add_transaction(&expense("2", "2026-02-02", "other"), id(2), at(2)).unwrap();
    cli.compact().unwrap();
    cli.add_transaction(&expense("3", "2026-02-03", "other"), id(3), at(3)).unwrap();
    // The app's next write builds on everything the CLI stored, and the app's compaction
    // keeps it.
    app.edit_transaction(id(2), &TransactionPatch { amount: Some("20".into()), ..Default::default() }, at(4)).unwrap();
    app.compact().unwrap();
    drop(cli);
    drop(app);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.verify().unwrap(), Ok(()));
    assert_eq!(s.transaction_count().unwrap(), 3);
    assert_eq!(s.transaction(id(2)).unwrap().unwrap().amount.to_string(), "20.00");
}

fn rusqlite_create_empty(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
}

#[test]
fn the_months_whose_totals_changed_are_reported_before_and_after_an_edit() {
    let mut s = memory_store(1);
    s.add_transaction(&expense("10", "2026-01-20", "groceries"), id(1), at(1)).unwrap();
    s.take_changed();
    let patch = expenso_core::TransactionPatch { date: Some("2026-02-03".into()), ..Default::default() };
    s.edit_transaction(id(1), &patch, at(2)).unwrap();
    let months: Vec<String> = s.take_changed().months.iter().map(|m| m.to_string()).collect();
    assert_eq!(months, ["2026-01", "2026-02"]);
    // A merge reports them too.
    let mut other = memory_store(2);
    sync(&mut s, &mut other);
    other.take_changed();
    s.delete_transaction(id(1), at(3)).unwrap();
    sync(&mut s, &mut other);
    let months: Vec<String> = other.take_changed().months.iter().map(|m| m.to_string()).collect();
    assert_eq!(months, ["2026-02"]);
}
