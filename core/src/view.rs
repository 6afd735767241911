//! The materialized view: SQLite rows that mirror the document, written only here.
//!
//! **Invariant:** the view is a pure function of the document. `apply` updates the records a
//! change touched, `rebuild` recomputes everything; both give the same rows.

use std::collections::HashMap;

use automerge::Automerge;
use rusqlite::{params, Connection};
use uuid::Uuid;

use crate::doc;
use crate::error::Result;
use crate::model::{Category, Kind, Transaction};
use crate::money;
use crate::store::Containers;

/// The records a change touched, by id.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    pub settings: bool,
    pub categories: Vec<Uuid>,
    pub payment_methods: Vec<Uuid>,
    pub transactions: Vec<Uuid>,
}

pub(crate) fn apply(sql: &Connection, d: &Automerge, c: &Containers, t: &Touched) -> Result<()> {
    if t.settings {
        write_settings(sql, d)?;
    }
    let mut tombstones_changed = false;
    for &id in &t.categories {
        match doc::read_category(d, &c.categories, id) {
            Some(cat) => {
                tombstones_changed |= cat.deleted;
                upsert_category(sql, &cat)?;
            }
            None => {
                sql.execute("DELETE FROM categories WHERE id = ?1", [id.as_bytes()])?;
            }
        }
    }
    for &id in &t.payment_methods {
        match doc::read_payment_method(d, &c.payment_methods, id) {
            Some(m) => {
                sql.execute(
                    "INSERT OR REPLACE INTO payment_methods (id, name, archived) VALUES (?1, ?2, ?3)",
                    params![m.id.as_bytes(), m.name, m.archived],
                )?;
            }
            None => {
                sql.execute("DELETE FROM payment_methods WHERE id = ?1", [id.as_bytes()])?;
            }
        }
    }
    let resolver = Resolver::load(sql)?;
    if tombstones_changed || !t.categories.is_empty() {
        resolver.reresolve(sql)?;
    }
    for &id in &t.transactions {
        match doc::read_transaction(d, &c.transactions, id) {
            Some(tx) => upsert_transaction(sql, &resolver, &tx, true)?,
            None => {
                sql.execute("DELETE FROM transactions WHERE id = ?1", [id.as_bytes()])?;
            }
        }
    }
    Ok(())
}

/// Recomputes the whole view from the document.
pub(crate) fn rebuild(sql: &Connection, d: &Automerge, c: &Containers) -> Result<()> {
    sql.execute_batch(
        "DELETE FROM transactions;
         DELETE FROM transaction_tags;
         DELETE FROM month_totals;
         DELETE FROM categories;
         DELETE FROM payment_methods;
         DELETE FROM settings;",
    )?;
    write_settings(sql, d)?;
    for id in doc::ids(d, &c.categories) {
        if let Some(cat) = doc::read_category(d, &c.categories, id) {
            upsert_category(sql, &cat)?;
        }
    }
    for id in doc::ids(d, &c.payment_methods) {
        if let Some(m) = doc::read_payment_method(d, &c.payment_methods, id) {
            sql.execute(
                "INSERT INTO payment_methods (id, name, archived) VALUES (?1, ?2, ?3)",
                params![m.id.as_bytes(), m.name, m.archived],
            )?;
        }
    }
    let resolver = Resolver::load(sql)?;
    for id in doc::ids(d, &c.transactions) {
        if let Some(tx) = doc::read_transaction(d, &c.transactions, id) {
            upsert_transaction(sql, &resolver, &tx, false)?;
        }
    }
    Ok(())
}

fn write_settings(sql: &Connection, d: &Automerge) -> Result<()> {
    match doc::read_base_currency(d) {
        Some(currency) => {
            sql.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('base_currency', ?1)", [currency.code()])?
        }
        None => sql.execute("DELETE FROM settings WHERE key = 'base_currency'", [])?,
    };
    Ok(())
}

fn upsert_category(sql: &Connection, c: &Category) -> Result<()> {
    sql.execute(
        "INSERT OR REPLACE INTO categories (id, name, kind, color, icon, archived, deleted, merged_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            c.id.as_bytes(),
            c.name,
            c.kind.as_i64(),
            c.color,
            c.icon,
            c.archived,
            c.deleted,
            c.merged_into.as_ref().map(|u| u.as_bytes().to_vec()),
        ],
    )?;
    Ok(())
}

