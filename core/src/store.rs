//! The local store: one SQLite file holding the ledger document (snapshot plus incremental
//! changes) and the materialized view.
//!
//! **Invariant:** every write commits the automerge change and the view rows it implies in
//! one SQLite transaction, so after a crash at any point the view equals the stored document.
//! **Invariant:** reads use the view only; the document is loaded on the first write.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use automerge::transaction::{CommitOptions, Transaction as AmTx};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, Prop, ReadDoc};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::doc;
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::view::{self, Touched};

mod replication;
pub use replication::{Binding, Outgoing};

/// Schema migrations of the SQLite file, applied in order; `PRAGMA user_version` counts them.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_sync.sql"),
    include_str!("../../migrations/sqlite/0003_plans.sql"),
    include_str!("../../migrations/sqlite/0004_rates.sql"),
    include_str!("../../migrations/sqlite/0005_month_changes.sql"),
];

/// The schema version that added the view's exchange rates and converted amounts; a file
/// from before rebuilds its view once (this also covers the budgets and recurring rules that
/// version 3 added).
const RATES_VERSION: i64 = 4;

/// Incremental changes are folded into a new snapshot once there are at least this many
/// of them and they take more room than the snapshot itself, so compaction is rare and its
/// cost amortized.
const COMPACT_MIN_CHANGES: u64 = 256;
const COMPACT_MIN_BYTES: u64 = 64 * 1024;

/// A merge that brings more operations than this, and touches at least half as many records
/// as the view holds, rebuilds the view wholesale instead of updating the touched rows:
/// cheaper for a fresh device's first download.
const FULL_REBUILD_OPS: usize = 20_000;

/// A change touching this many records refreshes the query planner's statistics.
const BULK_RECORDS: usize = 1_000;

pub struct Store {
    pub(crate) conn: Connection,
    actor: ActorId,
    doc: Option<Loaded>,
    checkpointer: Option<Checkpointer>,
    commits_since_checkpoint: u32,
    changed: Changed,
}

/// Which records the view changed since the caller last asked ([`Store::take_changed`]):
/// what a screen refreshes or a server re-publishes, whether the change was made here or
/// merged from elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Too much changed to list (a rebuild of the view): treat every record as changed.
    pub everything: bool,
    pub settings: bool,
    pub categories: std::collections::BTreeSet<uuid::Uuid>,
    pub payment_methods: std::collections::BTreeSet<uuid::Uuid>,
    pub budgets: std::collections::BTreeSet<uuid::Uuid>,
    pub recurring: std::collections::BTreeSet<uuid::Uuid>,
    /// Exchange rates were added, changed or removed.
    pub rates: bool,
    /// Months whose totals changed (those of transactions added, edited, deleted, moved or
    /// converted anew, before and after).
    pub months: std::collections::BTreeSet<crate::query::Month>,
    /// Transactions added, edited, deleted, moved to another category, or converted anew.
    pub transactions: std::collections::BTreeSet<uuid::Uuid>,
}

/// Past this many changed transactions, [`Changed`] stops listing them and says `everything`.
const CHANGED_LIST_MAX: usize = 20_000;

impl Changed {
    pub fn is_empty(&self) -> bool {
        !self.everything
            && !self.settings
            && !self.rates
            && self.months.is_empty()
            && self.categories.is_empty()
            && self.payment_methods.is_empty()
            && self.budgets.is_empty()
            && self.recurring.is_empty()
            && self.transactions.is_empty()
    }

    fn add(&mut self, t: &Touched, moved: Vec<uuid::Uuid>) {
        if self.everything {
            return;
        }
        self.settings |= t.settings;
        self.rates |= !t.rates.is_empty();
        self.categories.extend(t.categories.iter().copied());
        self.payment_methods.extend(t.payment_methods.iter().copied());
        self.budgets.extend(t.budgets.iter().copied());
        self.recurring.extend(t.recurring.iter().copied());
        self.transactions.extend(t.transactions.iter().copied().chain(t.created.iter().map(|t| t.id)).chain(moved));
        if self.transactions.len() > CHANGED_LIST_MAX {
            self.set_everything();
        }
    }

    fn add_months(&mut self, months: Vec<crate::query::Month>) {
        if !self.everything {
            self.months.extend(months);
        }
    }

    fn set_everything(&mut self) {
        *self = Changed { everything: true, ..Changed::default() };
    }
}

