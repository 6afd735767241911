//! The materialized view: SQLite rows that mirror the document, written only here.
//!
//! **Invariant:** the view is a pure function of the document. `apply` updates the records a
//! change touched, `rebuild` recomputes everything; both give the same rows.

use std::collections::HashMap;

use automerge::Automerge;
use rusqlite::{params, Connection, OptionalExtension};
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
    pub budgets: Vec<Uuid>,
    pub recurring: Vec<Uuid>,
    /// Read back from the document.
    pub transactions: Vec<Uuid>,
    /// Created by this very change as a fresh object, so the document holds exactly these
    /// values (no conflicts yet): materialized without reading them back.
    pub created: Vec<Transaction>,
}

impl Touched {
    /// Sorts the id lists and drops repeats.
    pub fn dedup(&mut self) {
        for ids in [
            &mut self.transactions,
            &mut self.categories,
            &mut self.payment_methods,
            &mut self.budgets,
            &mut self.recurring,
        ] {
            ids.sort();
            ids.dedup();
        }
    }
}

/// Writes the rows of the touched records; returns the transactions whose category now
/// resolves differently (a category was deleted or merged) besides those touched.
pub(crate) fn apply(sql: &Connection, d: &Automerge, c: &Containers, t: &Touched) -> Result<Vec<Uuid>> {
    if t.settings {
        write_settings(sql, d)?;
    }
    let before = if t.categories.is_empty() { None } else { Some(Resolver::load(sql)?) };
    let mut removed = Vec::new();
    for &id in &t.categories {
        match doc::read_category(d, &c.categories, id) {
            Some(cat) => upsert_category(sql, &cat)?,
            // Only a forged change removes a category key (deletion leaves a tombstone); its
            // transactions then go to "Other", as a rebuild would put them.
            None => removed.extend(category_no(sql, id)?.map(|no| (id, no))),
        }
    }
    for &id in &t.payment_methods {
        match doc::read_payment_method(d, &c.payment_methods, id) {
            Some(m) => upsert_payment_method(sql, &m)?,
            None => {
                sql.execute("DELETE FROM payment_methods WHERE id = ?1", [id.as_bytes()])?;
            }
        }
    }
    for &(id, _) in &removed {
        sql.execute("DELETE FROM categories WHERE id = ?1", [id.as_bytes()])?;
    }
    for &id in &t.budgets {
        write_budget(sql, d, c, id)?;
    }
    for &id in &t.recurring {
        write_rule(sql, d, c, id)?;
    }
    let resolver = Resolver::load(sql)?;
    let moved = match before {
        Some(before) => resolver.reresolve(sql, &before, &removed)?,
        None => Vec::new(),
    };
    for tx in &t.created {
        upsert_transaction(sql, &resolver, tx, true)?;
    }
    for &id in &t.transactions {
        match doc::read_transaction(d, &c.transactions, id) {
            Some(tx) => upsert_transaction(sql, &resolver, &tx, true)?,
            None => {
                sql.execute("DELETE FROM transactions WHERE id = ?1", [id.as_bytes()])?;
            }
        }
    }
    Ok(moved)
}

