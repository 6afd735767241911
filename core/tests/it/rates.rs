//! Exchange rates in the ledger: the ECB's days and manual rates sync like any record, every
//! replica converts with them identically, and a device knows which ECB file it needs.

use std::str::FromStr;

use chrono::{Duration, NaiveDate};
use expenso_core::rates::{EcbDay, EcbFeed};
use expenso_core::{Currency, Decimal, NewRate, NewTransaction};

use crate::support::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn cur(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

fn in_usd(amount: &str, date: &str) -> NewTransaction {
    NewTransaction { currency: Some("USD".into()), ..expense(amount, date, "travel") }
}

/// ECB days from `first` on, every day: USD at 1.1 + n/1000, JPY at 150 + n.
fn ecb_days(first: &str, n: i64) -> Vec<EcbDay> {
    (0..n)
        .map(|i| EcbDay {
            date: d(first) + Duration::days(i),
            rates: vec![(cur("USD"), dec("1.1") + Decimal::new(i, 3)), (cur("JPY"), Decimal::from(150 + i))],
        })
        .collect()
}

#[test]
fn ecb_rates_sync_and_every_replica_converts_alike() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    a.add_transaction(&in_usd("110.00", "2026-01-05"), id(1), at(1)).unwrap();
    b.add_transaction(&in_usd("55.50", "2026-01-10"), id(2), at(2)).unwrap();
    assert_eq!(a.balance(None, None).unwrap().unconverted[0].count, 1);
    // Only days from a week before the first foreign transaction are kept.
    assert_eq!(a.add_ecb_rates(&ecb_days("2025-12-01", 60), at(3)).unwrap(), 60 - 28);
    assert_eq!(a.add_ecb_rates(&ecb_days("2025-12-01", 60)[28..31], at(4)).unwrap(), 0, "the same days change nothing");
    sync_both(&mut a, &mut b);
    // 2026-01-05 is day 35: USD 1.135 → 110 / 1.135 = 96.916…; 2026-01-10: 55.50 / 1.140 = 48.684…
    for s in [&a, &b] {
        let balance = s.balance(None, None).unwrap();
        assert_eq!((balance.base.expense, balance.base.count), (dec("145.60"), 2));
        assert!(balance.unconverted.is_empty());
        s.verify().unwrap().unwrap();
    }
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    // A manual rate on one device wins over the ECB's on its date, on both after a sync.
    let manual = NewRate { from: "USD".into(), to: Some("EUR".into()), date: "2026-01-05".into(), rate: "0.5".into() };
    b.set_rate(&manual, at(5)).unwrap();
    sync_both(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.transaction(id(1)).unwrap().unwrap().base_amount, Some(dec("55.00")));
        assert_eq!(s.transaction(id(2)).unwrap().unwrap().base_amount, Some(dec("48.68")));
    }
    let overview = a.rates_overview().unwrap();
    assert_eq!(overview.manual.len(), 1);
    assert_eq!(overview.ecb_latest, Some(d("2026-01-29")));
    assert_eq!(overview.currencies, vec![cur("USD")]);
    assert_eq!(overview.ecb_rates.len(), 2);
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
}

#[test]
fn a_rate_arriving_later_converts_what_was_booked_offline() {
    let mut a = memory_store(1);
    let mut b = memory_store(2);
    a.add_ecb_rates(&ecb_days("2026-01-01", 10), at(1)).unwrap();
    // Nothing in another currency yet: nothing is kept.
    assert_eq!(a.rates_overview().unwrap().ecb_latest, None);
    a.add_transaction(&in_usd("10.00", "2026-01-02"), id(1), at(2)).unwrap();
    a.add_ecb_rates(&ecb_days("2026-01-01", 10), at(3)).unwrap();
    // B books in yen offline; A's rates arrive afterwards.
    b.add_transaction(
        &NewTransaction { currency: Some("JPY".into()), ..expense("1500", "2026-01-04", "travel") },
        id(2),
        at(4),
    )
    .unwrap();
    assert_eq!(b.transaction(id(2)).unwrap().unwrap().base_amount, None);
    b.take_changed();
    sync_both(&mut a, &mut b);
    // 1500 / 153 = 9.8039… → 9.80
    assert_eq!(b.transaction(id(2)).unwrap().unwrap().base_amount, Some(dec("9.80")));
    let changed = b.take_changed();
    assert!(changed.rates && changed.transactions.contains(&id(2)), "{changed:?}");
    b.verify().unwrap().unwrap();
}