/// Folds the WAL into the database file on a thread of its own, so that a user's write never
/// waits for a checkpoint's fsync. SQLite's own automatic checkpoint stays as a backstop.
struct Checkpointer {
    wake: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Commits between two background checkpoints.
const CHECKPOINT_EVERY: u32 = 64;

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
        let (wake, wakes) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("expenso-checkpoint".into()).spawn(move || {
            while wakes.recv().is_ok() {
                while wakes.try_recv().is_ok() {}
                // PASSIVE never blocks the writer; what it cannot fold now waits for the next.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })?;
        Ok(Checkpointer { wake: Some(wake), thread: Some(thread) })
    }

    fn wake(&self) {
        if let Some(w) = &self.wake {
            let _ = w.send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Loaded {
    doc: Automerge,
    /// The highest `doc_changes.seq` folded into `doc`.
    seen_seq: i64,
    /// `meta.generation` when loaded; every compaction, in any process, bumps it.
    generation: i64,
    pending_changes: u64,
    pending_bytes: u64,
    snapshot_bytes: u64,
}

/// What applying changes from another replica did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeOutcome {
    /// Changes this replica did not have before.
    pub new_changes: usize,
}

/// Sizes of the stored document, for diagnostics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageStats {
    pub snapshot_bytes: u64,
    pub pending_changes: u64,
    pub pending_bytes: u64,
}

impl Store {
    /// Creates a new ledger file. `actor` identifies this device in the document forever.
    pub fn create(path: &Path, actor: ActorId, base_currency: Currency, now: DateTime<Utc>) -> Result<Store> {
        if path.exists() {
            return Err(Error::LedgerExists { path: path.to_path_buf() });
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE)?;
        let result = Store::init(conn, Some(path), actor, base_currency, now);
        if result.is_err() {
            // Nothing of value is in a ledger that failed to initialize.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        result
    }

    /// A ledger that lives in memory only (tests, previews).
    pub fn create_in_memory(actor: ActorId, base_currency: Currency, now: DateTime<Utc>) -> Result<Store> {
        Store::init(Connection::open_in_memory()?, None, actor, base_currency, now)
    }

    /// A ledger's compacted document, made without a view or a file: `document` (a saved
    /// one, or the genesis alone) with `changes` applied. A server makes a snapshot this way
    /// while the account's replica is busy.
    pub fn compact_document(document: Option<&[u8]>, changes: Vec<Vec<u8>>) -> Result<Vec<u8>> {
        let mut doc = match document {
            Some(bytes) => {
                Automerge::load(bytes).map_err(|e| Error::BadChange(format!("not a ledger document: {e}")))?
            }
            None => doc::genesis(),
        };
        let parsed = parse_changes(changes)?;
        doc.apply_changes(parsed).map_err(|e| Error::BadChange(e.to_string()))?;
        Ok(doc.save())
    }

    /// Whether a saved document holds exactly the changes of a log (`log`: their hashes), the
    /// genesis aside, which every ledger starts from and no log needs: `Ok(Err(why))` when
    /// it holds fewer or others. A server checks a snapshot a device offers this way before
    /// fresh devices start from it.
    pub fn document_matches_log(document: &[u8], log: &[ChangeHash]) -> Result<std::result::Result<(), String>> {
        let doc = load_ledger_document(document)?;
        let genesis = doc::genesis().get_heads();
        let held: std::collections::HashSet<ChangeHash> =
            doc.get_changes_meta(&[]).into_iter().map(|c| c.hash).filter(|h| !genesis.contains(h)).collect();
        let logged: std::collections::HashSet<ChangeHash> =
            log.iter().copied().filter(|h| !genesis.contains(h)).collect();
        let missing = logged.difference(&held).count();
        let extra = held.difference(&logged).count();
        Ok(match (missing, extra) {
            (0, 0) => Ok(()),
            (0, extra) => Err(format!("it holds {extra} changes the log does not have there")),
            (missing, _) => Err(format!("it lacks {missing} of the log's changes")),
        })
    }

    /// An in-memory replica of a ledger that exists elsewhere: it starts from `document` (a
    /// saved document, see [`Store::save_document`]) or from the genesis alone, and writes
    /// nothing of its own until asked to. A server keeps one to answer for an account.
    pub fn replica_in_memory(actor: ActorId, document: Option<&[u8]>) -> Result<Store> {
        let snapshot = match document {
            Some(bytes) => {
                load_ledger_document(bytes)?;
                bytes.to_vec()
            }
            None => doc::genesis().save(),
        };
        let conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrate(&conn)?;
        conn.execute("INSERT INTO doc_snapshot (id, data) VALUES (1, ?1)", [&snapshot])?;
        conn.execute("INSERT INTO meta (key, value) VALUES ('actor', ?1)", [actor.to_bytes()])?;
        let mut store = Store {
            conn,
            actor,
            doc: None,
            checkpointer: None,
            commits_since_checkpoint: 0,
            changed: Changed::default(),
        };
        store.rebuild_view()?;
        Ok(store)
    }

    fn init(
        conn: Connection,
        path: Option<&Path>,
        actor: ActorId,
        base: Currency,
        now: DateTime<Utc>,
    ) -> Result<Store> {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
        configure(&conn)?;
        migrate(&conn)?;
        let genesis = doc::genesis();
        conn.execute("INSERT INTO doc_snapshot (id, data) VALUES (1, ?1)", [genesis.save()])?;
        conn.execute("INSERT INTO meta (key, value) VALUES ('actor', ?1)", [actor.to_bytes()])?;
        let checkpointer = path.map(Checkpointer::start).transpose()?;
        let mut store =
            Store { conn, actor, doc: None, checkpointer, commits_since_checkpoint: 0, changed: Changed::default() };
        store.rebuild_view()?;
        store.commit(now, |tx, _| {
            doc::put_base_currency(tx, base)?;
            Ok(((), Touched { settings: true, ..Touched::default() }))
        })?;
        Ok(store)
    }

    /// Opens an existing ledger file. A damaged file is reported and never written to.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Error::NoLedger { path: path.to_path_buf() });
        }
        check_header(path)?;
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            return Err(Error::Corrupt { reason: "it holds no ledger".into() });
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(Error::TooNew { found: version, known: MIGRATIONS.len() as i64 });
        }
        // Everything is read and checked before anything is written.
        let actor: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'actor'", [], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::Corrupt { reason: "the device id is missing".into() })?;
        configure(&conn)?;
        migrate(&conn)?;
        optimize(&conn)?;
        let checkpointer = Some(Checkpointer::start(path)?);
        let mut store = Store {
            conn,
            actor: ActorId::from(actor),
            doc: None,
            checkpointer,
            commits_since_checkpoint: 0,
            changed: Changed::default(),
        };
        // A file made before the view had budgets, recurring rules and exchange rates may hold
        // some in its document (synced from a newer device), and its totals lack converted
        // amounts: the view is built again once, at the upgrade.
        if version < RATES_VERSION {
            store.rebuild_view()?;
        }
        Ok(store)
    }

    /// This device's actor id in the document.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    pub fn is_document_loaded(&self) -> bool {
        self.doc.is_some()
    }

