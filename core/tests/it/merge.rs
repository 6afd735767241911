//! Replicas edited independently converge, and the view follows the merged document.

use expenso_core::{CategoryPatch, Filter, Kind, NewCategory, PageRequest, Sort, Store, TransactionPatch};

use crate::support::*;

#[test]
fn two_devices_started_offline_merge_into_the_union() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    a.add_transaction(&expense("10", "2026-01-01", "groceries"), id(1), at(1)).unwrap();
    b.add_transaction(&expense("20", "2026-01-02", "transport"), id(2), at(1)).unwrap();
    b.add_transaction(&income("100", "2026-01-03", "salary"), id(3), at(2)).unwrap();
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.transaction_count().unwrap(), 3);
        assert_eq!(s.categories(true).unwrap().len(), 16, "the predefined categories are shared, not doubled");
    }
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    assert_eq!(a.document_json().unwrap(), b.document_json().unwrap());
    assert_eq!(a.verify().unwrap(), Ok(()));
}

#[test]
fn edits_of_different_fields_both_survive() {
    let mut a = memory_store(1);
    a.add_transaction(&expense("10", "2026-01-01", "groceries"), id(1), at(1)).unwrap();
    let mut b = memory_store(2);
    sync(&mut a, &mut b);
    a.edit_transaction(id(1), &TransactionPatch { amount: Some("11".into()), ..Default::default() }, at(2)).unwrap();
    b.edit_transaction(
        id(1),
        &TransactionPatch { description: Some("Farmers market".into()), ..Default::default() },
        at(3),
    )
    .unwrap();
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        let t = s.transaction(id(1)).unwrap().unwrap();
        assert_eq!((t.amount.to_string().as_str(), t.description.as_str()), ("11.00", "Farmers market"));
        assert!(t.conflicts.is_empty(), "{:?}", t.conflicts);
    }
}

#[test]
fn a_same_field_conflict_has_one_winner_everywhere_and_keeps_the_loser_visible() {
    let mut a = memory_store(1);
    a.add_transaction(&expense("10", "2026-01-01", "groceries"), id(1), at(1)).unwrap();
    let mut b = memory_store(2);
    sync(&mut a, &mut b);
    a.edit_transaction(id(1), &TransactionPatch { amount: Some("11".into()), ..Default::default() }, at(2)).unwrap();
    b.edit_transaction(id(1), &TransactionPatch { amount: Some("12".into()), ..Default::default() }, at(2)).unwrap();
    sync_both(&mut a, &mut b);
    let ta = a.transaction(id(1)).unwrap().unwrap();
    let tb = b.transaction(id(1)).unwrap().unwrap();
    assert_eq!(ta, tb);
    // The higher actor id wins a tie of concurrent edits (automerge's rule): device 2.
    assert_eq!(ta.amount.to_string(), "12.00");
    assert_eq!(ta.conflicts.get("amount").unwrap(), &vec!["11.00".to_string()]);
    // Editing the field again resolves the conflict.
    a.edit_transaction(id(1), &TransactionPatch { amount: Some("11.50".into()), ..Default::default() }, at(3)).unwrap();
    sync_both(&mut a, &mut b);
    assert!(b.transaction(id(1)).unwrap().unwrap().conflicts.is_empty());
    assert_eq!(b.transaction(id(1)).unwrap().unwrap().amount.to_string(), "11.50");
}

#[test]
fn delete_wins_over_a_concurrent_edit() {
    let mut a = memory_store(1);
    a.add_transaction(&expense("10", "2026-01-01", "groceries"), id(1), at(1)).unwrap();
    let mut b = memory_store(2);
    sync(&mut a, &mut b);
    a.delete_transaction(id(1), at(2)).unwrap();
    b.edit_transaction(id(1), &TransactionPatch { amount: Some("99".into()), ..Default::default() }, at(3)).unwrap();
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        assert!(s.transaction(id(1)).unwrap().is_none());
        assert!(s.balance(None, None).unwrap().currencies.is_empty());
        assert_eq!(s.verify().unwrap(), Ok(()));
    }
}