/// Recomputes the whole view from the document. The per-row triggers are suspended while the
/// rows go in; the totals and the full-text index are then computed in one pass each, which
/// is many times faster for a large ledger (a fresh device's first download).
pub(crate) fn rebuild(sql: &Connection, d: &Automerge, c: &Containers) -> Result<()> {
    let triggers: Vec<String> = {
        let mut stmt =
            sql.prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'transactions'")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    sql.execute_batch(
        "DROP TRIGGER IF EXISTS transactions_ai;
         DROP TRIGGER IF EXISTS transactions_ad;
         DROP TRIGGER IF EXISTS transactions_au;
         DROP TRIGGER IF EXISTS transactions_au_text;
         DELETE FROM transactions;
         DELETE FROM transaction_tags;
         DELETE FROM month_totals;
         DELETE FROM categories;
         DELETE FROM payment_methods;
         DELETE FROM settings;
         DELETE FROM budgets;
         DELETE FROM recurring;",
    )?;
    write_settings(sql, d)?;
    for id in doc::ids(d, &c.budgets) {
        write_budget(sql, d, c, id)?;
    }
    for id in doc::ids(d, &c.recurring) {
        write_rule(sql, d, c, id)?;
    }
    for id in doc::ids(d, &c.categories) {
        if let Some(cat) = doc::read_category(d, &c.categories, id) {
            upsert_category(sql, &cat)?;
        }
    }
    for id in doc::ids(d, &c.payment_methods) {
        if let Some(m) = doc::read_payment_method(d, &c.payment_methods, id) {
            upsert_payment_method(sql, &m)?;
        }
    }
    let resolver = Resolver::load(sql)?;
    for id in doc::ids(d, &c.transactions) {
        if let Some(tx) = doc::read_transaction(d, &c.transactions, id) {
            upsert_transaction(sql, &resolver, &tx, false)?;
        }
    }
    sql.execute_batch(
        "INSERT INTO month_totals (month, category, kind, currency, total, count)
             SELECT date / 100, category, kind, currency, sum(amount), count(*) FROM transactions GROUP BY 1, 2, 3, 4;
         INSERT INTO transactions_fts (transactions_fts) VALUES ('rebuild');",
    )?;
    for trigger in triggers {
        sql.execute_batch(&trigger)?;
    }
    Ok(())
}

/// A budget as the view keeps it: the record and its alerts, as JSON (a ledger has a few of
/// them, read whole).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct BudgetRow {
    pub budget: crate::plans::Budget,
    pub alerts: Vec<crate::plans::StoredAlert>,
}

/// A recurring rule as the view keeps it: the rule and what became of its occurrences.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RuleRow {
    pub rule: crate::plans::RecurringRule,
    pub done: std::collections::BTreeMap<chrono::NaiveDate, crate::plans::Done>,
}

fn write_budget(sql: &Connection, d: &Automerge, c: &Containers, id: Uuid) -> Result<()> {
    match doc::read_budget(d, &c.budgets, id) {
        Some((budget, alerts)) => {
            let body = serde_json::to_string(&BudgetRow { budget, alerts }).unwrap_or_default();
            sql.prepare_cached("INSERT OR REPLACE INTO budgets (id, body) VALUES (?1, ?2)")?
                .execute(params![id.as_bytes(), body])?;
        }
        None => {
            sql.prepare_cached("DELETE FROM budgets WHERE id = ?1")?.execute([id.as_bytes()])?;
        }
    }
    Ok(())
}