    /// Loads the document now (otherwise the first write does). Apps call this in the
    /// background after showing the first screen.
    pub fn load_document(&mut self) -> Result<()> {
        self.loaded().map(|_| ())
    }

    fn loaded(&mut self) -> Result<&mut Loaded> {
        if self.doc.is_none() {
            self.doc = Some(load(&self.conn, &self.actor)?);
        }
        Ok(self.doc.as_mut().expect("loaded above"))
    }

    fn take_loaded(&mut self) -> Result<Loaded> {
        match self.doc.take() {
            Some(l) => Ok(l),
            None => load(&self.conn, &self.actor),
        }
    }

    /// Makes one local change: `edit` writes into the document and says which records it
    /// touched; the change and the view rows commit together.
    ///
    /// The SQLite write lock is taken first and the document caught up with whatever other
    /// processes (the app and the CLI, say) stored meanwhile, so the change builds on the
    /// latest state and the view rows are computed from it.
    pub(crate) fn commit<T>(
        &mut self,
        now: DateTime<Utc>,
        edit: impl FnOnce(&mut AmTx<'_>, &Containers) -> Result<(T, Touched)>,
    ) -> Result<T> {
        // On an error before the change exists, the document is still good and is kept;
        // after it exists but is not stored, it is dropped and reloaded on the next write.
        let mut loaded = self.take_loaded()?;
        let sql = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        catch_up(&sql, &self.actor, &mut loaded)?;
        let containers = Containers::of(&loaded.doc)?;
        let mut tx = loaded.doc.transaction();
        let (value, touched) = match edit(&mut tx, &containers) {
            Ok(ok) => ok,
            Err(e) => {
                tx.rollback();
                drop(sql);
                self.doc = Some(loaded);
                return Err(e);
            }
        };
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(now.timestamp_millis()));
        if hash.is_none() {
            drop(sql);
            self.doc = Some(loaded);
            return Ok(value);
        }
        let change = loaded.doc.get_last_local_change().expect("a change was just committed");
        let seq = insert_change(&sql, &change)?;
        insert_outbox(&sql, &change)?;
        let moved = view::apply(&sql, &loaded.doc, &containers, &touched)?;
        let months = view::drain_months(&sql)?;
        sql.commit()?;
        self.changed.add(&touched, moved);
        self.changed.add_months(months);
        loaded.seen_seq = loaded.seen_seq.max(seq);
        loaded.pending_changes += 1;
        loaded.pending_bytes += change.raw_bytes().len() as u64;
        self.doc = Some(loaded);
        self.after_commit(touched.created.len() + touched.transactions.len());
        Ok(value)
    }

