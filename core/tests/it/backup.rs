//! The JSON backup restores a ledger exactly.

use expenso_core::rates::EcbDay;
use expenso_core::sample::Workload;
use expenso_core::{Backup, Currency, Kind, NewCategory, NewRate};

use crate::support::*;

#[test]
fn export_then_restore_into_a_new_ledger_is_exact() {
    let mut a = memory_store(1);
    let mut w = Workload::prepare(&mut a, 7, chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(), t0()).unwrap();
    w.fill(&mut a, 400, 100, at(1)).unwrap();
    let gone = a
        .add_category(
            &NewCategory { name: "Old".into(), kind: Some(Kind::Expense), ..Default::default() },
            id(9),
            at(2),
        )
        .unwrap();
    a.delete_category(gone.id, None, at(3)).unwrap();
    a.add_payment_method("Voucher", id(10), at(4)).unwrap();
    a.set_base_currency("GBP", at(5)).unwrap();
    let manual = NewRate { from: "USD".into(), to: None, date: "2026-01-10".into(), rate: "0.79".into() };
    a.set_rate(&manual, at(5)).unwrap();
    let day = |d: u32, usd: &str| EcbDay {
        date: chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap(),
        rates: vec![
            (Currency::from_code("USD").unwrap(), usd.parse().unwrap()),
            (Currency::from_code("GBP").unwrap(), "0.86".parse().unwrap()),
        ],
    };
    a.add_ecb_rates(&[day(2, "1.09"), day(5, "1.1")], at(5)).unwrap();
    let backup = a.export_backup().unwrap();
    assert_eq!((backup.rates.len(), backup.ecb_rates.len()), (1, 2));
    let json = backup.to_json();

    let mut b = memory_store(2);
    let summary = b.restore_backup(&Backup::from_json(&json).unwrap(), at(6)).unwrap();
    assert_eq!((summary.transactions, summary.rates), (400, 3));
    assert_eq!(b.export_backup().unwrap(), backup);
    assert_eq!(b.export_backup().unwrap().to_json(), json, "byte-identical round trip");
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());

    // Restoring into the ledger it came from changes nothing, not even the document.
    let before = a.view_dump().unwrap();
    let heads = a.heads().unwrap();
    a.restore_backup(&backup, at(7)).unwrap();
    assert_eq!(a.view_dump().unwrap(), before);
    assert_eq!(a.heads().unwrap(), heads, "no change was made");
    assert_eq!(b.verify().unwrap(), Ok(()));
}

#[test]
fn a_bad_backup_is_refused_and_changes_nothing() {
    let mut a = memory_store(1);
    a.add_transaction(&expense("5", "2026-01-01", "other"), id(1), at(1)).unwrap();
    let good = a.export_backup().unwrap().to_json();
    let mut b = memory_store(2);
    b.add_transaction(&expense("6", "2026-01-01", "other"), id(2), at(1)).unwrap();
    let before = b.view_dump().unwrap();
    for (bad, expect) in [
        (good[..good.len() / 2].to_string(), "EOF while parsing"),
        ("{}".to_string(), "missing field"),
        (good.replace("expenso-backup", "other-app"), "format"),
        (good.replace("\"5.00\"", "\"-5.00\""), "amount: must be greater than zero"),
        (good.replace("\"5.00\"", "\"5.001\""), "amount: EUR allows 2 decimals"),
        (good.replace("\"EUR\"", "\"XYZ\""), "unknown currency"),
        (good.replace("2026-01-01", "2026-02-30"), "input is out of range"),
        (good.replace("2026-01-01", "1066-10-14"), "date: year must be between"),
    ] {
        let err = Backup::from_json(&bad).and_then(|backup| b.restore_backup(&backup, at(2))).unwrap_err();
        assert!(err.to_string().contains(expect), "expected {expect:?} in {err}");
        assert_eq!(b.view_dump().unwrap(), before);
    }
}

#[test]
fn a_backup_cannot_delete_the_fallback_category_or_merge_into_nothing() {
    let a = memory_store(1);
    let mut backup = a.export_backup().unwrap();
    let other = backup.categories.iter().position(|c| c.name == "Other" && c.kind == Kind::Expense).unwrap();
    backup.categories[other].deleted = true;
    let mut b = memory_store(2);
    let err = b.restore_backup(&backup, at(1)).unwrap_err();
    assert!(err.to_string().starts_with(&format!("categories[{other}].deleted: ")), "{err}");
    let mut backup = a.export_backup().unwrap();
    backup.categories[0].merged_into = Some(id(12345));
    let err = b.restore_backup(&backup, at(1)).unwrap_err();
    assert!(err.to_string().starts_with("categories[0].merged_into: "), "{err}");
}