#[test]
fn a_transaction_booked_into_a_concurrently_deleted_category_is_not_lost() {
    let mut a = memory_store(1);
    let pets = a
        .add_category(
            &NewCategory { name: "Pets".into(), kind: Some(Kind::Expense), ..Default::default() },
            id(50),
            at(1),
        )
        .unwrap();
    let mut b = memory_store(2);
    sync(&mut a, &mut b);
    let other = a.find_category(Some(Kind::Expense), "health").unwrap();
    a.delete_category(pets.id, Some(other.id), at(2)).unwrap();
    b.add_transaction(&expense("40", "2026-01-09", "pets"), id(1), at(2)).unwrap();
    // A concurrent rename of the deleted category changes nothing visible.
    b.edit_category(pets.id, &CategoryPatch { name: Some("Animals".into()), ..Default::default() }, at(3)).unwrap();
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(
            s.transaction(id(1)).unwrap().unwrap().category_id,
            other.id,
            "it lands where the category's transactions went"
        );
        assert!(!s.categories(true).unwrap().iter().any(|c| c.id == pets.id));
        assert_eq!(s.verify().unwrap(), Ok(()));
    }
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
}

#[test]
fn duplicated_and_reordered_changes_are_harmless() {
    let mut a = memory_store(1);
    for i in 0..5 {
        a.add_transaction(&expense("1", "2026-01-01", "other"), id(i), at(i as i64)).unwrap();
    }
    a.edit_transaction(id(2), &TransactionPatch { amount: Some("7".into()), ..Default::default() }, at(9)).unwrap();
    let mut changes = a.changes_since(&[]).unwrap();
    changes.reverse();
    let mut doubled = changes.clone();
    doubled.extend(changes.iter().cloned());
    let mut b = memory_store(2);
    let outcome = b.apply_changes(&doubled).unwrap();
    assert_eq!(outcome.new_changes, changes.len() - 1, "everything but the shared genesis is new");
    assert_eq!(b.apply_changes(&changes).unwrap().new_changes, 0);
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    // Changes whose dependencies are missing wait in the store until those arrive.
    let mut c = memory_store(3);
    let last = changes[..1].to_vec();
    c.apply_changes(&last).unwrap();
    assert_eq!(c.transaction(id(2)).unwrap(), None);
    c.apply_changes(&changes[1..]).unwrap();
    assert_eq!(c.transaction(id(2)).unwrap().unwrap().amount.to_string(), "7.00");
    assert_eq!(c.verify().unwrap(), Ok(()));
}

#[test]
fn invalid_change_bytes_are_refused_and_change_nothing() {
    let mut a = memory_store(1);
    a.add_transaction(&expense("1", "2026-01-01", "other"), id(1), at(1)).unwrap();
    let good = a.changes_since(&[]).unwrap();
    let mut b = memory_store(2);
    let before = b.view_dump().unwrap();
    let mut forged = good.last().unwrap().clone();
    let n = forged.len();
    forged[n - 3] ^= 0xFF;
    for bad in [vec![0u8; 3], b"not a change".to_vec(), forged, good.last().unwrap()[..20].to_vec()] {
        let mut batch = good.clone();
        batch.push(bad);
        let err = b.apply_changes(&batch).unwrap_err();
        assert_eq!(err.code(), "bad_change", "{err}");
        assert_eq!(b.view_dump().unwrap(), before);
    }
    b.apply_changes(&good).unwrap();
    assert_eq!(b.transaction_count().unwrap(), 1);
}

#[test]
fn a_merge_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut a = memory_store(1);
    for i in 0..30 {
        a.add_transaction(&expense("2", "2026-01-01", "other"), id(i), at(i as i64)).unwrap();
    }
    {
        let mut b = expenso_core::Store::create(&path, actor(2), eur(), t0()).unwrap();
        sync(&mut a, &mut b);
        b.add_transaction(&expense("3", "2026-01-02", "other"), id(99), at(50)).unwrap();
    }
    let mut b = expenso_core::Store::open(&path).unwrap();
    assert_eq!(b.transaction_count().unwrap(), 31);
    assert_eq!(b.verify().unwrap(), Ok(()));
    sync(&mut b, &mut a);
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
}

#[test]
fn transactions_follow_chains_of_category_deletions_whatever_the_order() {
    // X is merged into D on device A while device B books T under X; then D is deleted into
    // E. T must end in E, on both devices, however the merges interleave.
    let mut a = memory_store(1);
    let mk = |s: &mut expenso_core::Store, name: &str, n: u128| {
        s.add_category(
            &NewCategory { name: name.into(), kind: Some(Kind::Expense), ..Default::default() },
            id(n),
            at(1),
        )
        .unwrap()
    };
    let (x, d, e) = (mk(&mut a, "X", 100), mk(&mut a, "D", 101), mk(&mut a, "E", 102));
    let mut b = memory_store(2);
    sync(&mut a, &mut b);
    a.delete_category(x.id, Some(d.id), at(2)).unwrap();
    b.add_transaction(&expense("7", "2026-01-09", "x"), id(1), at(2)).unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(a.transaction(id(1)).unwrap().unwrap().category_id, d.id);
    b.delete_category(d.id, Some(e.id), at(3)).unwrap();
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.transaction(id(1)).unwrap().unwrap().category_id, e.id);
        assert_eq!(s.category_usage(e.id).unwrap(), 1);
        assert_eq!(s.verify().unwrap(), Ok(()));
    }
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
}