    /// Applies changes from another replica (raw automerge change bytes, in any order, with
    /// duplicates). Either all are stored and the view follows, or nothing changes.
    pub fn apply_changes(&mut self, raw: &[Vec<u8>]) -> Result<MergeOutcome> {
        self.merge(raw, Origin::Elsewhere)
    }

    /// Applies changes and, in the same SQLite transaction, records where they came from:
    /// changes from anywhere but the server go to the outbox; a pull from the server moves
    /// the cursor. Duplicates and changes already here are skipped.
    pub(crate) fn merge(&mut self, raw: &[Vec<u8>], origin: Origin) -> Result<MergeOutcome> {
        let parsed = parse_changes(raw.iter().cloned())?;
        let mut loaded = self.take_loaded()?;
        let sql = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        catch_up(&sql, &self.actor, &mut loaded)?;
        let mut seen = std::collections::HashSet::new();
        let fresh: Vec<Change> = parsed
            .into_iter()
            .filter(|c| seen.insert(c.hash()) && loaded.doc.get_change_meta_by_hash(&c.hash()).is_none())
            .collect();
        if fresh.is_empty() {
            let moved = origin.record(&sql, &[])?;
            if moved {
                sql.commit()?;
            } else {
                drop(sql);
            }
            self.doc = Some(loaded);
            return Ok(MergeOutcome::default());
        }
        // Another replica never writes as this device. If one does, the ledger file was copied
        // to a second device, and merging would break both (automerge refuses a sequence
        // number used twice).
        if let Some(c) = fresh.iter().find(|c| c.actor_id() == &self.actor) {
            drop(sql);
            self.doc = Some(loaded);
            return Err(Error::BadChange(format!(
                "change {} claims to come from this device; was this ledger file copied to another device? \
                 Move a ledger with `export` and `import` instead",
                c.hash()
            )));
        }
        let before = loaded.doc.get_heads();
        // From here on a failure may leave part of the batch in the in-memory document: it is
        // then dropped and reloaded from the file, which has none of it.
        loaded.doc.apply_changes(fresh.iter().cloned()).map_err(|e| Error::BadChange(e.to_string()))?;
        let after = loaded.doc.get_heads();
        let schema = doc::schema_of(&loaded.doc)?;
        if schema > doc::SCHEMA_VERSION {
            return Err(Error::TooNew { found: schema, known: doc::SCHEMA_VERSION });
        }
        let ops: usize = fresh.iter().map(Change::len).sum();
        let containers = Containers::of(&loaded.doc)?;
        // A merge that changes most of the ledger (a fresh device's first pull) rebuilds the view;
        // rows one by one would be slower. Another device's import into a large ledger does not:
        // rebuilding on every page of a long pull would redo the same rows again and again.
        let rows = if ops > FULL_REBUILD_OPS { view::rows(&sql)? } else { usize::MAX };
        let touched = if rows == 0 { None } else { touched_by_ops(&loaded.doc, &containers, &fresh) };
        let full = ops > FULL_REBUILD_OPS
            && match &touched {
                Some(t) => t.transactions.len() * 2 >= rows,
                None => true,
            };
        let mut seq = loaded.seen_seq;
        for change in &fresh {
            seq = seq.max(insert_change(&sql, change)?);
        }
        origin.record(&sql, &fresh)?;
        let changed = if full {
            view::rebuild(&sql, &loaded.doc, &containers)?;
            None
        } else {
            let touched = touched.unwrap_or_else(|| touched_between(&loaded.doc, &containers, &before, &after));
            let moved = view::apply(&sql, &loaded.doc, &containers, &touched)?;
            let months = view::drain_months(&sql)?;
            Some((touched, moved, months))
        };
        sql.commit()?;
        match changed {
            Some((touched, moved, months)) => {
                self.changed.add(&touched, moved);
                self.changed.add_months(months);
            }
            None => self.changed.set_everything(),
        }
        loaded.seen_seq = seq;
        loaded.pending_changes += fresh.len() as u64;
        loaded.pending_bytes += fresh.iter().map(|c| c.raw_bytes().len() as u64).sum::<u64>();
        self.doc = Some(loaded);
        self.after_commit(if full { usize::MAX } else { ops });
        Ok(MergeOutcome { new_changes: fresh.len() })
    }

