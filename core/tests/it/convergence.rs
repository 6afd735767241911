//! Property: any interleaving of random operations on 2–3 replicas, merged in any order,
//! converges to the same document and the same view, and each view equals its document.

use expenso_core::rates::EcbDay;
use expenso_core::{
    CategoryPatch, Currency, Decimal, Kind, NewCategory, NewRate, NewTransaction, Store, TransactionPatch,
};
use proptest::prelude::*;

use crate::support::*;

#[derive(Debug, Clone)]
pub enum Op {
    Add {
        replica: usize,
        slot: u8,
        cents: u32,
        day: u8,
    },
    EditAmount {
        replica: usize,
        slot: u8,
        cents: u32,
    },
    EditDescription {
        replica: usize,
        slot: u8,
        word: u8,
    },
    EditDate {
        replica: usize,
        slot: u8,
        day: u8,
    },
    /// Turns the transaction into an income (filed under Salary) or back.
    EditKind {
        replica: usize,
        slot: u8,
        income: bool,
    },
    Delete {
        replica: usize,
        slot: u8,
    },
    AddCategory {
        replica: usize,
        slot: u8,
    },
    RenameCategory {
        replica: usize,
        slot: u8,
        word: u8,
    },
    DeleteCategory {
        replica: usize,
        slot: u8,
        into_builtin: bool,
    },
    /// A manual rate USD → EUR on a day of January.
    SetRate {
        replica: usize,
        day: u8,
        milli: u16,
    },
    DeleteRate {
        replica: usize,
        day: u8,
    },
    /// A day of ECB rates (dollars per euro).
    EcbDay {
        replica: usize,
        day: u8,
        milli: u16,
    },
    SetBase {
        replica: usize,
        usd: bool,
    },
    Sync {
        from: usize,
        to: usize,
    },
}

