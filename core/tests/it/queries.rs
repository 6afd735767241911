//! Queries over the view: filters, sorting, paging and exact totals.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDate;
use expenso_core::sample::Workload;
use expenso_core::{Decimal, Filter, Kind, Month, NewRate, NewTransaction, PageRequest, Sort, SortBy, Store};
use proptest::prelude::*;

use crate::support::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A small ledger with known contents.
fn ledger() -> Store {
    let mut s = memory_store(1);
    let rows = [
        (expense("12.30", "2026-01-03", "groceries"), "Weekly market", vec!["food"]),
        (expense("45.00", "2026-01-15", "utilities"), "Électricité janvier", vec![]),
        (income("2500", "2026-01-31", "salary"), "January salary", vec![]),
        (expense("7.70", "2026-02-01", "groceries"), "Bakery bread", vec!["food", "weekend"]),
        (expense("120", "2026-02-20", "travel"), "Train tickets", vec!["trip"]),
        (income("2500", "2026-02-28", "salary"), "February salary", vec![]),
        (
            NewTransaction { currency: Some("USD".into()), ..expense("30", "2026-02-10", "shopping") },
            "Online order",
            vec![],
        ),
    ];
    for (i, (input, desc, tags)) in rows.into_iter().enumerate() {
        let input =
            NewTransaction { description: desc.into(), tags: tags.into_iter().map(String::from).collect(), ..input };
        s.add_transaction(&input, id(i as u128 + 1), at(i as i64)).unwrap();
    }
    s
}

fn descriptions(s: &Store, f: &Filter) -> Vec<String> {
    let page = s.list_transactions(f, Sort::default(), PageRequest { offset: 0, limit: 100 }).unwrap();
    page.items.into_iter().map(|t| t.description).collect()
}

#[test]
fn filters_select_the_right_transactions() {
    let s = ledger();
    let groceries = s.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    let card = s.find_payment_method("card").unwrap().id;
    let other = s.find_payment_method("other").unwrap().id;
    assert_eq!(
        descriptions(&s, &Filter { from: Some(d("2026-02-01")), to: Some(d("2026-02-20")), ..Default::default() }),
        ["Train tickets", "Online order", "Bakery bread"]
    );
    assert_eq!(
        descriptions(&s, &Filter { kind: Some(Kind::Income), ..Default::default() }),
        ["February salary", "January salary"]
    );
    assert_eq!(
        descriptions(&s, &Filter { categories: vec![groceries], ..Default::default() }),
        ["Bakery bread", "Weekly market"]
    );
    assert_eq!(descriptions(&s, &Filter { payment_methods: vec![card], ..Default::default() }), Vec::<String>::new());
    assert_eq!(descriptions(&s, &Filter { payment_methods: vec![other], ..Default::default() }).len(), 7);
    assert_eq!(
        descriptions(&s, &Filter { min_amount: Some(dec("30")), max_amount: Some(dec("120")), ..Default::default() }),
        ["Train tickets", "Online order", "Électricité janvier"]
    );
    assert_eq!(
        descriptions(&s, &Filter { tags: vec!["weekend".into(), "trip".into()], ..Default::default() }),
        ["Train tickets", "Bakery bread"]
    );
    assert_eq!(
        descriptions(&s, &Filter { text: Some("salar".into()), ..Default::default() }),
        ["February salary", "January salary"]
    );
    assert_eq!(
        descriptions(&s, &Filter { text: Some("electricite".into()), ..Default::default() }),
        ["Électricité janvier"],
        "diacritics fold"
    );
    assert_eq!(
        descriptions(&s, &Filter { text: Some("january salary".into()), ..Default::default() }),
        ["January salary"]
    );
    assert_eq!(
        descriptions(&s, &Filter { text: Some("\"unbalanced OR (".into()), ..Default::default() }),
        Vec::<String>::new()
    );
    let err = s
        .list_transactions(
            &Filter { from: Some(d("2026-02-02")), to: Some(d("2026-02-01")), ..Default::default() },
            Sort::default(),
            PageRequest::default(),
        )
        .unwrap_err();
    assert!(err.to_string().starts_with("from: "));
}

#[test]
fn sorting_and_paging() {
    let s = ledger();
    let by_amount = s
        .list_transactions(
            &Filter::default(),
            Sort { by: SortBy::Amount, descending: false },
            PageRequest { offset: 0, limit: 3 },
        )
        .unwrap();
    assert_eq!(by_amount.total, 7);
    let amounts: Vec<String> = by_amount.items.iter().map(|t| t.amount.to_string()).collect();
    assert_eq!(amounts, ["7.70", "12.30", "30.00"]);
    let next = s
        .list_transactions(
            &Filter::default(),
            Sort { by: SortBy::Amount, descending: false },
            PageRequest { offset: 3, limit: 3 },
        )
        .unwrap();
    assert_eq!(next.items.iter().map(|t| t.amount.to_string()).collect::<Vec<_>>(), ["45.00", "120.00", "2500.00"]);
    let by_desc = s
        .list_transactions(
            &Filter::default(),
            Sort { by: SortBy::Description, descending: false },
            PageRequest { offset: 0, limit: 2 },
        )
        .unwrap();
    assert_eq!(
        by_desc.items.iter().map(|t| t.description.as_str()).collect::<Vec<_>>(),
        ["Bakery bread", "February salary"]
    );
    assert_eq!(
        s.recent_transactions(2).unwrap().iter().map(|t| t.description.as_str()).collect::<Vec<_>>(),
        ["February salary", "Train tickets"]
    );
    assert_eq!(
        s.list_transactions(&Filter::default(), Sort::default(), PageRequest { offset: 0, limit: 0 })
            .unwrap_err()
            .code(),
        "invalid"
    );
}