    /// The document's current heads.
    pub fn heads(&mut self) -> Result<Vec<ChangeHash>> {
        Ok(self.loaded()?.doc.get_heads())
    }

    /// Raw bytes of every change the document has that `have` does not cover.
    pub fn changes_since(&mut self, have: &[ChangeHash]) -> Result<Vec<Vec<u8>>> {
        let doc = &mut self.loaded()?.doc;
        Ok(doc.get_changes(have).into_iter().map(|c| c.raw_bytes().to_vec()).collect())
    }

    /// Folds the incremental changes into a new snapshot.
    pub fn compact(&mut self) -> Result<()> {
        let mut loaded = self.take_loaded()?;
        let sql = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        catch_up(&sql, &self.actor, &mut loaded)?;
        let snapshot = loaded.doc.save();
        sql.execute("INSERT OR REPLACE INTO doc_snapshot (id, data) VALUES (1, ?1)", [&snapshot])?;
        // Changes whose dependencies have not arrived yet are not in the snapshot: keep them.
        let rows: Vec<(Vec<u8>, i64)> = {
            let mut stmt = sql.prepare("SELECT hash, length(data) FROM doc_changes")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let (mut kept, mut kept_bytes) = (0u64, 0u64);
        for (hash, len) in rows {
            let known = ChangeHash::try_from(hash.as_slice())
                .ok()
                .and_then(|h| loaded.doc.get_change_meta_by_hash(&h))
                .is_some();
            if known {
                sql.execute("DELETE FROM doc_changes WHERE hash = ?1", [&hash])?;
            } else {
                kept += 1;
                kept_bytes += len as u64;
            }
        }
        let generation = loaded.generation + 1;
        sql.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1)", [generation])?;
        sql.commit()?;
        loaded.generation = generation;
        loaded.snapshot_bytes = snapshot.len() as u64;
        loaded.pending_changes = kept;
        loaded.pending_bytes = kept_bytes;
        self.doc = Some(loaded);
        self.release_free_pages()?;
        optimize(&self.conn)
    }

    /// Gives pages freed by compaction back to the file system: `incremental_vacuum` frees
    /// one page per step, so it is stepped to the end; the background checkpoint then moves
    /// the shorter file into place.
    fn release_free_pages(&self) -> Result<()> {
        let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        if let Some(c) = &self.checkpointer {
            c.wake();
        }
        Ok(())
    }

    /// Housekeeping after a stored change. None of it may fail the write, which is durable
    /// already: a compaction that fails (a full disk, say) is simply tried again later.
    fn after_commit(&mut self, records: usize) {
        self.commits_since_checkpoint += 1;
        if self.commits_since_checkpoint >= CHECKPOINT_EVERY {
            self.commits_since_checkpoint = 0;
            if let Some(c) = &self.checkpointer {
                c.wake();
            }
        }
        let due = self.doc.as_ref().is_some_and(|l| {
            l.pending_changes >= COMPACT_MIN_CHANGES && l.pending_bytes >= l.snapshot_bytes.max(COMPACT_MIN_BYTES)
        });
        if due {
            let _ = self.compact();
        } else if records >= BULK_RECORDS {
            // Many rows changed: refresh the planner's statistics.
            let _ = optimize(&self.conn);
        }
    }

