//! Shared helpers: deterministic time, actors and inputs.

use chrono::{DateTime, Duration, TimeZone, Utc};
use expenso_core::{ActorId, Currency, Kind, NewTransaction, Store};
use uuid::Uuid;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub fn actor(n: u8) -> ActorId {
    ActorId::from(&[n; 16][..])
}

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn eur() -> Currency {
    Currency::from_code("EUR").unwrap()
}

pub fn memory_store(n: u8) -> Store {
    Store::create_in_memory(actor(n), eur(), t0()).unwrap()
}

pub fn expense(amount: &str, date: &str, category: &str) -> NewTransaction {
    NewTransaction {
        kind: Some(Kind::Expense),
        amount: amount.into(),
        date: date.into(),
        category: category.into(),
        description: format!("{category} {amount}"),
        ..NewTransaction::default()
    }
}

pub fn income(amount: &str, date: &str, category: &str) -> NewTransaction {
    NewTransaction { kind: Some(Kind::Income), ..expense(amount, date, category) }
}

/// Sends every change `from` has to `to`.
pub fn sync(from: &mut Store, to: &mut Store) {
    let changes = from.changes_since(&[]).unwrap();
    to.apply_changes(&changes).unwrap();
}

/// Both directions.
pub fn sync_both(a: &mut Store, b: &mut Store) {
    sync(a, b);
    sync(b, a);
}
