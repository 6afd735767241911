//! What a ledger file keeps for syncing with its account's server: the account it is bound
//! to, the cursor into the account's change log, and the outbox of changes the server has
//! not acknowledged. Every piece is written in the same SQLite transaction as the changes it
//! describes, so a device killed at any point resumes without losing or doubling anything.

use automerge::{Change, ChangeHash};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::{
    catch_up, generation, insert_change, load_ledger_document, optimize, Containers, Loaded, MergeOutcome, Origin,
    Store,
};
use crate::doc;
use crate::error::{Error, Result};
use crate::sync::LoggedChange;
use crate::view;

/// The account and server a ledger syncs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub server: String,
    pub account: Uuid,
}

/// One change waiting for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub hash: String,
    pub data: Vec<u8>,
}

impl Store {
    /// The account this ledger syncs with, if any.
    pub fn binding(&self) -> Result<Option<Binding>> {
        let server = self.meta_text("sync_server")?;
        let account = self.meta_text("sync_account")?;
        Ok(match (server, account) {
            (Some(server), Some(account)) => {
                let account = Uuid::parse_str(&account)
                    .map_err(|_| Error::Corrupt { reason: "the synced account's id is damaged".into() })?;
                Some(Binding { server, account })
            }
            _ => None,
        })
    }

    /// Binds the ledger to an account (a login). Everything the ledger holds goes into the
    /// outbox, so a device that already has data merges it into the account's ledger; the
    /// server ignores what it has already. Binding to another account or server starts
    /// reading that account's log from the beginning.
    pub fn bind(&mut self, binding: &Binding) -> Result<()> {
        let same = self.binding()?.as_ref() == Some(binding);
        let mut loaded = self.take_loaded()?;
        let sql = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        catch_up(&sql, &self.actor, &mut loaded)?;
        let genesis = doc::genesis().get_heads();
        sql.execute("DELETE FROM sync_outbox", [])?;
        {
            let mut insert = sql.prepare_cached("INSERT OR IGNORE INTO sync_outbox (hash, data) VALUES (?1, ?2)")?;
            for change in loaded.doc.get_changes(&[]) {
                if !genesis.contains(&change.hash()) {
                    insert.execute(params![change.hash().as_ref(), change.raw_bytes()])?;
                }
            }
        }
        set_meta(&sql, "sync_server", binding.server.as_str())?;
        set_meta(&sql, "sync_account", binding.account.to_string())?;
        if !same {
            sql.execute("DELETE FROM meta WHERE key IN ('sync_cursor', 'sync_last')", [])?;
        }
        sql.commit()?;
        self.doc = Some(loaded);
        Ok(())
    }

    /// Forgets the account (a logout that keeps the data). The outbox stays: whatever was not
    /// uploaded goes up with the next login.
    pub fn unbind(&mut self) -> Result<()> {
        self.conn
            .execute("DELETE FROM meta WHERE key IN ('sync_server', 'sync_account', 'sync_cursor', 'sync_last')", [])?;
        Ok(())
    }