    pub fn storage_stats(&self) -> Result<StorageStats> {
        let snapshot_bytes: i64 =
            self.conn.query_row("SELECT coalesce(sum(length(data)), 0) FROM doc_snapshot", [], |r| r.get(0))?;
        let (pending_changes, pending_bytes): (i64, i64) =
            self.conn.query_row("SELECT count(*), coalesce(sum(length(data)), 0) FROM doc_changes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok(StorageStats {
            snapshot_bytes: snapshot_bytes as u64,
            pending_changes: pending_changes as u64,
            pending_bytes: pending_bytes as u64,
        })
    }

    /// Rebuilds the whole view from the document (after a migration of the view, or on
    /// request).
    pub fn rebuild_view(&mut self) -> Result<()> {
        let mut loaded = self.take_loaded()?;
        let sql = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        catch_up(&sql, &self.actor, &mut loaded)?;
        let containers = Containers::of(&loaded.doc)?;
        view::rebuild(&sql, &loaded.doc, &containers)?;
        sql.commit()?;
        self.changed.set_everything();
        self.doc = Some(loaded);
        optimize(&self.conn)
    }

    /// What the view changed since the last call (or since the store was opened), and
    /// forgets it.
    pub fn take_changed(&mut self) -> Changed {
        std::mem::take(&mut self.changed)
    }

    /// The whole document in automerge's compact saved form: what a fresh replica starts
    /// from ([`Store::replica_in_memory`]).
    pub fn save_document(&mut self) -> Result<Vec<u8>> {
        Ok(self.loaded()?.doc.save())
    }

    /// Compares the view with the document, record by record; `Ok(())` when they agree.
    /// Loads the document from the file (not the in-memory copy), as a fresh process would,
    /// inside one read transaction so that a concurrent writer cannot skew the comparison.
    pub fn verify(&self) -> Result<std::result::Result<(), String>> {
        let read = self.conn.unchecked_transaction()?;
        let loaded = load(&read, &self.actor)?;
        let containers = Containers::of(&loaded.doc)?;
        let scratch = Connection::open_in_memory()?;
        migrate(&scratch)?;
        let sql = scratch.unchecked_transaction()?;
        view::rebuild(&sql, &loaded.doc, &containers)?;
        sql.commit()?;
        let expected = view::dump(&scratch)?;
        let actual = view::dump(&read)?;
        drop(read);
        if expected == actual {
            Ok(Ok(()))
        } else {
            let diff = expected.lines().zip(actual.lines()).find(|(a, b)| a != b);
            Ok(Err(match diff {
                Some((doc, view)) => format!("document has {doc:?}, view has {view:?}"),
                None => format!("document has {} rows, view has {}", expected.lines().count(), actual.lines().count()),
            }))
        }
    }

    /// A canonical text dump of the view, for comparing replicas.
    pub fn view_dump(&self) -> Result<String> {
        view::dump(&self.conn)
    }

    /// The document's content as JSON (winning values only), for comparing replicas.
    pub fn document_json(&mut self) -> Result<serde_json::Value> {
        let doc = &self.loaded()?.doc;
        Ok(serde_json::to_value(automerge::AutoSerde::from(doc)).unwrap_or_default())
    }
}

/// The object ids of the top-level containers.
pub(crate) struct Containers {
    pub categories: ObjId,
    pub payment_methods: ObjId,
    pub transactions: ObjId,
    pub settings: ObjId,
    pub budgets: ObjId,
    pub recurring: ObjId,
    pub rates: ObjId,
}

impl Containers {
    pub fn of(d: &impl ReadDoc) -> Result<Containers> {
        Ok(Containers {
            categories: doc::container(d, doc::CATEGORIES)?,
            payment_methods: doc::container(d, doc::PAYMENT_METHODS)?,
            transactions: doc::container(d, doc::TRANSACTIONS)?,
            settings: doc::container(d, doc::SETTINGS)?,
            budgets: doc::container(d, doc::BUDGETS)?,
            recurring: doc::container(d, doc::RECURRING)?,
            rates: doc::container(d, doc::RATES)?,
        })
    }
}

/// Which records changed between two states of the document, from automerge's diff.
fn touched_between(d: &Automerge, c: &Containers, before: &[ChangeHash], after: &[ChangeHash]) -> Touched {
    use automerge::PatchAction;
    let mut t = Touched::default();
    for patch in d.diff(before, after) {
        let (container, key) = match patch.path.as_slice() {
            [] => continue,
            [(_, _)] => {
                let key = match &patch.action {
                    PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => Some(key.clone()),
                    PatchAction::Conflict { prop: Prop::Map(key) } => Some(key.clone()),
                    _ => None,
                };
                (&patch.obj, key)
            }
            [_, (container, Prop::Map(key)), ..] => (container, Some(key.clone())),
            _ => continue,
        };
        if *container == c.settings {
            t.settings = true;
            continue;
        }
        if *container == c.rates {
            t.rates.extend(key.map(|k| k.to_string()));
            continue;
        }
        let Some(id) = key.and_then(|k| uuid::Uuid::parse_str(&k).ok()) else {
            continue;
        };
        if *container == c.transactions {
            t.transactions.push(id);
        } else if *container == c.categories {
            t.categories.push(id);
        } else if *container == c.payment_methods {
            t.payment_methods.push(id);
        } else if *container == c.budgets {
            t.budgets.push(id);
        } else if *container == c.recurring {
            t.recurring.push(id);
        }
    }
    t.dedup();
    t
}

