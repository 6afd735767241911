//! Each account's ledger as the server knows it, beside the relay: a replica of the core
//! ledger that the server loads on demand, from which it publishes the materialized records
//! (MongoDB) and the categories, payment methods and settings (PostgreSQL), keeps compacted
//! snapshots for fresh devices, and through which the web dashboard's edits become changes.
//!
//! **Invariant:** every projection follows the ledger document: after the materializer has
//! caught up with an account's change log, its records and rows equal the core's view of the
//! same changes.
//!
//! Memory is bounded: the replicas loaded weigh at most `ledger_cache_mb` (estimated from
//! each ledger's saved size; least recently used go first, and idle ones after ten minutes), and at most two accounts are materialized at once.
//! One instance at a time materializes an account (a lease in the account's counter); the
//! `dirty` flag, set in the same transaction that stores a change, makes sure an account whose
//! materialization was interrupted is picked up again, by any instance.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use expenso_core::sync::{WireChange, SNAPSHOT_SEQ_HEADER};
use expenso_core::{ActorId, Changed, Decimal, Month, MonthRow, Store, Transaction};
use futures::TryStreamExt;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Bson, DateTime as BsonDateTime, Decimal128, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};
use tokio::sync::{mpsc, Semaphore};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::sync::ChangeLog;

/// Snapshots are stored in parts below MongoDB's 16 MB document limit.
const SNAPSHOT_PART: usize = 4 * 1024 * 1024;
/// A new snapshot is taken once this many changes arrived after the last one.
pub const SNAPSHOT_EVERY: i64 = 500;
/// … or once this many bytes of changes arrived (a large import is a few big changes).
const SNAPSHOT_BYTES: i64 = expenso_core::sync::SNAPSHOT_MIN_BYTES;
/// How long one instance may materialize an account before another may take over.
const LEASE: Duration = Duration::from_secs(60);
/// A replica unused this long is dropped.
const IDLE: Duration = Duration::from_secs(600);
/// How often every instance looks for accounts whose materialization is behind.
const SWEEP: Duration = Duration::from_secs(5);
/// An account with no change for this long is left to the sweep.
const QUIET: Duration = Duration::from_secs(10);
/// A catch-up step applies changes of at most about this many operations (below the
/// core's threshold for rebuilding its view, so what changed stays a list).
const STEP_OPS: usize = 15_000;
/// Changes fetched for one step.
const STEP_CHANGES: u32 = 200;
/// How long a woken materializer waits for more changes of the same account.
const COALESCE: Duration = Duration::from_millis(100);
/// With many accounts waiting to be published (many devices pushing at once), each
/// account's passes are spaced this much per waiting account, at most `PACE_MAX`: a pass
/// costs the database a few commands whatever it publishes, so under load each one
/// publishes several changes and the devices' pushes keep the database first. With few
/// accounts waiting the spacing is below `COALESCE` and changes are published at once.
const PACE_PER_ACCOUNT: Duration = Duration::from_millis(10);
const PACE_MAX: Duration = Duration::from_secs(5);

fn pace(waiting: usize) -> Duration {
    PACE_PER_ACCOUNT.saturating_mul(u32::try_from(waiting).unwrap_or(u32::MAX)).min(PACE_MAX)
}

/// Records written one by one up to this many; more are replaced in bulk.
const ONE_BY_ONE: usize = 50;

/// The shape of the published records and totals. An account whose projections an older
/// server published (before records carried converted amounts, before monthly totals) has
/// them all published again by its next pass.
const RECORDS_VERSION: i64 = 3;
/// Records and totals written in one command: small enough that a device's push waiting
/// behind one in the database is not held up long.
const BULK: usize = 250;
/// The longest a publishing write waits for this instance's pushes in flight to be stored.
const GIVE_WAY: Duration = Duration::from_millis(250);

type Slot = Arc<tokio::sync::Mutex<Option<Replica>>>;

struct Cached {
    slot: Slot,
    used: Instant,
    /// Estimated memory of the loaded replica, in bytes.
    weight: u64,
}

/// A loaded ledger takes about this many times its saved size in memory (document and view;
/// 100k transactions: 4.5 MB saved, about 210 MB loaded), and at least `MIN_WEIGHT`.
const WEIGHT_FACTOR: u64 = 48;
const MIN_WEIGHT: u64 = 1024 * 1024;

struct Replica {
    store: Store,
    /// The last log seq applied.
    cursor: i64,
    /// The seq of the newest stored snapshot.
    snapshot_upto: i64,
    /// The bytes of the changes applied since that snapshot (those this replica saw).
    unsnapshotted: i64,
    /// The tags in use as this replica last published them (`None`: not published by it).
    tags: Option<Vec<(String, u64)>>,
}

#[derive(Clone)]
pub struct Ledgers {
    inner: Arc<Inner>,
}

struct Inner {
    log: ChangeLog,
    pg: sqlx::PgPool,
    records: Collection<Document>,
    /// Per account, month, category, kind and currency: the view's monthly totals, so that
    /// the dashboard sums whole months from a few rows instead of every record.
    month_totals: Collection<Document>,
    snapshots: Collection<Document>,
    counters: Collection<Document>,
    /// Per account: how far the projections reach (`materialized`) and the lease.
    progress: Collection<Document>,
    cache: Mutex<HashMap<Uuid, Cached>>,
    /// Bytes the loaded replicas may weigh together.
    budget: u64,
    /// This instance, as the holder of materialization leases.
    instance: String,
    /// CPU-heavy replica work (loading, merging, saving) at most this many at once.
    cpu: Semaphore,
    /// Accounts whose offered snapshot is being checked: one at a time each.
    offers: Mutex<HashSet<Uuid>>,
    wake: mpsc::UnboundedSender<Uuid>,
    wakes: Mutex<Option<mpsc::UnboundedReceiver<Uuid>>>,
}

