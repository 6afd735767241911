//! The materialized view: SQLite rows that mirror the document, written only here.
//!
//! **Invariant:** the view is a pure function of the document. `apply` updates the records a
//! change touched, `rebuild` recomputes everything; both give the same rows.

use std::collections::{HashMap, HashSet};

use automerge::Automerge;
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::doc;
use crate::error::Result;
use crate::model::{Category, Kind, Transaction};
use crate::money::{self, Currency};
use crate::rates::{RateBook, RateKey, RateSource};
use crate::store::Containers;

/// The records a change touched, by id.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    pub settings: bool,
    pub categories: Vec<Uuid>,
    pub payment_methods: Vec<Uuid>,
    pub budgets: Vec<Uuid>,
    pub recurring: Vec<Uuid>,
    /// Keys of the `rates` map.
    pub rates: Vec<String>,
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
        self.rates.sort();
        self.rates.dedup();
    }
}

/// Writes the rows of the touched records; returns the transactions whose category now
/// resolves differently (a category was deleted or merged), or whose converted amount changed
/// (new rates, another base currency), besides those touched.
pub(crate) fn apply(sql: &Connection, d: &Automerge, c: &Containers, t: &Touched) -> Result<Vec<Uuid>> {
    let old_base = base_currency(sql)?;
    if t.settings {
        write_settings(sql, d)?;
    }
    // Rates changed from this date on: conversions of later transactions may change.
    let mut rates_since: Option<NaiveDate> = None;
    for key in &t.rates {
        write_rate_entry(sql, d, c, key)?;
        if let Some(date) = RateKey::parse(key).map(|k| k.date()) {
            rates_since = Some(rates_since.map_or(date, |s| s.min(date)));
        }
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
    let mut moved = match before {
        Some(before) => resolver.reresolve(sql, &before, &removed)?,
        None => Vec::new(),
    };
    let mut converter = Converter::new(base_currency(sql)?);
    if t.created.len() >= BULK_CREATED {
        insert_in_bulk(sql, &resolver, &mut converter, &t.created)?;
    } else {
        for tx in &t.created {
            upsert_transaction(sql, &resolver, &mut converter, tx, true)?;
        }
    }
    // Records new to this replica (another device's import) go in together, as `created` do.
    let mut new_rows = Vec::new();
    let bulk = t.transactions.len() >= BULK_CREATED;
    for &id in &t.transactions {
        match doc::read_transaction(d, &c.transactions, id) {
            Some(tx) if bulk && !has_row(sql, id)? => new_rows.push(tx),
            Some(tx) => upsert_transaction(sql, &resolver, &mut converter, &tx, true)?,
            None => {
                sql.execute("DELETE FROM transactions WHERE id = ?1", [id.as_bytes()])?;
            }
        }
    }
    if !new_rows.is_empty() {
        insert_in_bulk(sql, &resolver, &mut converter, &new_rows)?;
    }
    if converter.base != old_base {
        moved.extend(reconvert(sql, &mut converter, None)?);
    } else if let Some(since) = rates_since {
        moved.extend(reconvert(sql, &mut converter, Some(since))?);
    }
    Ok(moved)
}

fn has_row(sql: &Connection, id: Uuid) -> Result<bool> {
    Ok(sql.prepare_cached("SELECT 1 FROM transactions WHERE id = ?1")?.exists([id.as_bytes()])?)
}

/// Rows in the view: whether a merge is better done by rebuilding it.
pub(crate) fn rows(sql: &Connection) -> Result<usize> {
    Ok(sql.query_row("SELECT count(*) FROM transactions", [], |r| r.get::<_, i64>(0))? as usize)
}

/// From this many new records in one change (an import, a restore), their rows go in with the
/// insert trigger suspended, and the monthly totals and the full-text index take them in one
/// statement each: about twice as fast as row by row.
const BULK_CREATED: usize = 256;

/// Inserts the rows of records that have none yet (`Touched::created`). Should one have a row
/// already, they all go through `upsert_transaction` instead, which keeps the totals right.
fn insert_in_bulk(
    sql: &Connection,
    resolver: &Resolver,
    converter: &mut Converter,
    rows: &[Transaction],
) -> Result<()> {
    for t in rows {
        if has_row(sql, t.id)? {
            for t in rows {
                upsert_transaction(sql, resolver, converter, t, true)?;
            }
            return Ok(());
        }
    }
    // New rows get row ids above every existing one (an integer primary key counts up).
    let first: i64 = sql.query_row("SELECT coalesce(max(rowid), 0) + 1 FROM transactions", [], |r| r.get(0))?;
    // Many rows for the table's size (another device's import arriving page by page): the
    // indexes are built again once rather than grown row by row, several times faster.
    let indexes = if rows.len() as i64 * 4 >= first - 1 { suspend_indexes(sql)? } else { Vec::new() };
    let trigger: String =
        sql.query_row("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'transactions_ai'", [], |r| {
            r.get(0)
        })?;
    sql.execute_batch("DROP TRIGGER transactions_ai")?;
    for t in rows {
        upsert_transaction(sql, resolver, converter, t, false)?;
    }
    sql.execute(
        "INSERT INTO month_totals (month, category, kind, currency, total, count, base_total, base_count, unrated_total)
         SELECT date / 100, category, kind, currency, sum(amount), count(*), coalesce(sum(base_amount), 0),
                count(base_amount), sum(CASE WHEN base_amount IS NULL THEN amount ELSE 0 END)
         FROM transactions WHERE rowid >= ?1 GROUP BY 1, 2, 3, 4
         ON CONFLICT DO UPDATE SET total = total + excluded.total, count = count + excluded.count,
             base_total = base_total + excluded.base_total, base_count = base_count + excluded.base_count,
             unrated_total = unrated_total + excluded.unrated_total",
        [first],
    )?;
    sql.execute(
        "INSERT INTO transactions_fts (rowid, description, notes)
         SELECT rowid, description, notes FROM transactions WHERE rowid >= ?1",
        [first],
    )?;
    sql.execute_batch(&trigger)?;
    restore_indexes(sql, indexes)
}

/// Drops the secondary indexes of the tables filled row by row (`transactions` and its tags)
/// and returns their definitions: [`restore_indexes`] builds each again by sorting, many times
/// faster than growing it one random insert at a time.
fn suspend_indexes(sql: &Connection) -> Result<Vec<String>> {
    let indexes: Vec<(String, String)> = sql
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'index' AND tbl_name IN ('transactions', 'transaction_tags') AND sql IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        sql.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(indexes.into_iter().map(|(_, definition)| definition).collect())
}

fn restore_indexes(sql: &Connection, indexes: Vec<String>) -> Result<()> {
    for index in indexes {
        sql.execute_batch(&index)?;
    }
    Ok(())
}

/// Rewrites the rows of one entry of the `rates` map.
fn write_rate_entry(sql: &Connection, d: &Automerge, c: &Containers, key: &str) -> Result<()> {
    sql.prepare_cached("DELETE FROM rates WHERE key = ?1")?.execute([key])?;
    let mut insert = sql.prepare_cached(
        "INSERT OR REPLACE INTO rates (base, quote, date, source, rate, key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for r in doc::read_rate_entry(d, &c.rates, key) {
        insert.execute(params![
            r.from.code(),
            r.to.code(),
            date_key(r.date),
            r.source.as_i64(),
            r.rate.to_string(),
            key
        ])?;
    }
    Ok(())
}

/// The base currency as the view has it; a document that never set one (a server's replica
/// of an account no device has synced yet) counts in US dollars, as `Store::settings` says.
fn base_currency(sql: &Connection) -> Result<Option<Currency>> {
    let code: Option<String> =
        sql.query_row("SELECT value FROM settings WHERE key = 'base_currency'", [], |r| r.get(0)).optional()?;
    Ok(Some(code.as_deref().and_then(Currency::from_code).unwrap_or_else(crate::model::default_base_currency)))
}

/// Converts amounts into the base currency with the view's rates, loading the rates of each
/// currency the first time it is met (a ledger's rates are read only for the currencies its
/// transactions use).
pub(crate) struct Converter {
    base: Option<Currency>,
    book: RateBook,
    loaded: HashSet<Currency>,
}

impl Converter {
    pub(crate) fn new(base: Option<Currency>) -> Converter {
        Converter { base, book: RateBook::new(), loaded: HashSet::new() }
    }

    /// The amount in the base currency, in the view's units; `None` without a rate.
    pub(crate) fn base_units(
        &mut self,
        sql: &Connection,
        amount: Decimal,
        currency: Currency,
        date: NaiveDate,
    ) -> Result<Option<i64>> {
        let Some(base) = self.base else { return Ok(None) };
        if currency != base && self.loaded.insert(currency) {
            let eur = crate::rates::euro();
            let mut stmt = sql.prepare_cached(
                "SELECT base, quote, date, source, rate FROM rates
                 WHERE base IN (?1, ?2, ?3) AND quote IN (?1, ?2, ?3)",
            )?;
            let rows = stmt.query_map(params![currency.code(), base.code(), eur.code()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            for row in rows {
                let (from, to, date, source, rate) = row?;
                let parsed = (
                    Currency::from_code(&from),
                    Currency::from_code(&to),
                    date_of_key(date),
                    rate.parse::<Decimal>().ok(),
                );
                if let (Some(from), Some(to), Some(date), Some(rate)) = parsed {
                    self.book.insert(from, to, date, rate, RateSource::from_i64(source));
                }
            }
        }
        Ok(self.book.convert(amount, currency, base, date).and_then(|c| money::to_units(c.amount)))
    }
}

/// Recomputes the converted amounts of the transactions dated `since` or later (all when
/// `None`, after the base currency changed; otherwise only those not in the base currency,
/// after new rates). Returns the ids whose converted amount changed.
fn reconvert(sql: &Connection, converter: &mut Converter, since: Option<NaiveDate>) -> Result<Vec<Uuid>> {
    let base = converter.base.map(|c| c.code()).unwrap_or_default();
    /// rowid, id, amount, currency, date, converted amount.
    type Row = (i64, Vec<u8>, i64, String, i64, Option<i64>);
    let rows: Vec<Row> = {
        let mut stmt = sql.prepare(
            "SELECT rowid, id, amount, currency, date, base_amount FROM transactions
             WHERE date >= ?1 AND (?2 OR currency <> ?3)",
        )?;
        let rows = stmt.query_map(params![since.map_or(0, date_key), since.is_none(), base], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut changed = Vec::new();
    let mut update = sql.prepare_cached("UPDATE transactions SET base_amount = ?1 WHERE rowid = ?2")?;
    for (rowid, id, units, code, date, old) in rows {
        let (Some(currency), Some(date)) = (Currency::from_code(&code), date_of_key(date)) else { continue };
        let amount = Decimal::try_from_i128_with_scale(i128::from(units), money::AMOUNT_SCALE).unwrap_or_default();
        let new = converter.base_units(sql, amount, currency, date)?;
        if new != old {
            update.execute(params![new, rowid])?;
            changed.extend(Uuid::from_slice(&id).ok());
        }
    }
    Ok(changed)
}

fn date_of_key(key: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt((key / 10_000) as i32, (key / 100 % 100) as u32, (key % 100) as u32)
}

/// Records read from the document per hand-over to the writing thread.
const REBUILD_CHUNK: usize = 512;

/// Recomputes the whole view from the document. The per-row triggers and the secondary
/// indexes are suspended while the rows go in; the totals, the full-text index and the indexes
/// are then built in one pass each, which is many times faster for a large ledger (a fresh
/// device's first download).
pub(crate) fn rebuild(sql: &Connection, d: &Automerge, c: &Containers) -> Result<()> {
    let triggers: Vec<String> = sql
        .prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'transactions'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let indexes = suspend_indexes(sql)?;
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
         DELETE FROM recurring;
         DELETE FROM rates;",
    )?;
    write_settings(sql, d)?;
    for key in doc::rate_keys(d, &c.rates) {
        write_rate_entry(sql, d, c, &key)?;
    }
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
    let mut converter = Converter::new(base_currency(sql)?);
    // The document is read on a second thread while this one writes the rows: reading a
    // record's fields and inserting its row take about as long as each other.
    std::thread::scope(|scope| -> Result<()> {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Transaction>>(4);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(REBUILD_CHUNK);
            let mut listening = true;
            doc::each_transaction(d, &c.transactions, |t| {
                // Once a send fails, the writer has failed and stopped listening.
                if listening {
                    batch.push(t);
                    if batch.len() == REBUILD_CHUNK {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(REBUILD_CHUNK));
                        listening = send.send(full).is_ok();
                    }
                }
            });
            if listening && !batch.is_empty() {
                let _ = send.send(batch);
            }
        });
        for batch in receive {
            for tx in &batch {
                upsert_transaction(sql, &resolver, &mut converter, tx, false)?;
            }
        }
        Ok(())
    })?;
    sql.execute_batch(
        "INSERT INTO month_totals (month, category, kind, currency, total, count, base_total, base_count, unrated_total)
             SELECT date / 100, category, kind, currency, sum(amount), count(*), coalesce(sum(base_amount), 0),
                    count(base_amount), sum(CASE WHEN base_amount IS NULL THEN amount ELSE 0 END)
             FROM transactions GROUP BY 1, 2, 3, 4;
         INSERT INTO transactions_fts (transactions_fts) VALUES ('rebuild');",
    )?;
    restore_indexes(sql, indexes)?;
    for trigger in triggers {
        sql.execute_batch(&trigger)?;
    }
    // A rebuild changes everything; the months it touched need no list.
    sql.execute_batch("DELETE FROM month_changes")?;
    Ok(())
}

/// The months whose totals changed since the last call (see `month_changes`), and forgets them.
pub(crate) fn drain_months(sql: &Connection) -> Result<Vec<crate::query::Month>> {
    let mut stmt = sql.prepare_cached("DELETE FROM month_changes RETURNING month")?;
    let keys = stmt.query_map([], |r| r.get::<_, i64>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(keys.into_iter().map(|k| crate::query::Month { year: (k / 100) as i32, month: (k % 100) as u32 }).collect())
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

fn upsert_transaction(
    sql: &Connection,
    resolver: &Resolver,
    converter: &mut Converter,
    t: &Transaction,
    existing: bool,
) -> Result<()> {
    let (category, resolved_id) = resolver.resolve(t.category_id, t.kind);
    let category_ref = (resolved_id != Some(t.category_id)).then(|| t.category_id.as_bytes().to_vec());
    let payment_method = resolver.payment_method(t.payment_method_id);
    // Validated writes never exceed four decimals; a forged value is rounded, not dropped.
    let amount = money::to_units(t.amount)
        .unwrap_or_else(|| money::to_units(t.amount.round_dp(money::AMOUNT_SCALE)).unwrap_or(0));
    let conflicts = (!t.conflicts.is_empty()).then(|| serde_json::to_string(&t.conflicts).unwrap_or_default());
    let base_amount = converter.base_units(sql, t.amount, t.currency, t.date)?;
    let rowid: i64 = sql
        .prepare_cached(
            "INSERT INTO transactions (id, kind, amount, currency, date, category, category_ref, payment_method,
                                   description, notes, tags, created_at, updated_at, conflicts, base_amount)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, amount = excluded.amount, currency = excluded.currency,
             date = excluded.date, category = excluded.category, category_ref = excluded.category_ref,
             payment_method = excluded.payment_method, description = excluded.description,
             notes = excluded.notes, tags = excluded.tags, created_at = excluded.created_at,
             updated_at = excluded.updated_at, conflicts = excluded.conflicts, base_amount = excluded.base_amount
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
                base_amount,
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
                t.description, t.notes, t.tags, t.created_at, t.updated_at, t.conflicts, t.base_amount
         FROM transactions t LEFT JOIN categories c ON c.no = t.category LEFT JOIN payment_methods p ON p.no = t.payment_method
         ORDER BY t.id",
        "SELECT 'tag', hex(t.id), g.tag, g.date FROM transaction_tags g JOIN transactions t ON t.rowid = g.tx_rowid ORDER BY 2, 3",
        "SELECT 'budget', hex(id), body FROM budgets ORDER BY id",
        "SELECT 'recurring', hex(id), body FROM recurring ORDER BY id",
        "SELECT 'rate', base, quote, date, source, rate, key FROM rates ORDER BY 2, 3, 4, 5",
        "SELECT 'month', m.month, hex(c.id), m.kind, m.currency, m.total, m.count, m.base_total, m.base_count,
                m.unrated_total
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