#[test]
fn a_device_fetches_the_ecb_file_it_needs() {
    let today = d("2026-03-04"); // a Wednesday
    let mut s = memory_store(1);
    assert_eq!(s.ecb_feed_needed(today).unwrap(), None, "one currency needs no rates");
    s.add_transaction(&in_usd("10", "2026-02-20"), id(1), at(1)).unwrap();
    assert_eq!(s.ecb_feed_needed(today).unwrap(), Some(EcbFeed::Last90Days));
    s.add_ecb_rates(&ecb_days("2026-02-01", 31), at(2)).unwrap();
    assert_eq!(s.ecb_feed_needed(today).unwrap(), None, "rates up to yesterday are current");
    assert_eq!(s.ecb_feed_needed(d("2026-03-07")).unwrap(), Some(EcbFeed::Last90Days), "Friday's are missing");
    s.add_ecb_rates(&ecb_days("2026-03-04", 3), at(2)).unwrap();
    assert_eq!(s.ecb_feed_needed(d("2026-03-09")).unwrap(), None, "Friday's rates are the newest on a Monday");
    assert_eq!(s.ecb_feed_needed(d("2026-03-10")).unwrap(), Some(EcbFeed::Last90Days));
    // A transaction from long ago needs the whole history, once.
    s.add_transaction(&in_usd("10", "2024-05-01"), id(2), at(3)).unwrap();
    assert_eq!(s.ecb_feed_needed(today).unwrap(), Some(EcbFeed::History));
    s.add_ecb_rates(&ecb_days("2024-04-01", 700), at(4)).unwrap();
    assert_eq!(s.ecb_feed_needed(today).unwrap(), None);
    s.verify().unwrap().unwrap();
}

#[test]
fn bad_manual_rates_are_refused_naming_the_field() {
    let mut s = memory_store(1);
    for (input, expect) in [
        (
            NewRate { from: "USD".into(), to: None, date: "2026-01-01".into(), rate: "0".into() },
            "rate: must be greater",
        ),
        (NewRate { from: "EUR".into(), to: None, date: "2026-01-01".into(), rate: "1".into() }, "to: a rate converts"),
        (NewRate { from: "XXX".into(), to: None, date: "2026-01-01".into(), rate: "1".into() }, "from: "),
        (NewRate { from: "USD".into(), to: None, date: "2026-02-30".into(), rate: "1".into() }, "date: "),
        (
            NewRate { from: "USD".into(), to: None, date: "2026-02-01".into(), rate: "1,2".into() },
            "rate: \"1,2\" is not",
        ),
    ] {
        let err = s.set_rate(&input, at(1)).unwrap_err().to_string();
        assert!(err.starts_with(expect), "{err}");
    }
    assert!(s.rates_overview().unwrap().manual.is_empty());
}

#[test]
fn budgets_count_expenses_in_other_currencies_converted() {
    let mut s = memory_store(1);
    let today = d("2026-01-20");
    let budget = expenso_core::NewBudget { amount: "100".into(), ..expenso_core::NewBudget::default() };
    s.add_budget(&budget, id(100), today, at(0)).unwrap();
    s.add_transaction(&expense("40.00", "2026-01-03", "travel"), id(1), at(1)).unwrap();
    s.add_transaction(&in_usd("55.00", "2026-01-05"), id(2), at(2)).unwrap();
    let spent = |s: &expenso_core::Store| s.budget_statuses(today, today).unwrap()[0].spent;
    assert_eq!(spent(&s), dec("40.00"), "no rate yet: the dollars are not counted as anything");
    let rate = NewRate { from: "USD".into(), to: None, date: "2026-01-01".into(), rate: "0.8".into() };
    s.set_rate(&rate, at(3)).unwrap();
    assert_eq!(spent(&s), dec("84.00"));
    // Crossing 80 % with the converted dollars raises the alert.
    let run = s.run_plans(today, at(4)).unwrap();
    assert_eq!(run.alerts.len(), 1);
}