impl Ledgers {
    pub async fn open(log: ChangeLog, pg: sqlx::PgPool, db: &Database, cache_mb: u64) -> Result<Ledgers> {
        let records = db.collection::<Document>("records");
        records
            .create_indexes([
                IndexModel::builder().keys(doc! { "account": 1, "date": -1 }).build(),
                IndexModel::builder().keys(doc! { "account": 1, "category": 1, "date": -1 }).build(),
            ])
            .await?;
        let month_totals = db.collection::<Document>("month_totals");
        month_totals.create_index(IndexModel::builder().keys(doc! { "account": 1, "month": 1 }).build()).await?;
        let snapshots = db.collection::<Document>("snapshots");
        snapshots
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "account": 1, "upto": -1, "part": 1 })
                    .options(IndexOptions::builder().unique(true).build())
                    .build(),
            )
            .await?;
        let counters = log.counters();
        counters.create_index(IndexModel::builder().keys(doc! { "dirty": 1 }).build()).await?;
        let progress = db.collection::<Document>("projections");
        let (wake, wakes) = mpsc::unbounded_channel();
        Ok(Ledgers {
            inner: Arc::new(Inner {
                log,
                pg,
                records,
                month_totals,
                snapshots,
                counters,
                progress,
                cache: Mutex::new(HashMap::new()),
                budget: cache_mb.max(1) * 1024 * 1024,
                instance: Uuid::new_v4().to_string(),
                cpu: Semaphore::new(2),
                offers: Mutex::new(HashSet::new()),
                wake,
                wakes: Mutex::new(Some(wakes)),
            }),
        })
    }

    /// Asks the materializer to bring an account's projections up to date.
    pub fn schedule(&self, account: Uuid) {
        let _ = self.inner.wake.send(account);
    }

    /// The materializer: projects the accounts it is woken for, at most two at once, and
    /// every few seconds looks for accounts left dirty (by an interrupted materialization
    /// or another instance). Runs until the process ends.
    pub async fn run(self) {
        let Some(mut wakes) = self.inner.wakes.lock().expect("wakes lock").take() else {
            return;
        };
        let running: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let again: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        // When each account's last pass began.
        let began: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
        let slots = Arc::new(Semaphore::new(2));
        let mut sweep = tokio::time::interval(SWEEP);
        loop {
            let accounts: Vec<Uuid> = tokio::select! {
                Some(account) = wakes.recv() => vec![account],
                _ = sweep.tick() => {
                    self.evict_idle();
                    began.lock().expect("passes lock").retain(|_, at| at.elapsed() < 2 * PACE_MAX);
                    match self.dirty_accounts().await {
                        Ok(accounts) => accounts,
                        Err(e) => {
                            tracing::warn!(error = %e, "looking for accounts to materialize failed");
                            Vec::new()
                        }
                    }
                }
                else => return,
            };
            for account in accounts {
                if !running.lock().expect("running lock").insert(account) {
                    again.lock().expect("again lock").insert(account);
                    continue;
                }
                let (this, running, again, began, slots) =
                    (self.clone(), running.clone(), again.clone(), began.clone(), slots.clone());
                tokio::spawn(async move {
                    // Changes arriving together (two devices of one account, a burst of
                    // pushes) are published in one pass.
                    tokio::time::sleep(COALESCE).await;
                    loop {
                        let waiting = running.lock().expect("running lock").len();
                        let last = began.lock().expect("passes lock").get(&account).copied();
                        if let Some(last) = last {
                            tokio::time::sleep_until(tokio::time::Instant::from_std(last + pace(waiting))).await;
                        }
                        let permit = slots.acquire().await;
                        began.lock().expect("passes lock").insert(account, Instant::now());
                        if let Err(e) = this.materialize(account).await {
                            tracing::warn!(error = %e, %account, "materializing failed; retried later");
                        }
                        drop(permit);
                        if !again.lock().expect("again lock").remove(&account) {
                            break;
                        }
                    }
                    running.lock().expect("running lock").remove(&account);
                });
            }
        }
    }

    /// Accounts whose log is ahead of their projections and which no change woke for a
    /// while (active ones are woken by every push). An account whose projections caught up
    /// has its `dirty` flag cleared here (unless a change came since): the flag is written
    /// once per quiet account, never once per pass.
    async fn dirty_accounts(&self) -> Result<Vec<Uuid>> {
        let quiet = BsonDateTime::from_millis(BsonDateTime::now().timestamp_millis() - QUIET.as_millis() as i64);
        let dirty: Vec<Document> = self
            .inner
            .counters
            .find(doc! { "dirty": true, "updated_at": { "$lt": quiet } })
            .projection(doc! { "_id": 1, "seq": 1 })
            .limit(1000)
            .await?
            .try_collect()
            .await?;
        if dirty.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = dirty.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        let reached: HashMap<String, i64> = self
            .inner
            .progress
            .find(doc! { "_id": { "$in": &ids } })
            .projection(doc! { "_id": 1, "materialized": 1 })
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|d| Some((d.get_str("_id").ok()?.to_string(), int(d.get("materialized"))?)))
            .collect();
        let mut behind = Vec::new();
        for d in &dirty {
            let (Ok(id), Some(seq)) = (d.get_str("_id"), int(d.get("seq"))) else { continue };
            if reached.get(id).is_some_and(|&m| m >= seq) {
                self.inner
                    .counters
                    .update_one(doc! { "_id": id, "seq": seq, "dirty": true }, doc! { "$set": { "dirty": false } })
                    .await?;
            } else if let Ok(account) = Uuid::parse_str(id) {
                behind.push(account);
            }
        }
        Ok(behind)
    }

    fn evict_idle(&self) {
        let mut cache = self.inner.cache.lock().expect("cache lock");
        cache.retain(|_, c| c.used.elapsed() < IDLE || c.slot.try_lock().is_err());
    }

    fn slot(&self, account: Uuid) -> Slot {
        let mut cache = self.inner.cache.lock().expect("cache lock");
        if let Some(c) = cache.get_mut(&account) {
            c.used = Instant::now();
            return c.slot.clone();
        }
        let slot: Slot = Arc::default();
        cache.insert(account, Cached { slot: slot.clone(), used: Instant::now(), weight: MIN_WEIGHT });
        slot
    }

    /// Records what a replica weighs now and drops the least recently used others (that
    /// nobody is using) while all together weigh more than the budget.
    fn weigh(&self, account: Uuid, replica: &Replica) {
        let weight = replica
            .store
            .storage_stats()
            .map(|s| (s.snapshot_bytes + s.pending_bytes) * WEIGHT_FACTOR)
            .unwrap_or(0)
            .max(MIN_WEIGHT);
        let mut cache = self.inner.cache.lock().expect("cache lock");
        if let Some(c) = cache.get_mut(&account) {
            c.weight = weight;
        }
        loop {
            let total: u64 = cache.values().map(|c| c.weight).sum();
            if total <= self.inner.budget {
                return;
            }
            let victim = cache
                .iter()
                .filter(|(id, c)| **id != account && c.slot.try_lock().is_ok())
                .min_by_key(|(_, c)| c.used)
                .map(|(id, _)| *id);
            match victim {
                Some(id) => {
                    cache.remove(&id);
                }
                None => return,
            }
        }
    }

    /// Brings the account's replica up to its change log, loading it first if needed.
    async fn catch_up(&self, account: Uuid, slot: &mut Option<Replica>) -> Result<()> {
        while self.catch_up_step(account, slot).await? {}
        if let Some(replica) = slot.as_ref() {
            self.weigh(account, replica);
        }
        Ok(())
    }

    /// Applies the next changes of the log, at most about `STEP_OPS` operations of them (at
    /// least one change), so that what they changed stays a list of records rather than
    /// "everything"; returns whether more are waiting.
    async fn catch_up_step(&self, account: Uuid, slot: &mut Option<Replica>) -> Result<bool> {
        if slot.is_none() {
            *slot = Some(self.load(account).await?);
        }
        let cursor = slot.as_ref().map(|r| r.cursor).unwrap_or(0);
        let page = self.inner.log.pull(account, cursor, STEP_CHANGES).await?;
        if page.changes.is_empty() {
            return Ok(false);
        }
        let mut replica = slot.take().expect("loaded above");
        let total = page.changes.len();
        let (replica, result) = self
            .blocking(move || {
                let (mut ops, mut raw, mut last) = (0usize, Vec::new(), cursor);
                for logged in page.changes {
                    let n = automerge::Change::from_bytes(logged.change.0.clone()).map(|c| c.len()).unwrap_or(0);
                    if !raw.is_empty() && ops + n > STEP_OPS {
                        break;
                    }
                    ops += n;
                    last = logged.seq;
                    raw.push(logged.change.0);
                }
                let taken = raw.len();
                let bytes: usize = raw.iter().map(Vec::len).sum();
                let result = replica.store.apply_changes(&raw).map(|_| (taken, last, bytes as i64));
                (replica, result)
            })
            .await;
        match result {
            Ok((taken, last, bytes)) => {
                let unsnapshotted = replica.unsnapshotted + bytes;
                *slot = Some(Replica { cursor: last, unsnapshotted, ..replica });
                Ok(page.more || taken < total)
            }
            // The log holds a change the ledger refuses (forged, or from a newer app): the
            // replica is dropped and the error reported.
            Err(e) => Err(Error::Internal(anyhow::anyhow!("account {account}: {e}"))),
        }
    }

    /// Loads a replica: the newest snapshot, then the changes the projections already hold
    /// (so that only what came later counts as changed).
    async fn load(&self, account: Uuid) -> Result<Replica> {
        let (snapshot_upto, bytes) = match self.stored_snapshot(account).await? {
            Some(stored) => (stored.upto, Some(stored.bytes)),
            None => (0, None),
        };
        let (materialized, records_version) = self.progress(account).await?;
        let mut replica = self
            .blocking(move || {
                Store::replica_in_memory(ActorId::random(), bytes.as_deref()).map(|store| Replica {
                    store,
                    cursor: snapshot_upto,
                    snapshot_upto,
                    unsnapshotted: 0,
                    tags: None,
                })
            })
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("account {account}: the stored snapshot: {e}")))?;
        if snapshot_upto <= materialized {
            let mut slot = Some(replica);
            while slot.as_ref().is_some_and(|r| r.cursor < materialized) {
                let cursor = slot.as_ref().map(|r| r.cursor).unwrap_or(0);
                let limit = (materialized - cursor).clamp(1, i64::from(expenso_core::sync::MAX_PULL)) as u32;
                let page = self.inner.log.pull(account, cursor, limit).await?;
                if page.changes.is_empty() {
                    break;
                }
                let raw: Vec<Vec<u8>> = page.changes.into_iter().map(|c| c.change.0).collect();
                let bytes: i64 = raw.iter().map(|c| c.len() as i64).sum();
                let mut r = slot.take().expect("present");
                let (r, result) = self
                    .blocking(move || {
                        let result = r.store.apply_changes(&raw).map(|_| ());
                        (r, result)
                    })
                    .await;
                result.map_err(|e| Error::Internal(anyhow::anyhow!("account {account}: {e}")))?;
                slot = Some(Replica { cursor: page.cursor, unsnapshotted: r.unsnapshotted + bytes, ..r });
            }
            replica = slot.expect("present");
            // The projections hold everything up to here already (if anything was ever
            // published: a new account's first pass publishes the genesis' categories too;
            // and in today's shape: older records are all published again).
            if materialized > 0 && records_version >= RECORDS_VERSION {
                replica.store.take_changed();
            }
        }
        Ok(replica)
    }

    /// Runs replica work off the async threads, two at a time.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let _permit = self.inner.cpu.acquire().await;
        tokio::task::spawn_blocking(work).await.expect("replica work does not panic")
    }

    /// Brings the account's records and rows up to its change log. Returns whether this
    /// instance did it (false: another instance holds the account's lease).
    pub async fn materialize(&self, account: Uuid) -> Result<bool> {
        if !self.lease(account).await? {
            return Ok(false);
        }
        let result = self.materialize_leased(account).await;
        // One write records how far the projections reach and ends the lease.
        let mut update = doc! { "$set": { "lease_until": BsonDateTime::from_millis(0) } };
        if let Ok(cursor) = &result {
            update.insert("$max", doc! { "materialized": *cursor, "records_version": RECORDS_VERSION });
        }
        self.inner
            .progress
            .update_one(doc! { "_id": account.to_string(), "lease_owner": &self.inner.instance }, update)
            .await?;
        result.map(|_| true)
    }

    /// Returns the log position the projections now reach.
    async fn materialize_leased(&self, account: Uuid) -> Result<i64> {
        let slot = self.slot(account);
        let mut guard = slot.lock().await;
        let result = async {
            // Step by step, publishing after each: a large upload is published as lists of
            // records, never wholesale, and the lease is renewed while it lasts.
            let mut transactions_changed = false;
            loop {
                self.inner.log.give_way(GIVE_WAY).await;
                let more = self.catch_up_step(account, &mut guard).await?;
                let changed = guard.as_mut().expect("caught up").store.take_changed();
                transactions_changed |= changed.everything || !changed.transactions.is_empty();
                if !changed.is_empty() {
                    self.project(account, &mut guard, &changed).await?;
                }
                if !more {
                    break;
                }
                self.lease(account).await?;
            }
            self.publish_tags(account, guard.as_mut().expect("caught up"), transactions_changed).await?;
            self.raise_alerts(account, &mut guard).await?;
            let cursor = guard.as_ref().expect("caught up").cursor;
            self.weigh(account, guard.as_ref().expect("caught up"));
            self.maybe_snapshot(account, guard.as_mut().expect("present")).await?;
            Ok(cursor)
        }
        .await;
        if result.is_err() {
            // What was taken from the replica may be half published: reload it, so the next
            // pass starts again from what the projections are known to hold.
            *guard = None;
        }
        result
    }

    /// Evaluates the account's budgets after a merge, so that an alert spending crossed is
    /// raised even while no device runs (a device that was offline learns of it when it
    /// returns). A raised alert is a change of the server's own, stored in the log like a
    /// dashboard's edit and published at once.
    async fn raise_alerts(&self, account: Uuid, slot: &mut Option<Replica>) -> Result<()> {
        let has_budgets = !slot.as_ref().expect("caught up").store.budgets().map_err(internal)?.is_empty();
        if !has_budgets {
            return Ok(());
        }
        let replica = slot.take().expect("caught up");
        let now = chrono::Utc::now();
        let (replica, outcome) = self
            .blocking(move || {
                let mut replica = replica;
                let outcome = (|| {
                    let before = replica.store.heads()?;
                    let raised = replica.store.raise_alerts(now.date_naive(), now)?;
                    let changes = if raised.is_empty() { Vec::new() } else { replica.store.changes_since(&before)? };
                    Ok::<_, expenso_core::Error>(changes)
                })();
                (replica, outcome)
            })
            .await;
        let changes = match outcome {
            Ok(changes) => changes,
            Err(e) => {
                *slot = Some(replica);
                return Err(internal(e));
            }
        };
        if changes.is_empty() {
            *slot = Some(replica);
            return Ok(());
        }
        let wire: Vec<WireChange> = changes.into_iter().map(WireChange).collect();
        // The replica now holds a change the log may not: on failure it is dropped (reloaded
        // by the next pass).
        self.inner.log.push(account, Uuid::nil(), &wire).await?;
        *slot = Some(replica);
        let changed = slot.as_mut().expect("present").store.take_changed();
        self.project(account, slot, &changed).await
    }

    async fn lease(&self, account: Uuid) -> Result<bool> {
        let now = BsonDateTime::now();
        let until = BsonDateTime::from_millis(now.timestamp_millis() + LEASE.as_millis() as i64);
        let me = &self.inner.instance;
        let taken = self
            .inner
            .progress
            .find_one_and_update(
                doc! { "_id": account.to_string(), "$or": [
                    { "lease_until": { "$exists": false } },
                    { "lease_until": { "$lt": now } },
                    { "lease_owner": me },
                ] },
                doc! { "$set": { "lease_owner": me, "lease_until": until } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await;
        match taken {
            Ok(taken) => Ok(taken.is_some()),
            // The account's record exists and another instance holds the lease.
            Err(e) if crate::sync::is_duplicate(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// How far the account's projections reach in its log, and the shape of its records.
    async fn progress(&self, account: Uuid) -> Result<(i64, i64)> {
        let progress = self.inner.progress.find_one(doc! { "_id": account.to_string() }).await?;
        let get = |key: &str| progress.as_ref().and_then(|d| int(d.get(key))).unwrap_or(0);
        Ok((get("materialized"), get("records_version")))
    }

    /// Publishes what changed: records to MongoDB, categories, payment methods and settings
    /// to PostgreSQL. Every write states the current value, so publishing twice is harmless.
    async fn project(&self, account: Uuid, slot: &mut Option<Replica>, changed: &Changed) -> Result<()> {
        // The store is read in plain statements only: a reference to it (not `Sync`) never
        // lives across an await.
        let replica = slot.as_ref().expect("caught up");
        let gathered = gather(account, &replica.store, changed).map_err(internal)?;
        let rows_changed = changed.everything
            || changed.settings
            || gathered.categories.is_some()
            || gathered.payment_methods.is_some()
            || gathered.budgets.is_some();
        if rows_changed {
            let mut tx = self.inner.pg.begin().await?;
            sqlx::query(
                "INSERT INTO ledger_settings (user_id, base_currency) VALUES ($1, $2)
                     ON CONFLICT (user_id) DO UPDATE SET base_currency = excluded.base_currency",
            )
            .bind(account)
            .bind(gathered.settings.base_currency.code())
            .execute(&mut *tx)
            .await?;
            if let Some(categories) = &gathered.categories {
                sqlx::query("DELETE FROM ledger_categories WHERE user_id = $1").bind(account).execute(&mut *tx).await?;
                for c in categories {
                    sqlx::query(
                        "INSERT INTO ledger_categories (user_id, id, name, kind, color, icon, archived, builtin, deleted, merged_into)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(account)
                    .bind(c.id)
                    .bind(&c.name)
                    .bind(c.kind.as_str())
                    .bind(&c.color)
                    .bind(&c.icon)
                    .bind(c.archived)
                    .bind(c.builtin)
                    .bind(c.deleted)
                    .bind(c.merged_into)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if let Some(methods) = &gathered.payment_methods {
                sqlx::query("DELETE FROM ledger_payment_methods WHERE user_id = $1")
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
                for m in methods {
                    sqlx::query(
                        "INSERT INTO ledger_payment_methods (user_id, id, name, archived, builtin) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(account)
                    .bind(m.id)
                    .bind(&m.name)
                    .bind(m.archived)
                    .bind(m.builtin)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if let Some(budgets) = &gathered.budgets {
                sqlx::query("DELETE FROM ledger_budgets WHERE user_id = $1").bind(account).execute(&mut *tx).await?;
                for b in budgets {
                    let thresholds: Vec<i32> = b.thresholds.iter().map(|t| *t as i32).collect();
                    sqlx::query(
                        "INSERT INTO ledger_budgets (user_id, id, name, category_id, period, amount, currency, start_date,
                                                     rollover, thresholds)
                         VALUES ($1, $2, $3, $4, $5, $6::numeric, $7, $8, $9, $10)",
                    )
                    .bind(account)
                    .bind(b.id)
                    .bind(&b.name)
                    .bind(b.category_id)
                    .bind(b.period.as_str())
                    .bind(b.amount.to_string())
                    .bind(b.currency.code())
                    .bind(b.start)
                    .bind(b.rollover)
                    .bind(thresholds)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        }

        let key = account.to_string();
        if changed.everything {
            self.inner.records.delete_many(doc! { "account": &key }).await?;
            let mut after = None;
            loop {
                let page =
                    slot.as_ref().expect("caught up").store.transactions_by_id(after, BULK as u32).map_err(internal)?;
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                self.inner.log.give_way(GIVE_WAY).await;
                self.inner.records.insert_many(page.iter().map(|t| record(account, t))).await?;
            }
            let rows = slot.as_ref().expect("caught up").store.month_rows(None).map_err(internal)?;
            self.inner.month_totals.delete_many(doc! { "account": &key }).await?;
            for chunk in rows.chunks(BULK) {
                self.inner.log.give_way(GIVE_WAY).await;
                self.inner.month_totals.insert_many(chunk.iter().map(|r| month_total(account, r))).await?;
            }
            return Ok(());
        }
        if gathered.records.len() <= ONE_BY_ONE {
            for (id, record) in gathered.records {
                let _id = format!("{key}:{id}");
                self.inner.log.give_way(GIVE_WAY).await;
                match record {
                    Some(r) => {
                        self.inner.records.replace_one(doc! { "_id": &_id }, r).upsert(true).await?;
                    }
                    None => {
                        self.inner.records.delete_one(doc! { "_id": &_id }).await?;
                    }
                }
            }
        } else {
            for chunk in gathered.records.chunks(BULK) {
                let keys: Vec<String> = chunk.iter().map(|(id, _)| format!("{key}:{id}")).collect();
                let docs: Vec<&Document> = chunk.iter().filter_map(|(_, r)| r.as_ref()).collect();
                self.inner.log.give_way(GIVE_WAY).await;
                self.inner.records.delete_many(doc! { "_id": { "$in": keys } }).await?;
                if !docs.is_empty() {
                    self.inner.records.insert_many(docs).await?;
                }
            }
        }
        // The months whose totals changed, as the replica's view says (those its changed
        // transactions are in now and were in before).
        if !changed.months.is_empty() {
            let wanted: Vec<Month> = changed.months.iter().copied().collect();
            let rows = slot.as_ref().expect("caught up").store.month_rows(Some(&wanted)).map_err(internal)?;
            let list: Vec<String> = wanted.iter().map(Month::to_string).collect();
            self.inner.month_totals.delete_many(doc! { "account": &key, "month": { "$in": list } }).await?;
            if !rows.is_empty() {
                self.inner.month_totals.insert_many(rows.iter().map(|r| month_total(account, r))).await?;
            }
        }
        Ok(())
    }

    /// Publishes the tags in use (PostgreSQL `ledger_tags`, one row an account) once a pass
    /// changed transactions and the tags differ from what the replica published, and on a
    /// replica's first pass (the row may be older, or missing).
    async fn publish_tags(&self, account: Uuid, replica: &mut Replica, transactions_changed: bool) -> Result<()> {
        if !transactions_changed && replica.tags.is_some() {
            return Ok(());
        }
        let tags = replica.store.tags().map_err(internal)?;
        if replica.tags.as_ref() == Some(&tags) {
            return Ok(());
        }
        let (names, counts): (Vec<&str>, Vec<i64>) = tags.iter().map(|(t, n)| (t.as_str(), *n as i64)).unzip();
        sqlx::query(
            "INSERT INTO ledger_tags (user_id, tags, counts) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET tags = excluded.tags, counts = excluded.counts",
        )
        .bind(account)
        .bind(&names)
        .bind(&counts)
        .execute(&self.inner.pg)
        .await?;
        replica.tags = Some(tags);
        Ok(())
    }

    /// Stores a new snapshot once enough changes, or enough bytes of changes, arrived since
    /// the last.
    async fn maybe_snapshot(&self, account: Uuid, replica: &mut Replica) -> Result<()> {
        if replica.cursor - replica.snapshot_upto < SNAPSHOT_EVERY && replica.unsnapshotted < SNAPSHOT_BYTES {
            return Ok(());
        }
        // A device may have offered one that reaches as far.
        if let Some(stored) = self.newest_snapshot(account).await? {
            if stored.upto >= replica.cursor {
                replica.snapshot_upto = replica.cursor;
                replica.unsnapshotted = 0;
                return Ok(());
            }
        }
        let log = self.inner.log.size(account).await?;
        let bytes = replica.store.save_document().map_err(internal)?;
        self.store_snapshot(account, replica.cursor, &bytes, log).await?;
        replica.snapshot_upto = replica.cursor;
        replica.unsnapshotted = 0;
        Ok(())
    }

    /// `(latest, log_bytes)`: the log's size read before the snapshot was made. Its bytes are
    /// recorded with the snapshot only when the snapshot reaches the log's end, the one point
    /// where they are known (none is safe: the snapshot then only looks older than it is).
    async fn store_snapshot(&self, account: Uuid, upto: i64, bytes: &[u8], log: (i64, Option<i64>)) -> Result<()> {
        let (latest, log_bytes) = log;
        let log_bytes = log_bytes.filter(|_| upto >= latest);
        let key = account.to_string();
        let parts: Vec<&[u8]> = bytes.chunks(SNAPSHOT_PART).collect();
        let count = parts.len() as i32;
        let now = BsonDateTime::now();
        // Two snapshots of the same position written at once (a device's offer and one made
        // here) may overwrite each other's parts: each part says which snapshot it belongs to,
        // and a mixed set is not read as a snapshot.
        let made = Uuid::new_v4().to_string();
        for (i, part) in parts.into_iter().enumerate() {
            let filter = doc! { "account": &key, "upto": upto, "part": i as i32 };
            let mut body = doc! {
                "account": &key, "upto": upto, "part": i as i32, "parts": count, "created_at": now, "made": &made,
                "data": Binary { subtype: BinarySubtype::Generic, bytes: part.to_vec() },
            };
            if let Some(log_bytes) = log_bytes {
                body.insert("log_bytes", log_bytes);
            }
            self.inner.snapshots.replace_one(filter, body).upsert(true).await?;
        }
        self.inner.snapshots.delete_many(doc! { "account": &key, "upto": { "$lt": upto } }).await?;
        Ok(())
    }

    /// A snapshot made without the replica: the stored one (if any) with the log after it
    /// applied, saved compacted and stored for the next fresh device. `log`: the log's size
    /// read before.
    async fn snapshot_from_log(
        &self,
        account: Uuid,
        stored: Option<StoredSnapshot>,
        log: (i64, Option<i64>),
    ) -> Result<(i64, Vec<u8>)> {
        let (mut upto, base) = match stored {
            Some(s) => (s.upto, Some(s.bytes)),
            None => (0, None),
        };
        let mut raw = Vec::new();
        loop {
            let page = self.inner.log.pull(account, upto, expenso_core::sync::MAX_PULL).await?;
            if page.changes.is_empty() {
                break;
            }
            upto = page.cursor;
            raw.extend(page.changes.into_iter().map(|c| c.change.0));
            if !page.more {
                break;
            }
        }
        let bytes = self
            .blocking(move || Store::compact_document(base.as_deref(), raw))
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("account {account}: a snapshot from the log: {e}")))?;
        self.store_snapshot(account, upto, &bytes, log).await?;
        Ok((upto, bytes))
    }

    /// The newest stored snapshot's position, parts and log bytes, without its data.
    async fn newest_snapshot(&self, account: Uuid) -> Result<Option<SnapshotInfo>> {
        let newest = self
            .inner
            .snapshots
            .find_one(doc! { "account": account.to_string() })
            .sort(doc! { "upto": -1 })
            .projection(doc! { "upto": 1, "parts": 1, "log_bytes": 1 })
            .await?;
        Ok(newest.and_then(|d| {
            Some(SnapshotInfo {
                upto: int(d.get("upto"))?,
                parts: int(d.get("parts"))?,
                log_bytes: int(d.get("log_bytes")),
            })
        }))
    }

    /// The newest complete snapshot.
    async fn stored_snapshot(&self, account: Uuid) -> Result<Option<StoredSnapshot>> {
        let key = account.to_string();
        let Some(SnapshotInfo { upto, parts, log_bytes }) = self.newest_snapshot(account).await? else {
            return Ok(None);
        };
        let docs: Vec<Document> = self
            .inner
            .snapshots
            .find(doc! { "account": &key, "upto": upto })
            .sort(doc! { "part": 1 })
            .await?
            .try_collect()
            .await?;
        let made = |d: &Document| d.get_str("made").ok().map(str::to_string);
        if docs.len() as i64 != parts || docs.iter().any(|d| made(d) != made(&docs[0])) {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        for d in &docs {
            bytes.extend_from_slice(&d.get_binary_generic("data").map_err(|e| Error::Internal(e.into()))?[..]);
        }
        Ok(Some(StoredSnapshot { upto, bytes, log_bytes }))
    }

    /// A compacted snapshot for a fresh device and the log position it covers: the stored
    /// one while few changes (and few bytes of them) came after it, else a new one made now.
    pub async fn snapshot(&self, account: Uuid) -> Result<(i64, Vec<u8>)> {
        let (latest, log_bytes) = self.inner.log.size(account).await?;
        let stored = match self.stored_snapshot(account).await? {
            Some(s) if recent(s.upto, s.log_bytes, (latest, log_bytes)) => return Ok((s.upto, s.bytes)),
            other => other,
        };
        let slot = self.slot(account);
        // The replica may be busy for a long while (publishing a large upload): rather than
        // wait for it, the snapshot is made from the stored one and the log after it.
        let Ok(mut guard) = slot.try_lock() else {
            return self.snapshot_from_log(account, stored, (latest, log_bytes)).await;
        };
        let result = async {
            self.catch_up(account, &mut guard).await?;
            let mut replica = guard.take().expect("caught up");
            let (replica, bytes) = self
                .blocking(move || {
                    let bytes = replica.store.save_document();
                    (replica, bytes)
                })
                .await;
            let upto = replica.cursor;
            *guard = Some(replica);
            let bytes = bytes.map_err(internal)?;
            self.store_snapshot(account, upto, &bytes, (latest, log_bytes)).await?;
            if let Some(r) = guard.as_mut() {
                r.snapshot_upto = upto;
                r.unsnapshotted = 0;
            }
            Ok((upto, bytes))
        }
        .await;
        if result.is_err() {
            *guard = None;
        }
        result
    }

    /// A snapshot a device offers once its large upload is stored: its saved document, which
    /// it says holds the log up to `upto`. Kept, for the fresh devices to come, when the
    /// stored snapshot is behind by as much as would have a new one made, and only once the
    /// document proves to hold exactly the log's changes up to there; else nothing changes.
    /// Returns whether it was kept.
    pub async fn offer_snapshot(&self, account: Uuid, upto: i64, bytes: Vec<u8>) -> Result<bool> {
        let (latest, log_bytes) = self.inner.log.size(account).await?;
        if upto < 1 || upto > latest {
            return Err(Error::Invalid(format!("{SNAPSHOT_SEQ_HEADER}: the change log reaches {latest}, not {upto}")));
        }
        if let Some(stored) = self.newest_snapshot(account).await? {
            if stored.upto >= upto || recent(stored.upto, stored.log_bytes, (latest, log_bytes)) {
                return Ok(false);
            }
        }
        // One check at a time per account: offers sent in a loop load one document at a time.
        let Some(_checking) = Checking::start(&self.inner.offers, account) else {
            return Ok(false);
        };
        let hashes = self.inner.log.hashes_upto(account, upto).await?;
        let document = bytes.clone();
        let matches = self.blocking(move || Store::document_matches_log(&document, &hashes)).await;
        match matches {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                return Err(Error::Conflict(format!("the snapshot does not hold the change log up to {upto}: {why}")))
            }
            Err(e) => return Err(Error::Invalid(format!("the snapshot: {e}"))),
        }
        self.store_snapshot(account, upto, &bytes, (latest, log_bytes)).await?;
        Ok(true)
    }

    /// Makes a change to an account's ledger on the server's behalf (the web dashboard):
    /// `edit` runs on the caught-up replica, its change is stored in the change log like a
    /// device's (so every device receives it), and the projections are brought up to date
    /// before the answer.
    pub async fn write<T: Send + 'static>(
        &self,
        account: Uuid,
        session: Uuid,
        edit: impl FnOnce(&mut Store) -> expenso_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        let slot = self.slot(account);
        let value = {
            let mut guard = slot.lock().await;
            self.catch_up(account, &mut guard).await?;
            let replica = guard.take().expect("caught up");
            let (replica, outcome) = self
                .blocking(move || {
                    let mut replica = replica;
                    let mut before = None;
                    let outcome = (|| {
                        before = Some(replica.store.heads()?);
                        let value = edit(&mut replica.store)?;
                        let changes = replica.store.changes_since(before.as_deref().unwrap_or_default())?;
                        Ok::<_, expenso_core::Error>((value, changes))
                    })();
                    // An edit of several changes that failed after the first (plans that booked
                    // and then could not raise an alert) leaves the replica ahead of the log.
                    let ahead = outcome.is_err() && replica.store.heads().ok() != before;
                    (replica, outcome.map_err(|e| (e, ahead)))
                })
                .await;
            let (value, changes) = match outcome {
                Ok(ok) => ok,
                Err((e, ahead)) => {
                    if !ahead {
                        *guard = Some(replica);
                    }
                    return Err(e.into());
                }
            };
            if !changes.is_empty() {
                let wire: Vec<WireChange> = changes.into_iter().map(WireChange).collect();
                if let Err(e) = self.inner.log.push(account, session, &wire).await {
                    // The replica holds a change the log does not: it must not be used again.
                    drop(replica);
                    return Err(e);
                }
            }
            *guard = Some(replica);
            value
        };
        self.settle(account).await?;
        Ok(value)
    }

    /// Materializes now, waiting a little for another instance's lease to end, so that the
    /// dashboard reads its own writes.
    async fn settle(&self, account: Uuid) -> Result<()> {
        for attempt in 0..20 {
            if self.materialize(account).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
        }
        self.schedule(account);
        Ok(())
    }

    /// Reads from the account's caught-up replica (for what the records do not answer).
    pub async fn read<T: Send + 'static>(
        &self,
        account: Uuid,
        read: impl FnOnce(&Store) -> expenso_core::Result<T> + Send + 'static,
    ) -> Result<T> {
        let slot = self.slot(account);
        let mut guard = slot.lock().await;
        self.catch_up(account, &mut guard).await?;
        let replica = guard.take().expect("caught up");
        let (replica, value) = self
            .blocking(move || {
                let value = read(&replica.store);
                (replica, value)
            })
            .await;
        *guard = Some(replica);
        Ok(value?)
    }

    /// Removes an account's records, snapshots and projections (account deletion).
    pub async fn delete_account(&self, account: Uuid) -> Result<()> {
        // Waits for this instance's work on the account to finish, and drops the replica.
        let slot = self.slot(account);
        let mut guard = slot.lock().await;
        *guard = None;
        self.inner.cache.lock().expect("cache lock").remove(&account);
        let key = account.to_string();
        self.inner.records.delete_many(doc! { "account": &key }).await?;
        self.inner.month_totals.delete_many(doc! { "account": &key }).await?;
        self.inner.snapshots.delete_many(doc! { "account": &key }).await?;
        self.inner.progress.delete_one(doc! { "_id": &key }).await?;
        drop(guard);
        Ok(())
    }

    pub fn month_totals(&self) -> &Collection<Document> {
        &self.inner.month_totals
    }

    pub fn snapshots(&self) -> &Collection<Document> {
        &self.inner.snapshots
    }

    pub fn records(&self) -> &Collection<Document> {
        &self.inner.records
    }

    pub fn pg(&self) -> &sqlx::PgPool {
        &self.inner.pg
    }
}

/// What a pass publishes, read from the replica in one go.
struct Gathered {
    settings: expenso_core::Settings,
    categories: Option<Vec<expenso_core::Category>>,
    payment_methods: Option<Vec<expenso_core::PaymentMethod>>,
    budgets: Option<Vec<expenso_core::Budget>>,
    /// Changed transactions: the record to write, or `None` to remove it.
    records: Vec<(Uuid, Option<Document>)>,
}

fn gather(account: Uuid, store: &Store, changed: &Changed) -> expenso_core::Result<Gathered> {
    let all = changed.everything;
    let categories = (all || !changed.categories.is_empty()).then(|| store.all_categories()).transpose()?;
    let payment_methods =
        (all || !changed.payment_methods.is_empty()).then(|| store.payment_methods(true)).transpose()?;
    let budgets = (all || !changed.budgets.is_empty()).then(|| store.budgets()).transpose()?;
    let mut records = Vec::new();
    if !all {
        for &id in &changed.transactions {
            records.push((id, store.transaction(id)?.map(|t| record(account, &t))));
        }
    }
    Ok(Gathered { settings: store.settings()?, categories, payment_methods, budgets, records })
}

fn internal(e: expenso_core::Error) -> Error {
    Error::Internal(e.into())
}

pub(crate) fn int(v: Option<&Bson>) -> Option<i64> {
    match v? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Double(v) => Some(*v as i64),
        _ => None,
    }
}

/// A transaction as the dashboard's records hold it; its amounts are Decimal128, exact. The
/// amount in the base currency is null, and `rated` false, when no rate converts it.
fn record(account: Uuid, t: &Transaction) -> Document {
    doc! {
        "_id": format!("{account}:{}", t.id),
        "account": account.to_string(),
        "id": t.id.to_string(),
        "kind": t.kind.as_str(),
        "amount": decimal128(t.amount),
        "currency": t.currency.code(),
        "base_amount": t.base_amount.map(|b| Bson::Decimal128(decimal128(b))).unwrap_or(Bson::Null),
        "rated": t.base_amount.is_some(),
        "date": t.date.format("%Y-%m-%d").to_string(),
        "month": t.date.format("%Y-%m").to_string(),
        "category": t.category_id.to_string(),
        "payment_method": t.payment_method_id.to_string(),
        "description": &t.description,
        "description_key": t.description.to_lowercase(),
        "notes": &t.notes,
        "tags": &t.tags,
        "created_at": BsonDateTime::from_millis(t.created_at.timestamp_millis()),
        "updated_at": BsonDateTime::from_millis(t.updated_at.timestamp_millis()),
        "conflicts": mongodb::bson::to_bson(&t.conflicts).unwrap_or(Bson::Null),
    }
}

/// One row of the view's monthly totals as the dashboard's sums read it.
fn month_total(account: Uuid, r: &MonthRow) -> Document {
    let g = &r.sums;
    doc! {
        "_id": format!("{account}:{}:{}:{}:{}", r.month, r.category_id, g.kind.as_str(), g.currency.code()),
        "account": account.to_string(),
        "month": r.month.to_string(),
        "category": r.category_id.to_string(),
        "kind": g.kind.as_str(),
        "currency": g.currency.code(),
        "total": decimal128(g.total),
        "count": g.count as i64,
        "base": decimal128(g.base),
        "base_count": g.base_count as i64,
        "unrated": decimal128(g.unrated),
    }
}

pub fn decimal128(d: Decimal) -> Decimal128 {
    // The scale is kept ("12.50" stays 12.50), as the ledger shows it.
    Decimal128::from_str(&d.to_string()).expect("a decimal's text is a valid Decimal128")
}

/// A Decimal128 back to an exact decimal; `None` if it does not fit (never for sums of
/// amounts a ledger accepts).
pub fn from_decimal128(d: &Decimal128) -> Option<Decimal> {
    let text = d.to_string();
    Decimal::from_str_exact(&text).or_else(|_| Decimal::from_scientific(&text)).ok()
}

/// A compacted snapshot as stored: the log position it covers, its bytes, and the bytes of the
/// log up to there (where known).
/// An account's offer being checked, while it lives.
struct Checking<'a> {
    offers: &'a Mutex<HashSet<Uuid>>,
    account: Uuid,
}

impl<'a> Checking<'a> {
    /// `None` while another offer of the account is being checked.
    fn start(offers: &'a Mutex<HashSet<Uuid>>, account: Uuid) -> Option<Checking<'a>> {
        offers.lock().unwrap_or_else(|p| p.into_inner()).insert(account).then_some(Checking { offers, account })
    }
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.offers.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.account);
    }
}

struct SnapshotInfo {
    upto: i64,
    parts: i64,
    log_bytes: Option<i64>,
}

/// Whether a snapshot of the log up to `upto` (whose bytes were `log_bytes` there) is recent
/// enough to hand out, with the log now at `log` (`(latest, bytes)`).
fn recent(upto: i64, log_bytes: Option<i64>, log: (i64, Option<i64>)) -> bool {
    let (latest, now) = log;
    let few_bytes = match (now, log_bytes) {
        (Some(now), Some(then)) => now - then < SNAPSHOT_BYTES,
        // Made before the log's size was known there: judged by the whole log's.
        (Some(now), None) => upto == latest || now < SNAPSHOT_BYTES,
        (None, _) => true,
    };
    latest - upto < SNAPSHOT_EVERY && few_bytes
}

struct StoredSnapshot {
    upto: i64,
    bytes: Vec<u8>,
    log_bytes: Option<i64>,
}