#[test]
fn balance_summaries_breakdown_and_trend_are_exact() {
    let s = ledger();
    let all = s.balance(None, None).unwrap().currencies;
    assert_eq!(all.len(), 2);
    let eur_totals = &all[0];
    assert_eq!(eur_totals.currency.code(), "EUR");
    assert_eq!(
        (eur_totals.income, eur_totals.expense, eur_totals.net),
        (dec("5000.00"), dec("185.00"), dec("4815.00"))
    );
    assert_eq!(all[1].currency.code(), "USD");
    assert_eq!(all[1].expense, dec("30.00"));

    // A period with partial months at both ends.
    let mid = s.balance(Some(d("2026-01-15")), Some(d("2026-02-01"))).unwrap().currencies;
    assert_eq!((mid[0].income, mid[0].expense, mid[0].count), (dec("2500.00"), dec("52.70"), 3));

    let months = s.monthly_summaries("2025-12".parse().unwrap(), "2026-03".parse().unwrap()).unwrap();
    assert_eq!(
        months.iter().map(|m| m.month.to_string()).collect::<Vec<_>>(),
        ["2025-12", "2026-01", "2026-02", "2026-03"]
    );
    assert!(months[0].totals.is_empty() && months[3].totals.is_empty());
    assert_eq!(months[1].totals[0].net, dec("2442.70"));
    assert_eq!(months[2].totals[0].expense, dec("127.70"));

    let trend = s.trend(Month { year: 2026, month: 2 }, 12).unwrap();
    assert_eq!(trend.len(), 12);
    assert_eq!(trend[0].month.to_string(), "2025-03");
    assert_eq!(trend[11].totals[0].income, dec("2500.00"));

    let breakdown = s.category_breakdown(Some(d("2026-01-01")), Some(d("2026-02-28")), Kind::Expense).unwrap();
    let rows: Vec<(String, String, String, String)> = breakdown
        .iter()
        .map(|c| (c.currency.code().to_string(), c.name.clone(), c.total.to_string(), c.percent.to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            ("EUR".into(), "Travel".into(), "120.00".into(), "64.9".into()),
            ("EUR".into(), "Utilities".into(), "45.00".into(), "24.3".into()),
            ("EUR".into(), "Groceries".into(), "20.00".into(), "10.8".into()),
        ]
    );
    // The dollars have no rate: left out of the converted figures and listed, never zero.
    let balance = s.balance(None, None).unwrap();
    assert_eq!((balance.base.currency.code(), balance.base.expense, balance.base.count), ("EUR", dec("185.00"), 6));
    assert_eq!(balance.unconverted.len(), 1);
    let missing = &balance.unconverted[0];
    assert_eq!((missing.currency.code(), missing.count, missing.expense), ("USD", 1, dec("30.00")));
    assert_eq!(months[1].unconverted.len() + months[2].unconverted.len(), 1);
}

#[test]
fn a_rate_converts_every_figure_and_removing_it_takes_it_back() {
    let mut s = ledger();
    let rate = NewRate { from: "usd".into(), to: None, date: "2025-12-31".into(), rate: "0.9".into() };
    s.set_rate(&rate, at(10)).unwrap();
    let balance = s.balance(None, None).unwrap();
    assert_eq!((balance.base.expense, balance.base.net, balance.base.count), (dec("212.00"), dec("4788.00"), 7));
    assert!(balance.unconverted.is_empty());
    let breakdown = s.category_breakdown(Some(d("2026-01-01")), Some(d("2026-02-28")), Kind::Expense).unwrap();
    let rows: Vec<(&str, String, String)> =
        breakdown.iter().map(|c| (c.name.as_str(), c.total.to_string(), c.percent.to_string())).collect();
    assert_eq!(
        rows,
        [
            ("Travel", "120.00".into(), "56.6".into()),
            ("Utilities", "45.00".into(), "21.2".into()),
            ("Shopping", "27.00".into(), "12.7".into()),
            ("Groceries", "20.00".into(), "9.4".into()),
        ]
    );
    let shopping = s
        .list_transactions(
            &Filter { text: Some("online".into()), ..Filter::default() },
            Sort::default(),
            PageRequest::default(),
        )
        .unwrap();
    assert_eq!(shopping.items[0].base_amount, Some(dec("27.00")));
    s.verify().unwrap().unwrap();
    // The ledger's base changes to dollars: every amount converts again, through the rate's inverse.
    s.set_base_currency("USD", at(11)).unwrap();
    let balance = s.balance(None, None).unwrap();
    assert_eq!((balance.base.currency.code(), balance.base.expense), ("USD", dec("235.56")));
    s.verify().unwrap().unwrap();
    s.set_base_currency("EUR", at(12)).unwrap();
    s.delete_rate("USD".parse().unwrap(), "EUR".parse().unwrap(), d("2025-12-31"), at(13)).unwrap();
    let balance = s.balance(None, None).unwrap();
    assert_eq!((balance.base.expense, balance.unconverted.len()), (dec("185.00"), 1));
    assert_eq!(
        s.delete_rate("USD".parse().unwrap(), "EUR".parse().unwrap(), d("2025-12-31"), at(14)).unwrap_err().code(),
        "not_found"
    );
    s.verify().unwrap().unwrap();
}