fn upsert_transaction(sql: &Connection, resolver: &Resolver, t: &Transaction, existing: bool) -> Result<()> {
    let category = resolver.resolve(t.category_id, t.kind);
    let category_ref = (category != t.category_id).then(|| t.category_id.as_bytes().to_vec());
    // Validated writes never exceed four decimals; a forged value is rounded, not dropped.
    let amount = money::to_units(t.amount)
        .unwrap_or_else(|| money::to_units(t.amount.round_dp(money::AMOUNT_SCALE)).unwrap_or(0));
    let conflicts = (!t.conflicts.is_empty()).then(|| serde_json::to_string(&t.conflicts).unwrap_or_default());
    let rowid: i64 = sql.query_row(
        "INSERT INTO transactions (id, kind, amount, currency, date, category_id, category_ref, payment_method,
                                   description, notes, tags, created_at, updated_at, conflicts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, amount = excluded.amount, currency = excluded.currency,
             date = excluded.date, category_id = excluded.category_id, category_ref = excluded.category_ref,
             payment_method = excluded.payment_method, description = excluded.description,
             notes = excluded.notes, tags = excluded.tags, created_at = excluded.created_at,
             updated_at = excluded.updated_at, conflicts = excluded.conflicts
         RETURNING rowid",
        params![
            t.id.as_bytes(),
            t.kind.as_i64(),
            amount,
            t.currency.code(),
            date_key(t.date),
            category.as_bytes(),
            category_ref,
            t.payment_method_id.as_bytes(),
            t.description,
            (!t.notes.is_empty()).then_some(&t.notes),
            (!t.tags.is_empty()).then(|| t.tags.join(",")),
            t.created_at.timestamp_millis(),
            t.updated_at.timestamp_millis(),
            conflicts,
        ],
        |r| r.get(0),
    )?;
    if existing {
        sql.execute("DELETE FROM transaction_tags WHERE tx_rowid = ?1", [rowid])?;
    }
    for tag in &t.tags {
        sql.execute(
            "INSERT OR IGNORE INTO transaction_tags (tx_rowid, tag, date) VALUES (?1, ?2, ?3)",
            params![rowid, tag, date_key(t.date)],
        )?;
    }
    Ok(())
}

pub(crate) fn date_key(date: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// Finds the live category for a reference: a deleted category hands its transactions to the
/// one it was merged into, or else to the kind's "Other".
struct Resolver {
    categories: HashMap<Uuid, (Kind, bool, Option<Uuid>)>,
}

impl Resolver {
    fn load(sql: &Connection) -> Result<Resolver> {
        let mut stmt = sql.prepare_cached("SELECT id, kind, deleted, merged_into FROM categories")?;
        let rows = stmt.query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            let merged: Option<Vec<u8>> = r.get(3)?;
            Ok((
                Uuid::from_slice(&id).unwrap_or_default(),
                (Kind::from_i64(r.get(1)?), r.get::<_, bool>(2)?, merged.and_then(|m| Uuid::from_slice(&m).ok())),
            ))
        })?;
        Ok(Resolver { categories: rows.collect::<rusqlite::Result<_>>()? })
    }

    fn resolve(&self, reference: Uuid, kind: Kind) -> Uuid {
        let mut current = reference;
        // A chain longer than the number of categories is a cycle (two devices merged two
        // categories into each other concurrently).
        for _ in 0..=self.categories.len() {
            match self.categories.get(&current) {
                Some((_, false, _)) => return current,
                Some((_, true, Some(next))) => current = *next,
                Some((_, true, None)) | None => break,
            }
        }
        doc::fallback_category(kind)
    }

    /// Re-resolves the transactions of every deleted category.
    fn reresolve(&self, sql: &Connection) -> Result<()> {
        for (&id, &(kind, deleted, _)) in &self.categories {
            if !deleted {
                continue;
            }
            let target = self.resolve(id, kind);
            sql.execute(
                "UPDATE transactions SET category_id = ?1, category_ref = ?2 WHERE category_id = ?2",
                params![target.as_bytes(), id.as_bytes()],
            )?;
            sql.execute(
                "UPDATE transactions SET category_id = ?1 WHERE category_ref = ?2 AND category_id <> ?1",
                params![target.as_bytes(), id.as_bytes()],
            )?;
        }
        Ok(())
    }
}

/// A canonical text form of every view table (rowids left out), one row a line.
pub(crate) fn dump(sql: &Connection) -> Result<String> {
    let queries = [
        "SELECT 'settings', key, value FROM settings ORDER BY key",
        "SELECT 'category', hex(id), name, kind, color, icon, archived, deleted, hex(merged_into) FROM categories ORDER BY id",
        "SELECT 'payment_method', hex(id), name, archived FROM payment_methods ORDER BY id",
        "SELECT 'transaction', hex(id), kind, amount, currency, date, hex(category_id), hex(category_ref), hex(payment_method),
                description, notes, tags, created_at, updated_at, conflicts FROM transactions ORDER BY id",
        "SELECT 'tag', hex(t.id), g.tag, g.date FROM transaction_tags g JOIN transactions t ON t.rowid = g.tx_rowid ORDER BY 2, 3",
        "SELECT 'month', month, hex(category_id), kind, currency, total, count FROM month_totals ORDER BY 2, 3, 4, 5",
    ];
    let mut out = String::new();
    for q in queries {
        let mut stmt = sql.prepare(q)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..n {
                if i > 0 {
                    out.push('|');
                }
                let v: rusqlite::types::Value = row.get(i)?;
                out.push_str(&format!("{v:?}"));
            }
            out.push('\n');
        }
    }
    // The full-text index must agree with its content table.
    if let Err(e) =
        sql.execute("INSERT INTO transactions_fts (transactions_fts, rank) VALUES ('integrity-check', 1)", [])
    {
        out.push_str(&format!("fts: {e}\n"));
    }
    Ok(out)
}