/// A saved document that is a ledger this version reads (a snapshot from a server, or one
/// a device offers it).
pub(crate) fn load_ledger_document(bytes: &[u8]) -> Result<Automerge> {
    let doc = Automerge::load(bytes).map_err(|e| Error::BadChange(format!("not a ledger document: {e}")))?;
    Containers::of(&doc).map_err(|e| Error::BadChange(format!("not a ledger document: {e}")))?;
    let schema = doc::schema_of(&doc)?;
    if schema > doc::SCHEMA_VERSION {
        return Err(Error::TooNew { found: schema, known: doc::SCHEMA_VERSION });
    }
    Ok(doc)
}

/// Raw automerge changes parsed, or the first that does not parse named by its position.
fn parse_changes(raw: impl IntoIterator<Item = Vec<u8>>) -> Result<Vec<Change>> {
    raw.into_iter()
        .enumerate()
        .map(|(i, bytes)| Change::from_bytes(bytes).map_err(|e| Error::BadChange(format!("change #{}: {e}", i + 1))))
        .collect()
}

/// Which records the changes wrote to, from their operations (an operation changes only
/// the value at its own object and key, and what that value held), without looking at the
/// rest of the document: automerge's diff walks every operation of the document, hundreds of
/// milliseconds at 100k transactions. `None` when an operation's object cannot be placed
/// under a container (an operation on the root: a new ledger's containers); the diff decides
/// then.
fn touched_by_ops(d: &Automerge, c: &Containers, changes: &[Change]) -> Option<Touched> {
    use automerge::legacy::{Key, ObjectId, OpId, OpType};
    const SETTINGS: usize = 5;
    const RATES: usize = 6;
    let containers =
        [&c.transactions, &c.categories, &c.payment_methods, &c.budgets, &c.recurring, &c.settings, &c.rates];
    // Each object written to: its container and the key of its record there (empty for the
    // container itself). Objects these changes create are placed from the operation that
    // makes them; only older ones are looked up in the document, whose search for an object's
    // parent grows with its size.
    let mut objects = std::collections::HashMap::<ObjectId, Option<(usize, String)>>::new();
    let mut found = std::collections::BTreeSet::<(usize, String)>::new();
    for change in changes {
        let actor = change.actor_id().clone();
        let start = change.start_op().get();
        for (n, op) in change.decode().operations.into_iter().enumerate() {
            let place = objects
                .entry(op.obj.clone())
                .or_insert_with_key(|obj| {
                    let ObjectId::Id(_) = obj else { return None };
                    let obj = d.import_obj(&obj.to_string()).ok()?;
                    if let Some(i) = containers.iter().position(|c| **c == obj) {
                        return Some((i, String::new()));
                    }
                    d.parents(&obj).ok()?.find_map(|p| {
                        let i = containers.iter().position(|c| **c == p.obj)?;
                        match p.prop {
                            Prop::Map(key) => Some((i, key)),
                            Prop::Seq(_) => None,
                        }
                    })
                })
                .clone()?;
            let record = match (place, &op.key) {
                // An op on a container itself puts or deletes a record under its key.
                ((i, key), Key::Map(k)) if key.is_empty() => (i, k.to_string()),
                ((i, key), _) if !key.is_empty() => (i, key),
                _ => return None,
            };
            if let OpType::Make(_) = op.action {
                objects.insert(ObjectId::Id(OpId::new(start + n as u64, &actor)), Some(record.clone()));
            }
            found.insert(record);
        }
    }
    let mut t = Touched::default();
    for (i, key) in found {
        match i {
            SETTINGS => t.settings = true,
            RATES => t.rates.push(key),
            _ => {
                let Ok(id) = uuid::Uuid::parse_str(&key) else { continue };
                match i {
                    0 => t.transactions.push(id),
                    1 => t.categories.push(id),
                    2 => t.payment_methods.push(id),
                    3 => t.budgets.push(id),
                    _ => t.recurring.push(id),
                }
            }
        }
    }
    t.dedup();
    Some(t)
}

/// Stores a change; returns its `seq` (0 if it was stored already).
fn insert_change(sql: &rusqlite::Transaction<'_>, change: &Change) -> Result<i64> {
    let inserted = sql
        .prepare_cached("INSERT OR IGNORE INTO doc_changes (hash, data) VALUES (?1, ?2)")?
        .execute(params![change.hash().as_ref(), change.raw_bytes()])?;
    Ok(if inserted == 1 { sql.last_insert_rowid() } else { 0 })
}

/// Where merged changes come from, which decides what else the merge records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Another replica by another path (a backup, a peer): the server may not have them.
    Elsewhere,
    /// The account's change log on the server, read up to `cursor`.
    Server { cursor: i64 },
}