fn write_rule(sql: &Connection, d: &Automerge, c: &Containers, id: Uuid) -> Result<()> {
    match doc::read_rule(d, &c.recurring, id) {
        Some((rule, done)) => {
            let body = serde_json::to_string(&RuleRow { rule, done }).unwrap_or_default();
            sql.prepare_cached("INSERT OR REPLACE INTO recurring (id, body) VALUES (?1, ?2)")?
                .execute(params![id.as_bytes(), body])?;
        }
        None => {
            sql.prepare_cached("DELETE FROM recurring WHERE id = ?1")?.execute([id.as_bytes()])?;
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
        "INSERT INTO categories (id, name, kind, color, icon, archived, deleted, merged_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, color = excluded.color,
             icon = excluded.icon, archived = excluded.archived, deleted = excluded.deleted,
             merged_into = excluded.merged_into",
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

fn upsert_payment_method(sql: &Connection, m: &crate::model::PaymentMethod) -> Result<()> {
    sql.execute(
        "INSERT INTO payment_methods (id, name, archived) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, archived = excluded.archived",
        params![m.id.as_bytes(), m.name, m.archived],
    )?;
    Ok(())
}

fn category_no(sql: &Connection, id: Uuid) -> Result<Option<i64>> {
    Ok(sql.query_row("SELECT no FROM categories WHERE id = ?1", [id.as_bytes()], |r| r.get(0)).optional()?)
}

fn upsert_transaction(sql: &Connection, resolver: &Resolver, t: &Transaction, existing: bool) -> Result<()> {
    let (category, resolved_id) = resolver.resolve(t.category_id, t.kind);
    let category_ref = (resolved_id != Some(t.category_id)).then(|| t.category_id.as_bytes().to_vec());
    let payment_method = resolver.payment_method(t.payment_method_id);
    // Validated writes never exceed four decimals; a forged value is rounded, not dropped.
    let amount = money::to_units(t.amount)
        .unwrap_or_else(|| money::to_units(t.amount.round_dp(money::AMOUNT_SCALE)).unwrap_or(0));
    let conflicts = (!t.conflicts.is_empty()).then(|| serde_json::to_string(&t.conflicts).unwrap_or_default());
    let rowid: i64 = sql
        .prepare_cached(
            "INSERT INTO transactions (id, kind, amount, currency, date, category, category_ref, payment_method,
                                   description, notes, tags, created_at, updated_at, conflicts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, amount = excluded.amount, currency = excluded.currency,
             date = excluded.date, category = excluded.category, category_ref = excluded.category_ref,
             payment_method = excluded.payment_method, description = excluded.description,
             notes = excluded.notes, tags = excluded.tags, created_at = excluded.created_at,
             updated_at = excluded.updated_at, conflicts = excluded.conflicts
         RETURNING rowid",
        )?
        .query_row(
            params![
                t.id.as_bytes(),
                t.kind.as_i64(),
                amount,
                t.currency.code(),
                date_key(t.date),
                category,
                category_ref,
                payment_method,
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
        sql.prepare_cached("DELETE FROM transaction_tags WHERE tx_rowid = ?1")?.execute([rowid])?;
    }
    for tag in &t.tags {
        sql.prepare_cached("INSERT OR IGNORE INTO transaction_tags (tx_rowid, tag, date) VALUES (?1, ?2, ?3)")?
            .execute(params![rowid, tag, date_key(t.date)])?;
    }
    Ok(())
}

pub(crate) fn date_key(date: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// Finds the live category for a reference: a deleted category hands its transactions to the
/// one it was merged into, or else to the kind's "Other". Works on the view's local numbers.
struct Resolver {
    /// id → (no, deleted, merged_into)
    categories: HashMap<Uuid, (i64, bool, Option<Uuid>)>,
    payment_methods: HashMap<Uuid, i64>,
}

impl Resolver {
    fn load(sql: &Connection) -> Result<Resolver> {
        let mut stmt = sql.prepare_cached("SELECT id, no, deleted, merged_into FROM categories")?;
        let rows = stmt.query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            let merged: Option<Vec<u8>> = r.get(3)?;
            Ok((
                Uuid::from_slice(&id).unwrap_or_default(),
                (r.get(1)?, r.get::<_, bool>(2)?, merged.and_then(|m| Uuid::from_slice(&m).ok())),
            ))
        })?;
        let categories = rows.collect::<rusqlite::Result<_>>()?;
        let mut stmt = sql.prepare_cached("SELECT id, no FROM payment_methods")?;
        let rows =
            stmt.query_map([], |r| Ok((Uuid::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or_default(), r.get(1)?)))?;
        Ok(Resolver { categories, payment_methods: rows.collect::<rusqlite::Result<_>>()? })
    }

    /// The category `no` a reference resolves to, and its id (`None` only if even the
    /// fallback category is missing, which only a forged document can cause).
    fn resolve(&self, reference: Uuid, kind: Kind) -> (i64, Option<Uuid>) {
        let mut current = reference;
        // A chain longer than the number of categories is a cycle (two devices merged two
        // categories into each other concurrently).
        for _ in 0..=self.categories.len() {
            match self.categories.get(&current) {
                Some(&(no, false, _)) => return (no, Some(current)),
                Some((_, true, Some(next))) => current = *next,
                Some((_, true, None)) | None => break,
            }
        }
        let fallback = doc::fallback_category(kind);
        match self.categories.get(&fallback) {
            Some(&(no, _, _)) => (no, Some(fallback)),
            None => (0, None),
        }
    }

    /// The payment method's `no`; an unknown one counts as "Other".
    fn payment_method(&self, id: Uuid) -> i64 {
        let other = doc::default_payment_method_id("other");
        self.payment_methods.get(&id).or_else(|| self.payment_methods.get(&other)).copied().unwrap_or(0)
    }

    /// Recomputes the category of the transactions whose reference now resolves differently
    /// than under `before` (or whose category was `removed`): the rows holding the reference
    /// (as `category_ref`, or as their live `category` without one) get its new resolution.
    /// A rename or recolour resolves nothing differently and writes no row.
    /// Returns the ids of the rows it changed.
    fn reresolve(&self, sql: &Connection, before: &Resolver, removed: &[(Uuid, i64)]) -> Result<Vec<Uuid>> {
        let mut moved = Vec::new();
        let known = self.categories.iter().map(|(&id, v)| (id, v.0, false));
        for (id, no, gone) in known.chain(removed.iter().map(|&(id, no)| (id, no, true))) {
            for kind in [Kind::Expense, Kind::Income] {
                let (target, target_id) = self.resolve(id, kind);
                if !gone && before.resolve(id, kind).1 == target_id {
                    continue;
                }
                let reference = (target_id != Some(id)).then(|| id.as_bytes().to_vec());
                let mut stmt = sql.prepare_cached(
                    "UPDATE transactions SET category = ?1, category_ref = ?2
                     WHERE kind = ?5 AND (category_ref = ?3 OR (category_ref IS NULL AND category = ?4))
                       AND (category <> ?1 OR category_ref IS NOT ?2)
                     RETURNING id",
                )?;
                let rows = stmt.query_map(params![target, reference, id.as_bytes(), no, kind.as_i64()], |r| {
                    r.get::<_, Vec<u8>>(0)
                })?;
                for row in rows {
                    moved.extend(Uuid::from_slice(&row?).ok());
                }
            }
        }
        Ok(moved)
    }
}

/// A canonical text form of every view table (rowids left out), one row a line.
pub(crate) fn dump(sql: &Connection) -> Result<String> {
    let queries = [
        "SELECT 'settings', key, value FROM settings ORDER BY key",
        "SELECT 'category', hex(id), name, kind, color, icon, archived, deleted, hex(merged_into) FROM categories ORDER BY id",
        "SELECT 'payment_method', hex(id), name, archived FROM payment_methods ORDER BY id",
        "SELECT 'transaction', hex(t.id), t.kind, t.amount, t.currency, t.date, hex(c.id), hex(t.category_ref), hex(p.id),
                t.description, t.notes, t.tags, t.created_at, t.updated_at, t.conflicts
         FROM transactions t LEFT JOIN categories c ON c.no = t.category LEFT JOIN payment_methods p ON p.no = t.payment_method
         ORDER BY t.id",
        "SELECT 'tag', hex(t.id), g.tag, g.date FROM transaction_tags g JOIN transactions t ON t.rowid = g.tx_rowid ORDER BY 2, 3",
        "SELECT 'budget', hex(id), body FROM budgets ORDER BY id",
        "SELECT 'recurring', hex(id), body FROM recurring ORDER BY id",
        "SELECT 'month', m.month, hex(c.id), m.kind, m.currency, m.total, m.count
         FROM month_totals m LEFT JOIN categories c ON c.no = m.category ORDER BY 2, 3, 4, 5",
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