fn op(replicas: usize) -> impl Strategy<Value = Op> {
    let r = 0..replicas;
    prop_oneof![
        3 => (r.clone(), 0u8..8, 1u32..100_000, 1u8..28).prop_map(|(replica, slot, cents, day)| Op::Add { replica, slot, cents, day }),
        2 => (r.clone(), 0u8..8, 1u32..100_000).prop_map(|(replica, slot, cents)| Op::EditAmount { replica, slot, cents }),
        1 => (r.clone(), 0u8..8, 0u8..4).prop_map(|(replica, slot, word)| Op::EditDescription { replica, slot, word }),
        1 => (r.clone(), 0u8..8, 1u8..28).prop_map(|(replica, slot, day)| Op::EditDate { replica, slot, day }),
        1 => (r.clone(), 0u8..8, any::<bool>()).prop_map(|(replica, slot, income)| Op::EditKind { replica, slot, income }),
        1 => (r.clone(), 0u8..8).prop_map(|(replica, slot)| Op::Delete { replica, slot }),
        1 => (r.clone(), 0u8..3).prop_map(|(replica, slot)| Op::AddCategory { replica, slot }),
        1 => (r.clone(), 0u8..3, 0u8..4).prop_map(|(replica, slot, word)| Op::RenameCategory { replica, slot, word }),
        1 => (r.clone(), 0u8..3, any::<bool>()).prop_map(|(replica, slot, into_builtin)| Op::DeleteCategory { replica, slot, into_builtin }),
        1 => (r.clone(), 1u8..28, 1u16..2_000).prop_map(|(replica, day, milli)| Op::SetRate { replica, day, milli }),
        1 => (r.clone(), 1u8..28).prop_map(|(replica, day)| Op::DeleteRate { replica, day }),
        1 => (r.clone(), 1u8..28, 1u16..2_000).prop_map(|(replica, day, milli)| Op::EcbDay { replica, day, milli }),
        1 => (r.clone(), any::<bool>()).prop_map(|(replica, usd)| Op::SetBase { replica, usd }),
        2 => (r.clone(), r).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

const WORDS: [&str; 4] = ["rent", "coffee", "train", "books"];

fn category_id(slot: u8) -> uuid::Uuid {
    id(1_000 + u128::from(slot))
}

/// Applies one operation. Operations that do not apply on that replica (editing a
/// transaction it has not seen) fail with an error, never a panic; errors are ignored.
pub fn run(stores: &mut [Store], op: &Op, step: i64) {
    let now = at(step);
    let _ = match *op {
        Op::Add { replica, slot, cents, day } => {
            // Custom categories take part when the replica knows them.
            let category = if slot % 2 == 0
                && stores[replica]
                    .category(category_id(slot % 3))
                    .ok()
                    .flatten()
                    .is_some_and(|c| !c.deleted && !c.archived)
            {
                category_id(slot % 3).to_string()
            } else {
                "groceries".to_string()
            };
            let input = NewTransaction {
                kind: Some(Kind::Expense),
                amount: format!("{}.{:02}", cents / 100, cents % 100),
                date: format!("2026-01-{day:02}"),
                category,
                description: "start".into(),
                // Some in dollars, which convert only once a rate exists.
                currency: (cents % 3 == 0).then(|| "USD".to_string()),
                ..NewTransaction::default()
            };
            stores[replica].add_transaction(&input, id(u128::from(slot)), now).map(drop)
        }
        Op::EditAmount { replica, slot, cents } => {
            let patch =
                TransactionPatch { amount: Some(format!("{}.{:02}", cents / 100, cents % 100)), ..Default::default() };
            stores[replica].edit_transaction(id(u128::from(slot)), &patch, now).map(drop)
        }
        Op::EditDescription { replica, slot, word } => {
            let patch = TransactionPatch { description: Some(WORDS[word as usize].into()), ..Default::default() };
            stores[replica].edit_transaction(id(u128::from(slot)), &patch, now).map(drop)
        }
        Op::EditDate { replica, slot, day } => {
            let patch = TransactionPatch { date: Some(format!("2026-02-{day:02}")), ..Default::default() };
            stores[replica].edit_transaction(id(u128::from(slot)), &patch, now).map(drop)
        }
        Op::EditKind { replica, slot, income } => {
            let (kind, category) = if income { (Kind::Income, "salary") } else { (Kind::Expense, "groceries") };
            let patch = TransactionPatch { kind: Some(kind), category: Some(category.into()), ..Default::default() };
            stores[replica].edit_transaction(id(u128::from(slot)), &patch, now).map(drop)
        }
        Op::Delete { replica, slot } => stores[replica].delete_transaction(id(u128::from(slot)), now).map(drop),
        Op::AddCategory { replica, slot } => {
            let input = NewCategory {
                name: format!("Custom {slot} by {replica}"),
                kind: Some(Kind::Expense),
                ..Default::default()
            };
            stores[replica].add_category(&input, category_id(slot), now).map(drop)
        }
        Op::RenameCategory { replica, slot, word } => {
            let patch = CategoryPatch { name: Some(format!("{} {slot}", WORDS[word as usize])), ..Default::default() };
            stores[replica].edit_category(category_id(slot), &patch, now).map(drop)
        }
        Op::DeleteCategory { replica, slot, into_builtin } => {
            let target = if into_builtin {
                stores[replica].find_category(Some(Kind::Expense), "travel").ok().map(|c| c.id)
            } else {
                Some(category_id((slot + 1) % 3))
            };
            stores[replica].delete_category(category_id(slot), target, now).map(drop)
        }
        Op::SetRate { replica, day, milli } => {
            let input = NewRate {
                from: "USD".into(),
                to: Some("EUR".into()),
                date: format!("2026-01-{day:02}"),
                rate: format!("0.{milli:03}"),
            };
            stores[replica].set_rate(&input, now).map(drop)
        }
        Op::DeleteRate { replica, day } => {
            let (usd, eur) = (Currency::from_code("USD").unwrap(), eur());
            let date = chrono::NaiveDate::from_ymd_opt(2026, 1, u32::from(day)).unwrap();
            stores[replica].delete_rate(usd, eur, date, now)
        }
        Op::EcbDay { replica, day, milli } => {
            let day = EcbDay {
                date: chrono::NaiveDate::from_ymd_opt(2026, 1, u32::from(day)).unwrap(),
                rates: vec![(Currency::from_code("USD").unwrap(), Decimal::new(1_000 + i64::from(milli), 3))],
            };
            stores[replica].add_ecb_rates(&[day], now).map(drop)
        }
        Op::SetBase { replica, usd } => stores[replica].set_base_currency(if usd { "USD" } else { "EUR" }, now),
        Op::Sync { from, to } if from != to => {
            let changes = stores[from].changes_since(&[]).unwrap();
            stores[to].apply_changes(&changes).map(drop)
        }
        Op::Sync { .. } => Ok(()),
    };
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>, Vec<(usize, usize)>)> {
    (2usize..=3).prop_flat_map(|n| {
        let pairs: Vec<(usize, usize)> =
            (0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b))).collect();
        (Just(n), prop::collection::vec(op(n), 1..40), Just(pairs).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge((n, ops, order) in scenario()) {
        let mut stores: Vec<Store> = (0..n).map(|i| memory_store(i as u8 + 1)).collect();
        for (step, op) in ops.iter().enumerate() {
            run(&mut stores, op, step as i64);
        }
        // Merge in the shuffled order, twice around, so every change reaches everyone.
        for _ in 0..2 {
            for &(from, to) in &order {
                let changes = stores[from].changes_since(&[]).unwrap();
                stores[to].apply_changes(&changes).unwrap();
            }
        }
        let doc0 = stores[0].document_json().unwrap();
        let view0 = stores[0].view_dump().unwrap();
        for s in stores.iter_mut() {
            prop_assert_eq!(s.verify().unwrap(), Ok(()));
            prop_assert_eq!(&s.document_json().unwrap(), &doc0);
            prop_assert_eq!(&s.view_dump().unwrap(), &view0);
        }
    }
}