impl Origin {
    /// Records the merge; says whether it wrote anything.
    fn record(self, sql: &rusqlite::Transaction<'_>, fresh: &[Change]) -> Result<bool> {
        match self {
            Origin::Elsewhere => {
                for change in fresh {
                    insert_outbox(sql, change)?;
                }
                Ok(!fresh.is_empty())
            }
            Origin::Server { cursor } => replication::raise_cursor(sql, cursor),
        }
    }
}

pub(crate) fn insert_outbox(sql: &rusqlite::Transaction<'_>, change: &Change) -> Result<()> {
    sql.prepare_cached("INSERT OR IGNORE INTO sync_outbox (hash, data) VALUES (?1, ?2)")?
        .execute(params![change.hash().as_ref(), change.raw_bytes()])?;
    Ok(())
}

/// The whole document as the file holds it.
fn load(conn: &Connection, actor: &ActorId) -> Result<Loaded> {
    let snapshot: Vec<u8> = conn
        .query_row("SELECT data FROM doc_snapshot WHERE id = 1", [], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::Corrupt { reason: "the ledger document is missing".into() })?;
    let mut doc = Automerge::load(&snapshot)
        .map_err(|e| Error::Corrupt { reason: format!("the ledger document cannot be read: {e}") })?;
    let (changes, seen_seq, pending_bytes) = read_changes(conn, 0)?;
    let pending_changes = changes.len() as u64;
    doc.apply_changes(changes)
        .map_err(|e| Error::Corrupt { reason: format!("a stored change does not apply: {e}") })?;
    doc.set_actor(actor.clone());
    let schema = doc::schema_of(&doc).map_err(|e| Error::Corrupt { reason: e.to_string() })?;
    if schema > doc::SCHEMA_VERSION {
        return Err(Error::TooNew { found: schema, known: doc::SCHEMA_VERSION });
    }
    Ok(Loaded {
        doc,
        seen_seq,
        generation: generation(conn)?,
        pending_changes,
        pending_bytes,
        snapshot_bytes: snapshot.len() as u64,
    })
}

/// Brings an in-memory document up to what the file holds (another process may have written
/// since it was loaded). Called with the write lock held.
fn catch_up(conn: &Connection, actor: &ActorId, loaded: &mut Loaded) -> Result<()> {
    if generation(conn)? != loaded.generation {
        *loaded = load(conn, actor)?;
        return Ok(());
    }
    let (changes, seq, bytes) = read_changes(conn, loaded.seen_seq)?;
    if !changes.is_empty() {
        loaded.pending_changes += changes.len() as u64;
        loaded.pending_bytes += bytes;
        loaded
            .doc
            .apply_changes(changes)
            .map_err(|e| Error::Corrupt { reason: format!("a stored change does not apply: {e}") })?;
        loaded.seen_seq = seq;
    }
    Ok(())
}

/// The stored changes after `after_seq`, each checked: a damaged one is an error, never
/// silently skipped. Returns them with the highest seq and their size in bytes.
fn read_changes(conn: &Connection, after_seq: i64) -> Result<(Vec<Change>, i64, u64)> {
    let mut stmt = conn.prepare_cached("SELECT seq, data FROM doc_changes WHERE seq > ?1 ORDER BY seq")?;
    let mut rows = stmt.query([after_seq])?;
    let (mut changes, mut max_seq, mut bytes) = (Vec::new(), after_seq, 0u64);
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let data: Vec<u8> = row.get(1)?;
        bytes += data.len() as u64;
        let change = Change::from_bytes(data)
            .map_err(|e| Error::Corrupt { reason: format!("stored change #{seq} cannot be read: {e}") })?;
        changes.push(change);
        max_seq = max_seq.max(seq);
    }
    Ok((changes, max_seq, bytes))
}

fn generation(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| r.get(0)).optional()?.unwrap_or(0))
}

fn configure(conn: &Connection) -> Result<()> {
    // WAL with synchronous=NORMAL: a crashed app loses nothing it committed; a power cut may
    // lose the last commits but never leaves a half-written one.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -32768;",
    )?;
    Ok(())
}

/// Refreshes the query planner's statistics where SQLite finds them stale (missing, or the
/// table grew tenfold). Full statistics: sampled ones misled the planner on large ledgers.
fn optimize(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA optimize = 0x10002;")?;
    Ok(())
}

fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}

/// Refuses files that are not SQLite databases before SQLite touches them.
fn check_header(path: &Path) -> Result<()> {
    let mut header = [0u8; 16];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..])? {
            0 => break,
            n => read += n,
        }
    }
    if read < header.len() || &header != b"SQLite format 3\0" {
        return Err(Error::Corrupt { reason: "the file is truncated or not a SQLite database".into() });
    }
    Ok(())
}