#[test]
fn changes_claiming_to_come_from_this_device_are_refused() {
    // A copy of a ledger file on a second device writes as the same actor.
    let mut original = memory_store(1);
    let mut copy = memory_store(1);
    copy.add_transaction(&expense("1", "2026-01-01", "other"), id(1), at(1)).unwrap();
    let err = original.apply_changes(&copy.changes_since(&[]).unwrap()).unwrap_err();
    assert_eq!(err.code(), "bad_change");
    assert!(err.to_string().contains("copied"), "{err}");
    assert_eq!(original.transaction_count().unwrap(), 0);
}

#[test]
fn a_value_joining_a_conflict_it_does_not_win_shows_in_the_view() {
    let (mut a, mut b, mut c) = (memory_store(1), memory_store(3), memory_store(2));
    a.add_transaction(&expense("10.00", "2026-02-01", "groceries"), id(1), at(0)).unwrap();
    sync(&mut a, &mut b);
    sync(&mut a, &mut c);
    let amount = |v: &str| TransactionPatch { amount: Some(v.into()), ..Default::default() };
    a.edit_transaction(id(1), &amount("11.00"), at(1)).unwrap();
    b.edit_transaction(id(1), &amount("13.00"), at(2)).unwrap();
    c.edit_transaction(id(1), &amount("12.00"), at(3)).unwrap();
    // B's value wins (the highest actor); C's then joins the conflict as a loser, which
    // changes no winning value, only the conflict the record shows.
    sync(&mut b, &mut a);
    assert_eq!(a.transaction(id(1)).unwrap().unwrap().amount.to_string(), "13.00");
    sync(&mut c, &mut a);
    let t = a.transaction(id(1)).unwrap().unwrap();
    assert_eq!(t.amount.to_string(), "13.00");
    assert_eq!(t.conflicts.get("amount").map(Vec::len), Some(2), "{t:?}");
    assert_eq!(a.verify().unwrap(), Ok(()));
}

/// `n` expenses numbered from `first`, over a year of dates, some tagged, in one change.
fn book(store: &mut Store, first: u128, n: u128, seconds: i64) {
    let items: Vec<_> = (first..first + n)
        .map(|i| {
            let date = format!("2025-{:02}-{:02}", i % 12 + 1, i % 28 + 1);
            let mut t = expense(&format!("{}.{:02}", i % 90 + 1, i % 100), &date, "groceries");
            t.description = format!("import {i}");
            if i % 3 == 0 {
                t.tags = vec![format!("batch{}", i % 5)];
            }
            (id(i), t)
        })
        .collect();
    store.add_transactions(&items, at(seconds)).unwrap();
}

#[test]
fn another_devices_import_merges_into_a_larger_ledger_without_a_rebuild_and_the_view_is_exact() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    for k in 0..4 {
        book(&mut b, 1 + k * 1_000, 1_000, 1);
    }
    sync(&mut b, &mut a);
    // Two imports on A, each more operations than a rebuild threshold but fewer records than
    // half of B's ledger, with an edit and a deletion of B's records alongside the first.
    book(&mut a, 10_001, 1_800, 2);
    a.edit_transaction(id(5), &TransactionPatch { amount: Some("77.70".into()), ..Default::default() }, at(3)).unwrap();
    a.delete_transaction(id(6), at(3)).unwrap();
    sync(&mut a, &mut b);
    book(&mut a, 20_001, 1_800, 4);
    sync(&mut a, &mut b);
    assert_eq!(b.transaction_count().unwrap(), 4_000 + 3_600 - 1);
    assert_eq!(b.transaction(id(5)).unwrap().unwrap().amount.to_string(), "77.70");
    assert!(b.transaction(id(6)).unwrap().is_none());
    // Rows, tags, monthly totals and the full-text index equal a rebuild from the document.
    assert_eq!(b.verify().unwrap(), Ok(()));
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    let found = b
        .list_transactions(
            &Filter { text: Some("import 20002".into()), ..Filter::default() },
            Sort::default(),
            PageRequest { offset: 0, limit: 10 },
        )
        .unwrap();
    assert_eq!(found.items.iter().map(|t| t.id).collect::<Vec<_>>(), [id(20_002)]);
}