    /// How far this ledger has read the account's change log.
    pub fn sync_cursor(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'sync_cursor'", [], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Moves the cursor forward (never back): the changes up to `cursor` are here, because
    /// this device made them.
    pub fn advance_cursor(&mut self, cursor: i64) -> Result<()> {
        raise_cursor(&self.conn, cursor).map(drop)
    }

    /// When this ledger last agreed with the server.
    pub fn last_synced(&self) -> Result<Option<DateTime<Utc>>> {
        let millis: Option<i64> =
            self.conn.query_row("SELECT value FROM meta WHERE key = 'sync_last'", [], |r| r.get(0)).optional()?;
        Ok(millis.and_then(|m| Utc.timestamp_millis_opt(m).single()))
    }

    pub fn set_last_synced(&mut self, at: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('sync_last', ?1)", [at.timestamp_millis()])?;
        Ok(())
    }

    /// The number of changes the server has not acknowledged.
    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM sync_outbox", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// The oldest unacknowledged changes, at most `max_changes` and about `max_bytes` (always
    /// at least one when there is one).
    pub fn outbox(&self, max_changes: usize, max_bytes: usize) -> Result<Vec<Outgoing>> {
        let mut stmt = self.conn.prepare_cached("SELECT hash, data FROM sync_outbox ORDER BY no")?;
        let mut rows = stmt.query([])?;
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.next()? {
            let hash: Vec<u8> = row.get(0)?;
            let data: Vec<u8> = row.get(1)?;
            if !out.is_empty() && (out.len() >= max_changes || bytes + data.len() > max_bytes) {
                break;
            }
            bytes += data.len();
            let hash = ChangeHash::try_from(hash.as_slice())
                .map_err(|_| Error::Corrupt { reason: "a change waiting for the server is damaged".into() })?;
            out.push(Outgoing { hash: hash.to_string(), data });
        }
        Ok(out)
    }

    /// The server has stored these changes (hex hashes): they leave the outbox.
    pub fn acknowledge(&mut self, hashes: &[String]) -> Result<()> {
        let sql = self.conn.transaction()?;
        {
            let mut delete = sql.prepare_cached("DELETE FROM sync_outbox WHERE hash = ?1")?;
            for hash in hashes {
                let Ok(bytes) = hex_bytes(hash) else { continue };
                delete.execute([bytes])?;
            }
        }
        sql.commit()?;
        Ok(())
    }

    /// Applies changes pulled from the server's log and moves the cursor to `cursor`, in one
    /// transaction.
    pub fn apply_pulled(&mut self, changes: &[LoggedChange], cursor: i64) -> Result<MergeOutcome> {
        let raw: Vec<Vec<u8>> = changes.iter().map(|c| c.change.0.clone()).collect();
        self.merge(&raw, Origin::Server { cursor })
    }

    /// Starts from the server's compacted ledger (a saved document holding the log up to
    /// `upto`): what this ledger has that the snapshot lacks is kept and stays in the outbox;
    /// the snapshot becomes the stored document and the view is rebuilt once. Much faster
    /// than applying the log change by change on a fresh device.
    pub fn adopt_snapshot(&mut self, bytes: &[u8], upto: i64) -> Result<MergeOutcome> {
        let server = load_ledger_document(bytes)?;
        let mut loaded = self.take_loaded()?;
        let sql = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        catch_up(&sql, &self.actor, &mut loaded)?;
        // The server's ledger cannot hold changes of this device that this device lacks: that
        // happens only to a ledger file copied from another device or restored from an old
        // copy, and automerge would refuse the next change made here.
        let mut new_changes = 0;
        // Metadata only: rebuilding every change of a large snapshot would cost seconds.
        for change in server.get_changes_meta(&[]) {
            if loaded.doc.get_change_meta_by_hash(&change.hash).is_none() {
                if *change.actor == self.actor {
                    drop(sql);
                    self.doc = Some(loaded);
                    return Err(Error::BadChange(format!(
                        "the server holds change {} of this device that this ledger lacks; was this ledger file \
                         copied or restored from an old copy? Log out, wipe the local data and log in again",
                        change.hash
                    )));
                }
                new_changes += 1;
            }
        }
        let local_only: Vec<Change> = server.get_changes_added(&loaded.doc);
        let local_hashes: std::collections::HashSet<ChangeHash> = local_only.iter().map(Change::hash).collect();
        let mut doc = server;
        doc.apply_changes(local_only.iter().cloned()).map_err(|e| Error::BadChange(e.to_string()))?;
        doc.set_actor(self.actor.clone());
        // The snapshot replaces the stored document; stored changes it holds go, changes it
        // lacks (this device's own, or ones still waiting for their dependencies) stay.
        sql.execute("INSERT OR REPLACE INTO doc_snapshot (id, data) VALUES (1, ?1)", [bytes])?;
        let stored: Vec<Vec<u8>> = {
            let mut stmt = sql.prepare("SELECT hash FROM doc_changes")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for hash in stored {
            let in_snapshot = ChangeHash::try_from(hash.as_slice())
                .ok()
                .and_then(|h| doc.get_change_meta_by_hash(&h).map(|_| h))
                .is_some_and(|h| !local_hashes.contains(&h));
            if in_snapshot {
                sql.execute("DELETE FROM doc_changes WHERE hash = ?1", [&hash])?;
            }
        }
        for change in &local_only {
            insert_change(&sql, change)?;
        }
        let generation = generation(&sql)? + 1;
        sql.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1)", [generation])?;
        Origin::Server { cursor: upto }.record(&sql, &[])?;
        let containers = Containers::of(&doc)?;
        view::rebuild(&sql, &doc, &containers)?;
        let (seen_seq, pending_changes, pending_bytes): (i64, i64, i64) = sql.query_row(
            "SELECT coalesce(max(seq), 0), count(*), coalesce(sum(length(data)), 0) FROM doc_changes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        sql.commit()?;
        self.doc = Some(Loaded {
            doc,
            seen_seq,
            generation,
            pending_changes: pending_changes as u64,
            pending_bytes: pending_bytes as u64,
            snapshot_bytes: bytes.len() as u64,
        });
        self.changed.set_everything();
        optimize(&self.conn)?;
        Ok(MergeOutcome { new_changes })
    }

    fn meta_text(&self, key: &str) -> Result<Option<String>> {
        let value: Option<Vec<u8>> =
            self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

/// Moves the stored cursor forward (never back); says whether it wrote.
pub(super) fn raise_cursor(conn: &rusqlite::Connection, cursor: i64) -> Result<bool> {
    let written = conn.execute(
        "INSERT INTO meta (key, value) VALUES ('sync_cursor', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        [cursor],
    )?;
    Ok(written > 0)
}

fn set_meta(sql: &rusqlite::Transaction<'_>, key: &str, value: impl AsRef<str>) -> Result<()> {
    sql.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, value.as_ref().as_bytes()])?;
    Ok(())
}

fn hex_bytes(hex: &str) -> std::result::Result<Vec<u8>, ()> {
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(());
    }
    (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| ())).collect()
}