#[test]
fn periods_outside_the_ledgers_years_are_empty_or_refused() {
    let s = ledger();
    assert!(s.balance(Some(d("1800-01-01")), Some(d("1899-12-31"))).unwrap().currencies.is_empty());
    assert!(s.balance(Some(d("2300-01-01")), None).unwrap().currencies.is_empty());
    assert_eq!(s.balance(Some(d("1800-01-01")), None).unwrap().currencies.len(), 2);
    assert_eq!("1899-12".parse::<Month>().unwrap_err().code(), "invalid");
    assert_eq!("+262142-12".parse::<Month>().unwrap_err().code(), "invalid");
    let far = Month { year: 262_142, month: 12 };
    assert_eq!(s.trend(far, 12).unwrap_err().code(), "invalid");
    assert_eq!(s.monthly_summaries(far, far).unwrap_err().code(), "invalid");
}

#[test]
fn totals_follow_edits_deletes_and_category_moves() {
    let mut s = ledger();
    s.edit_transaction(id(1), &expense_patch("2026-03-01"), at(20)).unwrap();
    let march = s.balance(Some(d("2026-03-01")), Some(d("2026-03-31"))).unwrap().currencies;
    assert_eq!(march[0].expense, dec("12.30"));
    s.delete_transaction(id(1), at(21)).unwrap();
    assert!(s.balance(Some(d("2026-03-01")), Some(d("2026-03-31"))).unwrap().currencies.is_empty());
    assert_eq!(s.verify().unwrap(), Ok(()));
}

fn expense_patch(date: &str) -> expenso_core::TransactionPatch {
    expenso_core::TransactionPatch { date: Some(date.into()), ..Default::default() }
}

/// Totals computed independently from the generated inputs.
fn expected(inputs: &[NewTransaction], from: NaiveDate, to: NaiveDate) -> BTreeMap<String, (Decimal, Decimal, u64)> {
    let mut out: BTreeMap<String, (Decimal, Decimal, u64)> = BTreeMap::new();
    for t in inputs {
        let date = d(&t.date);
        if date < from || date > to {
            continue;
        }
        let e = out.entry(t.currency.clone().unwrap()).or_default();
        let amount = dec(&t.amount);
        match t.kind.unwrap() {
            Kind::Income => e.0 += amount,
            Kind::Expense => e.1 += amount,
        }
        e.2 += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn balance_of_any_period_equals_an_independent_sum(seed in 0u64..1000, start in 0i64..1100, len in 0i64..400) {
        let mut s = memory_store(1);
        let end = d("2026-06-30");
        let mut w = Workload::prepare(&mut s, seed, end, t0()).unwrap();
        let inputs: Vec<_> = (0..300).map(|_| w.next_transaction()).collect();
        s.add_transactions(&inputs, t0()).unwrap();
        let from = end - chrono::Duration::days(1100) + chrono::Duration::days(start);
        let to = from + chrono::Duration::days(len);
        let plain: Vec<NewTransaction> = inputs.into_iter().map(|(_, t)| t).collect();
        let want = expected(&plain, from, to);
        let got: BTreeMap<String, (Decimal, Decimal, u64)> = s.balance(Some(from), Some(to)).unwrap().currencies
            .into_iter().map(|t| (t.currency.code().to_string(), (t.income, t.expense, t.count))).collect();
        prop_assert_eq!(got, want);
        // The monthly summaries add up to the balance of the same months.
        let months = s.monthly_summaries(Month::of(from), Month::of(to)).unwrap();
        let mut sum: BTreeMap<String, Decimal> = BTreeMap::new();
        for m in &months { for t in &m.totals { *sum.entry(t.currency.code().into()).or_default() += t.net; } }
        let whole: BTreeMap<String, Decimal> = s.balance(Some(Month::of(from).first_day()), Some(Month::of(to).last_day())).unwrap().currencies
            .into_iter().map(|t| (t.currency.code().to_string(), t.net)).collect();
        prop_assert_eq!(sum, whole);
    }
}
