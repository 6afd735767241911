//! The sync relay: each account's change log in MongoDB, and the endpoints devices use to
//! push changes, pull the ones they lack, and hear about new ones at once (WebSocket).
//!
//! The server never loads a ledger to relay it: a change is checked (it parses, its checksum
//! holds, it does not reuse an actor's sequence number with other content), numbered, and
//! stored; memory does not grow with devices × ledger size.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Json;
use expenso_core::sync::{
    ClientMessage, LoggedChange, PullResponse, PushRequest, PushResponse, ServerMessage, WireChange, MAX_PULL,
    PROTOCOL_VERSION, SNAPSHOT_SEQ_HEADER,
};
use futures::TryStreamExt;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Document};
use mongodb::error::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{Acknowledgment, CollectionOptions, IndexOptions, ReadConcern, ReturnDocument, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{authenticate, session_alive, Auth};
use crate::error::{Error, ErrorBody, Result};
use crate::ledger::int;
use crate::{ApiJson, AppState};

/// One change may not exceed this; a device splits bigger imports into several changes.
pub const MAX_CHANGE_BYTES: usize = 8 * 1024 * 1024;
/// Changes in one push.
pub const MAX_PUSH: usize = 10_000;
/// A page of a pull stops growing past this many bytes of changes (the device's socket and
/// memory stay bounded whatever the size of its changes).
pub const MAX_PULL_BYTES: usize = 4 * 1024 * 1024;
/// Pushes up to this size travel with the note to the account's other sockets.
const NOTE_MAX_BYTES: usize = 64 * 1024;
/// Pushes of at most this many changes and bytes are stored together with the other small
/// pushes in flight (group commit); larger ones have a transaction of their own, so that a
/// big import never holds up other devices' acknowledgements.
const GROUP_MAX_CHANGES: usize = 64;
const GROUP_MAX_BYTES: usize = 256 * 1024;
/// One group commit stores at most this many pushes and bytes.
const GROUP_PUSHES: usize = 256;
const GROUP_BYTES: usize = 4 * 1024 * 1024;

/// Said to this instance's sockets when an account's log grew: how far it reaches and, for
/// small pushes, the new changes themselves.
#[derive(Debug, Clone)]
pub struct Note {
    pub account: Uuid,
    pub latest: i64,
    pub changes: Option<Arc<Vec<LoggedChange>>>,
}

/// Routes and their OpenAPI operations, registered together.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pull, push)).routes(routes!(socket)).routes(routes!(snapshot, offer_snapshot))
}

/// The change logs in MongoDB.
#[derive(Clone)]
pub struct ChangeLog {
    changes: Collection<Document>,
    counters: Collection<Document>,
    /// Local fan-out of "account X's log reached seq N" to this instance's sockets.
    notify: Arc<Hub>,
    /// Pushes being stored by this instance now.
    in_flight: Arc<InFlight>,
    /// Small pushes waiting for the group writer.
    group: mpsc::Sender<Grouped>,
    /// Where pushes are stored alone.
    writer: Arc<GroupWriter>,
}

/// Each account's channel to this instance's sockets of that account: a note wakes only the
/// account's own devices, so the work per change does not grow with the devices connected.
#[derive(Default)]
struct Hub {
    accounts: Mutex<HashMap<Uuid, broadcast::Sender<Note>>>,
}

/// Notes a socket may fall behind by before it is told only where the log is (it then pulls).
const NOTES_PER_ACCOUNT: usize = 64;

impl Hub {
    fn subscribe(&self, account: Uuid) -> broadcast::Receiver<Note> {
        let mut accounts = self.accounts.lock().expect("hub lock");
        accounts.entry(account).or_insert_with(|| broadcast::channel(NOTES_PER_ACCOUNT).0).subscribe()
    }

    /// Tells the account's sockets; forgets the account once none is left.
    fn send(&self, note: Note) {
        let mut accounts = self.accounts.lock().expect("hub lock");
        if let Some(sender) = accounts.get(&note.account) {
            let account = note.account;
            if sender.send(note).is_err() {
                accounts.remove(&account);
            }
        }
    }

    /// Whether any socket listens.
    fn listened(&self) -> bool {
        let mut accounts = self.accounts.lock().expect("hub lock");
        accounts.retain(|_, sender| sender.receiver_count() > 0);
        !accounts.is_empty()
    }
}

/// A change ready to be written: what its log entry holds, apart from its number.
struct Entry {
    hash: String,
    actor: String,
    actor_seq: i64,
    data: Vec<u8>,
}

impl Entry {
    fn new(change: &automerge::Change) -> Entry {
        Entry {
            hash: change.hash().to_string(),
            actor: change.actor_id().to_hex_string(),
            actor_seq: change.seq() as i64,
            data: change.raw_bytes().to_vec(),
        }
    }

    fn document(&self, account: &str, seq: i64, session: Uuid, now: mongodb::bson::DateTime) -> Document {
        doc! {
            "account": account,
            "seq": seq,
            "hash": &self.hash,
            "actor": &self.actor,
            "actor_seq": self.actor_seq,
            "data": Binary { subtype: BinarySubtype::Generic, bytes: self.data.clone() },
            "session": session.to_string(),
            "received_at": now,
        }
    }
}

/// A small push handed to the group writer, and where its outcome goes.
struct Grouped {
    account: String,
    session: Uuid,
    entries: Arc<[Entry]>,
    stored: oneshot::Sender<Outcome>,
}

/// What became of a push handed to the group writer.
enum Outcome {
    /// Stored; the account's log now reaches this seq.
    Stored(i64),
    /// Stored alone (nothing else was waiting, or its group failed and so did it alone), and
    /// that failed as a push of its own would: a duplicate, a conflict, a lost connection.
    Failed(mongodb::error::Error),
    /// Too large for a group (or the writer has stopped): it is to be stored alone.
    Alone,
}

/// Stores the small pushes that arrive while a transaction is being committed in the next
/// transaction, all together: the database does a few commands per group rather than three
/// per push, which is what lets many devices' changes be acknowledged at once.
struct GroupWriter {
    client: Client,
    db: Database,
    changes: Collection<Document>,
    counters: Collection<Document>,
}

impl GroupWriter {
    async fn run(self: Arc<Self>, mut waiting: mpsc::Receiver<Grouped>) {
        while let Some(first) = waiting.recv().await {
            let mut bytes: usize = first.entries.iter().map(|e| e.data.len()).sum();
            let mut group = vec![first];
            while group.len() < GROUP_PUSHES && bytes < GROUP_BYTES {
                let Ok(next) = waiting.try_recv() else { break };
                bytes += next.entries.iter().map(|e| e.data.len()).sum::<usize>();
                group.push(next);
            }
            let outcomes = self.store_split(&group).await;
            for (push, outcome) in group.into_iter().zip(outcomes) {
                let _ = push.stored.send(outcome);
            }
        }
    }

    /// Stores a group, and when that fails, each half of it as a group, and so on down to
    /// single pushes, one after the other in this task: a duplicate or a conflict costs a few
    /// more transactions, never one per push, and never many at once contending for the same
    /// counters (which would make the next group fail too). A push alone is stored in the
    /// usual three commands; a failure of it is its own and goes back to its push.
    async fn store_split(&self, group: &[Grouped]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(group.len());
        // Ranges still to store. The first half is popped first, so the ranges end in the
        // pushes' order and each outcome lands at its push's index.
        let mut ranges = Vec::new();
        ranges.push(0..group.len());
        while let Some(range) = ranges.pop() {
            if range.len() == 1 {
                let push = &group[range.start];
                outcomes.push(match self.store_one(&push.account, push.session, &push.entries).await {
                    Ok(latest) => Outcome::Stored(latest),
                    Err(e) => Outcome::Failed(e),
                });
                continue;
            }
            match self.store(&group[range.clone()]).await {
                Ok(latest) => outcomes.extend(latest.into_iter().map(Outcome::Stored)),
                Err(e) => {
                    tracing::debug!(error = %e, pushes = range.len(), "a group commit failed; its halves are stored apart");
                    let middle = range.start + range.len() / 2;
                    ranges.push(middle..range.end);
                    ranges.push(range.start..middle);
                }
            }
        }
        outcomes
    }

    /// Numbers and writes the group's changes in one transaction: each account's counter
    /// is read, raised once by all of its pushes, and the changes are inserted in one
    /// command. Returns each push's latest seq. Another instance raising a counter meanwhile
    /// makes the transaction fail (a write conflict), as does a change the log has already
    /// (the unique indexes); nothing of the group is stored then.
    async fn store(&self, group: &[Grouped]) -> anyhow::Result<Vec<i64>> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().write_concern(durable()).read_concern(ReadConcern::majority()).await?;
        let mut accounts: Vec<&str> = group.iter().map(|p| p.account.as_str()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let mut seq: HashMap<String, i64> = HashMap::with_capacity(accounts.len());
        let mut found = self
            .counters
            .find(doc! { "_id": { "$in": &accounts } })
            .projection(doc! { "seq": 1 })
            .session(&mut session)
            .await?;
        while let Some(d) = found.next(&mut session).await.transpose()? {
            if let Ok(id) = d.get_str("_id") {
                seq.insert(id.to_string(), seq_of(&d));
            }
        }
        drop(found);
        let now = mongodb::bson::DateTime::now();
        let mut raised: HashMap<&str, (i64, i64)> = HashMap::with_capacity(accounts.len());
        let mut latest = Vec::with_capacity(group.len());
        let mut docs = Vec::new();
        for push in group {
            let next = seq.entry(push.account.clone()).or_insert(0);
            let (n, b) = raised.entry(push.account.as_str()).or_insert((0, 0));
            for entry in push.entries.iter() {
                *next += 1;
                *n += 1;
                *b += entry.data.len() as i64;
                docs.push(entry.document(&push.account, *next, push.session, now));
            }
            latest.push(*next);
        }
        let updates: Vec<Document> = raised
            .iter()
            .map(|(account, (n, bytes))| {
                doc! {
                    "q": { "_id": *account },
                    "u": { "$inc": { "seq": *n, "bytes": *bytes }, "$set": { "updated_at": now, "dirty": true } },
                    "upsert": true,
                }
            })
            .collect();
        let reply = self
            .db
            .run_command(doc! { "update": self.counters.name(), "updates": updates, "ordered": true })
            .session(&mut session)
            .await?;
        if let Ok(errors) = reply.get_array("writeErrors") {
            if !errors.is_empty() {
                let _ = session.abort_transaction().await;
                anyhow::bail!("raising the counters failed: {errors:?}");
            }
        }
        self.changes.insert_many(docs).session(&mut session).await?;
        commit(&mut session).await?;
        Ok(latest)
    }

    /// Numbers and writes one push's changes in one transaction; returns the log's new latest seq.
    async fn store_one(&self, account: &str, session_id: Uuid, fresh: &[Entry]) -> mongodb::error::Result<i64> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().write_concern(durable()).read_concern(ReadConcern::majority()).await?;
        let n = fresh.len() as i64;
        let bytes: i64 = fresh.iter().map(|e| e.data.len() as i64).sum();
        let now = mongodb::bson::DateTime::now();
        let counter = self
            .counters
            .find_one_and_update(
                doc! { "_id": account },
                doc! { "$inc": { "seq": n, "bytes": bytes }, "$set": { "updated_at": now, "dirty": true } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .session(&mut session)
            .await?;
        let latest = counter.as_ref().map(seq_of).unwrap_or(n);
        let docs: Vec<Document> = fresh
            .iter()
            .enumerate()
            .map(|(i, e)| e.document(account, latest - n + 1 + i as i64, session_id, now))
            .collect();
        self.changes.insert_many(docs).session(&mut session).await?;
        commit(&mut session).await?;
        Ok(latest)
    }
}

/// Commits, retrying a commit whose outcome is unknown (that is safe), a few times.
async fn commit(session: &mut mongodb::ClientSession) -> mongodb::error::Result<()> {
    let mut attempt = 0;
    loop {
        match session.commit_transaction().await {
            Ok(()) => return Ok(()),
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && attempt < 4 => {
                backoff(attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Pushes in flight, which background writers (the materializer's bulk publishing) give way
/// to: a device's acknowledgement does not queue behind them in the database.
#[derive(Default)]
struct InFlight {
    /// The next push's ticket.
    next: AtomicU64,
    /// Tickets of the pushes being stored.
    running: Mutex<BTreeSet<u64>>,
    /// Told whenever a push ends.
    ended: tokio::sync::Notify,
}

/// One push in flight, while it lives.
struct Pushing<'a> {
    in_flight: &'a InFlight,
    ticket: u64,
}

impl InFlight {
    async fn give_way(&self, max: Duration) {
        let before = self.next.load(Ordering::Acquire);
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the pushes are looked at, so one ending in between still
            // wakes it.
            ended.as_mut().enable();
            let oldest = self.running.lock().expect("pushes lock").first().copied();
            if oldest.is_none_or(|t| t >= before) || tokio::time::timeout_at(deadline, ended).await.is_err() {
                return;
            }
        }
    }
}

impl<'a> Pushing<'a> {
    fn new(in_flight: &'a InFlight) -> Pushing<'a> {
        let ticket = in_flight.next.fetch_add(1, Ordering::AcqRel);
        in_flight.running.lock().expect("pushes lock").insert(ticket);
        Pushing { in_flight, ticket }
    }
}

impl Drop for Pushing<'_> {
    fn drop(&mut self) {
        self.in_flight.running.lock().expect("pushes lock").remove(&self.ticket);
        self.in_flight.ended.notify_waiters();
    }
}

impl ChangeLog {
    pub async fn open(client: Client, db: &Database) -> Result<ChangeLog> {
        // Reads see only majority-committed writes, so nothing a device is told or sent can be
        // rolled back by a failover; writes wait for a journaled majority.
        let options =
            CollectionOptions::builder().read_concern(ReadConcern::majority()).write_concern(durable()).build();
        let changes = db.collection_with_options::<Document>("changes", options.clone());
        let counters = db.collection_with_options::<Document>("counters", options);
        let unique = |keys: Document| {
            IndexModel::builder().keys(keys).options(IndexOptions::builder().unique(true).build()).build()
        };
        changes
            .create_indexes([
                unique(doc! { "account": 1, "seq": 1 }),
                unique(doc! { "account": 1, "hash": 1 }),
                unique(doc! { "account": 1, "actor": 1, "actor_seq": 1 }),
            ])
            .await?;
        counters.create_index(IndexModel::builder().keys(doc! { "updated_at": 1 }).build()).await?;
        let notify = Arc::<Hub>::default();
        let (group, waiting) = mpsc::channel(4 * GROUP_PUSHES);
        let writer =
            Arc::new(GroupWriter { client, db: db.clone(), changes: changes.clone(), counters: counters.clone() });
        tokio::spawn(writer.clone().run(waiting));
        Ok(ChangeLog { changes, counters, notify, in_flight: Arc::default(), group, writer })
    }

    /// Waits until the pushes this instance is storing now have been stored, for at most
    /// `max`. Pushes that start meanwhile are not waited for, so a steady stream of them
    /// slows background work down but never stops it.
    pub async fn give_way(&self, max: Duration) {
        self.in_flight.give_way(max).await
    }

    /// Each account's counter: the log's newest seq, and the materializer's bookkeeping.
    pub fn counters(&self) -> Collection<Document> {
        self.counters.clone()
    }

    /// Notes of the account's log growing, for one of its sockets.
    pub fn subscribe(&self, account: Uuid) -> broadcast::Receiver<Note> {
        self.notify.subscribe(account)
    }

    /// The newest seq of an account's log (0 when empty).
    pub async fn latest(&self, account: Uuid) -> Result<i64> {
        Ok(self.size(account).await?.0)
    }

    /// The newest seq of an account's log and the bytes of its changes, where counted (a log
    /// older than the count undercounts, which only makes a fresh device pull rather than
    /// take the snapshot).
    pub async fn size(&self, account: Uuid) -> Result<(i64, Option<i64>)> {
        let counter = self.counters.find_one(doc! { "_id": account.to_string() }).await?;
        let bytes = counter.as_ref().and_then(|c| int(c.get("bytes")));
        Ok((counter.as_ref().map(seq_of).unwrap_or(0), bytes))
    }

    /// Stores changes for an account. All are checked first; then, in one transaction, they
    /// are numbered and written with majority, journaled write concern, so a reply that
    /// acknowledges them comes only after they are durable. Changes already stored count as
    /// stored. A change that reuses an actor's sequence number with other content (forged or
    /// corrupt) is refused and nothing of the push is stored.
    pub async fn push(&self, account: Uuid, session: Uuid, changes: &[WireChange]) -> Result<PushResponse> {
        if changes.len() > MAX_PUSH {
            return Err(Error::Invalid(format!("changes: at most {MAX_PUSH} changes in one push")));
        }
        let mut parsed = Vec::with_capacity(changes.len());
        let mut seen = HashSet::new();
        let mut claimed = HashMap::new();
        for (i, WireChange(bytes)) in changes.iter().enumerate() {
            if bytes.len() > MAX_CHANGE_BYTES {
                return Err(Error::Invalid(format!("changes[{i}]: larger than {MAX_CHANGE_BYTES} bytes")));
            }
            let change = automerge::Change::from_bytes(bytes.clone())
                .map_err(|e| Error::Invalid(format!("changes[{i}]: not an automerge change ({e})")))?;
            if !seen.insert(change.hash()) {
                continue;
            }
            match claimed.insert((change.actor_id().clone(), change.seq()), change.hash()) {
                Some(other) if other != change.hash() => {
                    return Err(Error::Conflict(format!(
                        "changes[{i}] reuses sequence number {} of actor {} with other content",
                        change.seq(),
                        change.actor_id()
                    )))
                }
                _ => parsed.push(change),
            }
        }
        let account_key = account.to_string();
        let _pushing = Pushing::new(&self.in_flight);
        for attempt in 0u32.. {
            // Optimistically insert everything first: a change the log has already (or a
            // forged one reusing an actor's number) fails on the unique indexes, and the
            // next attempt looks first.
            let fresh: Vec<&automerge::Change> = if attempt == 0 {
                parsed.iter().collect()
            } else {
                let stored = self.already_stored(&account_key, &parsed).await?;
                parsed.iter().filter(|c| !stored.contains(&c.hash().to_string())).collect()
            };
            if fresh.is_empty() {
                let latest = self.latest(account).await?;
                return Ok(PushResponse {
                    stored: parsed.iter().map(|c| c.hash().to_string()).collect(),
                    latest,
                    fresh_from: None,
                });
            }
            let entries: Arc<[Entry]> = fresh.iter().map(|c| Entry::new(c)).collect();
            let inserted = match self.insert_grouped(&account_key, session, &entries).await {
                Outcome::Stored(latest) => Ok(latest),
                Outcome::Failed(e) => Err(e),
                Outcome::Alone => self.writer.store_one(&account_key, session, &entries).await,
            };
            match inserted {
                Ok(latest) => {
                    let first = latest - fresh.len() as i64 + 1;
                    let bytes: usize = fresh.iter().map(|c| c.raw_bytes().len()).sum();
                    // Small pushes travel with the note, so connected devices get them without
                    // asking.
                    let changes = (bytes <= NOTE_MAX_BYTES).then(|| {
                        Arc::new(
                            fresh
                                .iter()
                                .enumerate()
                                .map(|(i, c)| LoggedChange {
                                    seq: first + i as i64,
                                    change: WireChange(c.raw_bytes().to_vec()),
                                })
                                .collect::<Vec<_>>(),
                        )
                    });
                    self.notify.send(Note { account, latest, changes });
                    return Ok(PushResponse {
                        stored: parsed.iter().map(|c| c.hash().to_string()).collect(),
                        latest,
                        fresh_from: Some(latest - fresh.len() as i64 + 1),
                    });
                }
                // A concurrent push of the same changes won the race, or two pushes contended
                // for the counter: look again after a pause.
                Err(e) if is_duplicate(&e) && attempt == 0 => {}
                Err(e) if (is_duplicate(&e) || is_transient(&e)) && attempt < 8 => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns")
    }

    /// Hashes of `changes` the log has; refuses a change whose actor and sequence number are
    /// taken by different content.
    async fn already_stored(&self, account: &str, changes: &[automerge::Change]) -> Result<HashSet<String>> {
        let mut stored = HashSet::new();
        for chunk in changes.chunks(500) {
            // A change is named by its actor and sequence number (its hash covers both): one
            // lookup per actor on the (account, actor, actor_seq) index finds the stored ones.
            // (One `$or` of them all would be a scan of the whole log on some servers.)
            let mut by_actor: HashMap<String, Vec<i64>> = HashMap::new();
            for c in chunk {
                by_actor.entry(c.actor_id().to_hex_string()).or_default().push(c.seq() as i64);
            }
            let mut by_id: HashMap<(String, i64), String> = HashMap::new();
            for (actor, seqs) in by_actor {
                let mut found = self
                    .changes
                    .find(doc! { "account": account, "actor": &actor, "actor_seq": { "$in": seqs } })
                    .projection(doc! { "_id": 0, "hash": 1, "actor_seq": 1 })
                    .await?;
                while let Some(d) = found.try_next().await? {
                    if let (Ok(seq), Ok(hash)) = (d.get_i64("actor_seq"), d.get_str("hash")) {
                        by_id.insert((actor.clone(), seq), hash.to_string());
                    }
                }
            }
            for c in chunk {
                let hash = c.hash().to_string();
                match by_id.get(&(c.actor_id().to_hex_string(), c.seq() as i64)) {
                    Some(existing) if *existing == hash => {
                        stored.insert(hash);
                    }
                    Some(_) => {
                        return Err(Error::Conflict(format!(
                            "change {hash} reuses sequence number {} of actor {} with other content",
                            c.seq(),
                            c.actor_id()
                        )))
                    }
                    None => {}
                }
            }
        }
        Ok(stored)
    }

    /// Stores a small push with the others in flight (see [`GroupWriter`]).
    async fn insert_grouped(&self, account: &str, session: Uuid, entries: &Arc<[Entry]>) -> Outcome {
        let bytes: usize = entries.iter().map(|e| e.data.len()).sum();
        if entries.len() > GROUP_MAX_CHANGES || bytes > GROUP_MAX_BYTES {
            return Outcome::Alone;
        }
        let (stored, outcome) = oneshot::channel();
        let push = Grouped { account: account.to_string(), session, entries: entries.clone(), stored };
        if self.group.send(push).await.is_err() {
            return Outcome::Alone;
        }
        // The writer answers every push it takes; should it stop (a panic), the push is stored
        // alone.
        outcome.await.unwrap_or(Outcome::Alone)
    }

    /// Changes after `after`, oldest first, at most `limit` and about [`MAX_PULL_BYTES`] (at
    /// least one). `latest` is the newest seq among them; [`ChangeLog::pull_with_latest`]
    /// reads the account's counter too.
    pub async fn pull(&self, account: Uuid, after: i64, limit: u32) -> Result<PullResponse> {
        let limit = limit.clamp(1, MAX_PULL);
        let mut found = self
            .changes
            .find(doc! { "account": account.to_string(), "seq": { "$gt": after } })
            .sort(doc! { "seq": 1 })
            .limit(i64::from(limit) + 1)
            .projection(doc! { "seq": 1, "data": 1 })
            .await?;
        let (mut changes, mut bytes, mut more) = (Vec::new(), 0usize, false);
        while let Some(d) = found.try_next().await? {
            let (Ok(seq), Ok(data)) = (d.get_i64("seq"), d.get_binary_generic("data")) else { continue };
            if changes.len() == limit as usize || (!changes.is_empty() && bytes + data.len() > MAX_PULL_BYTES) {
                more = true;
                break;
            }
            bytes += data.len();
            changes.push(LoggedChange { seq, change: WireChange(data.clone()) });
        }
        let cursor = changes.last().map(|c: &LoggedChange| c.seq).unwrap_or(after);
        Ok(PullResponse { changes, cursor, more, latest: cursor })
    }

    /// The hashes of an account's changes up to `upto`.
    pub async fn hashes_upto(&self, account: Uuid, upto: i64) -> Result<Vec<automerge::ChangeHash>> {
        let mut found = self
            .changes
            .find(doc! { "account": account.to_string(), "seq": { "$lte": upto } })
            .projection(doc! { "_id": 0, "hash": 1 })
            .await?;
        let mut hashes = Vec::new();
        while let Some(d) = found.try_next().await? {
            let hash = d.get_str("hash").ok().and_then(|h| h.parse().ok());
            hashes.push(hash.ok_or_else(|| Error::Internal(anyhow::anyhow!("a logged change without its hash")))?);
        }
        Ok(hashes)
    }

    /// A pull that also says how far the log reaches (for devices that are not told, over
    /// HTTP).
    pub async fn pull_with_latest(&self, account: Uuid, after: i64, limit: u32) -> Result<PullResponse> {
        // Read before the changes: a change stored in between shows as `latest` too late,
        // never as a change beyond `latest`.
        let latest = self.latest(account).await?;
        let mut page = self.pull(account, after, limit).await?;
        page.latest = page.latest.max(latest);
        Ok(page)
    }

    pub async fn delete_account(&self, account: Uuid) -> Result<()> {
        let key = account.to_string();
        self.changes.delete_many(doc! { "account": &key }).await?;
        self.counters.delete_one(doc! { "_id": &key }).await?;
        Ok(())
    }

    /// Learns of changes stored through other instances (polling the counters every
    /// `every`) and tells this instance's sockets. Counters updated within the last minute
    /// are read each time, which covers slow commits and clocks that differ between
    /// instances; only a seq higher than the last one announced is announced. Runs until the
    /// process ends.
    pub async fn watch_other_instances(self, every: Duration) {
        const WINDOW_MS: i64 = 60_000;
        let mut announced: HashMap<Uuid, (i64, i64)> = HashMap::new();
        loop {
            tokio::time::sleep(every).await;
            let now = mongodb::bson::DateTime::now().timestamp_millis();
            announced.retain(|_, (_, at)| now - *at < 2 * WINDOW_MS);
            if !self.notify.listened() {
                continue;
            }
            let from = mongodb::bson::DateTime::from_millis(now - WINDOW_MS);
            let recent = self.counters.find(doc! { "updated_at": { "$gte": from } }).projection(doc! { "seq": 1 });
            let docs = match recent.await {
                Ok(cursor) => cursor.try_collect::<Vec<Document>>().await,
                Err(e) => Err(e),
            };
            match docs {
                Ok(docs) => {
                    for d in docs {
                        let Some(account) = d.get_str("_id").ok().and_then(|a| Uuid::parse_str(a).ok()) else {
                            continue;
                        };
                        let seq = seq_of(&d);
                        let last = announced.get(&account).map(|(s, _)| *s).unwrap_or(0);
                        if seq > last {
                            announced.insert(account, (seq, now));
                            self.notify.send(Note { account, latest: seq, changes: None });
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "polling the change logs failed"),
            }
        }
    }

    pub async fn ping(&self) -> Result<()> {
        self.changes.count_documents(doc! { "account": "" }).limit(1).await?;
        Ok(())
    }
}

fn durable() -> WriteConcern {
    WriteConcern::builder().w(Acknowledgment::Majority).journal(true).build()
}

/// A short pause before retrying, doubling each time, with jitter so that contending pushes
/// spread out.
async fn backoff(attempt: u32) {
    use rand::Rng;
    let base = 10u64 << attempt.min(6);
    let jitter = rand::thread_rng().gen_range(0..=base);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

fn seq_of(d: &Document) -> i64 {
    int(d.get("seq")).unwrap_or(0)
}

pub(crate) fn is_duplicate(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::InsertMany(m) => m.write_errors.as_ref().is_some_and(|errs| errs.iter().any(|w| w.code == 11000)),
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

fn is_transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
}

/// Stores changes; answers once they are durable.
#[utoipa::path(post, path = "/api/v1/sync/changes", tag = "sync", security(("bearer" = [])), request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
               (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn push(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>> {
    let stored = state.log.push(auth.user_id, auth.session_id, &req.changes).await?;
    state.ledgers.schedule(auth.user_id);
    Ok(Json(stored))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PullQuery {
    /// The device's cursor: the last `seq` it has.
    #[serde(default)]
    after: i64,
    /// At most this many changes (1000 at most).
    limit: Option<u32>,
}

/// The changes after the device's cursor, oldest first.
#[utoipa::path(get, path = "/api/v1/sync/changes", tag = "sync", security(("bearer" = [])), params(PullQuery),
    responses((status = 200, body = PullResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pull(State(state): State<AppState>, auth: Auth, Query(q): Query<PullQuery>) -> Result<Json<PullResponse>> {
    if q.after < 0 {
        return Err(Error::Invalid("after: must be 0 or more".into()));
    }
    Ok(Json(state.log.pull_with_latest(auth.user_id, q.after, q.limit.unwrap_or(MAX_PULL)).await?))
}

/// A fresh device's start: the account's ledger as one compacted automerge document
/// (`application/octet-stream`); the `Expenso-Seq` header is the log position it covers, from
/// which the device pulls the later changes.
#[utoipa::path(get, path = "/api/v1/sync/snapshot", tag = "sync", security(("bearer" = [])),
    responses((status = 200, description = "the saved automerge document", content_type = "application/octet-stream",
               headers(("expenso-seq" = i64, description = "the last change-log seq the snapshot holds"))),
              (status = 401, body = ErrorBody)))]
async fn snapshot(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let (upto, bytes) = state.ledgers.snapshot(auth.user_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::HeaderName::from_static(SNAPSHOT_SEQ_HEADER), upto.to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Whether the server kept an offered snapshot.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct OfferResponse {
    /// False when the stored snapshot is about as new (nothing changes then).
    kept: bool,
}

/// A device's offer after a large upload: its saved document (`application/octet-stream`),
/// holding the change log up to the `Expenso-Seq` header, for fresh devices to start from
/// rather than the server replaying the upload. The server keeps it only when its own
/// snapshot is behind and the document holds exactly the log's changes up to there.
#[utoipa::path(put, path = "/api/v1/sync/snapshot", tag = "sync", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the saved automerge document"),
    params(("expenso-seq" = i64, Header, description = "the last change-log seq the document holds")),
    responses((status = 200, body = OfferResponse), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn offer_snapshot(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    body: std::result::Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<OfferResponse>> {
    let body = body.map_err(|rejection| match rejection.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge,
        _ => Error::Invalid(rejection.body_text()),
    })?;
    let upto = headers
        .get(SNAPSHOT_SEQ_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or_else(|| {
            Error::Invalid(format!("{SNAPSHOT_SEQ_HEADER}: the header must say which seq the document holds"))
        })?;
    let kept = state.ledgers.offer_snapshot(auth.user_id, upto, body.to_vec()).await?;
    Ok(Json(OfferResponse { kept }))
}

#[derive(Deserialize)]
struct SocketQuery {
    access_token: Option<String>,
}

/// `GET /api/v1/sync`: the WebSocket. Authenticated by the `Authorization` header or, for
/// browsers that cannot set it, an `access_token` query parameter.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync", security(("bearer" = [])),
    params(("access_token" = Option<String>, Query, description = "for browsers, which cannot set the Authorization header")),
    responses((status = 101, description = "switches to the WebSocket: JSON text frames, `ClientMessage` up and `ServerMessage` down (see expenso_core::sync)"),
              (status = 401, body = ErrorBody)))]
async fn socket(
    State(state): State<AppState>,
    Query(q): Query<SocketQuery>,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let token = header.map(str::to_string).or(q.access_token).ok_or(Error::Unauthorized)?;
    let auth = authenticate(&state, token.trim()).await?;
    let max = state.config.max_body;
    Ok(upgrade.max_message_size(max).on_upgrade(move |ws| serve_socket(ws, state, auth)))
}

/// How often an open socket checks that its session still stands and pings the device.
const SOCKET_CHECK: Duration = Duration::from_secs(30);
/// A device that sends nothing (not even a pong) for this long is gone.
const SOCKET_IDLE: Duration = Duration::from_secs(90);

async fn serve_socket(mut ws: WebSocket, state: AppState, auth: Auth) {
    let mut notes = state.log.subscribe(auth.user_id);
    let mut stop = state.shutdown.subscribe();
    let mut check = tokio::time::interval(SOCKET_CHECK);
    check.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let mut told = 0i64;
    let send = |msg: &ServerMessage| Message::Text(serde_json::to_string(msg).unwrap_or_default().into());
    loop {
        tokio::select! {
            incoming = ws.recv() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = tokio::time::Instant::now();
                let text = match message {
                    Message::Text(t) => t.to_string(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                // A session revoked (logout, password change, account deletion) or expired
                // while the socket was open ends the socket before anything else happens.
                if !matches!(session_alive(&state, auth.session_id).await, Ok(true)) {
                    let _ = ws.send(send(&ServerMessage::Error { id: None, code: "unauthorized".into(), message: Error::Unauthorized.to_string() })).await;
                    break;
                }
                let reply = match serde_json::from_str::<ClientMessage>(&text) {
                    Err(e) => ServerMessage::Error { id: None, code: "invalid".into(), message: format!("not a sync message: {e}") },
                    Ok(ClientMessage::Hello { protocol }) if protocol != PROTOCOL_VERSION => ServerMessage::Error {
                        id: None,
                        code: "protocol".into(),
                        message: format!("this server speaks protocol {PROTOCOL_VERSION}, the device {protocol}; update the app"),
                    },
                    Ok(ClientMessage::Hello { .. }) => match state.log.size(auth.user_id).await {
                        Ok((latest, log_bytes)) => ServerMessage::Welcome { protocol: PROTOCOL_VERSION, latest, log_bytes },
                        Err(e) => error_message(None, e),
                    },
                    Ok(ClientMessage::Push { id, changes }) => match state.log.push(auth.user_id, auth.session_id, &changes).await {
                        Ok(r) => {
                            state.ledgers.schedule(auth.user_id);
                            told = told.max(r.latest);
                            ServerMessage::Stored { id, stored: r.stored, latest: r.latest, fresh_from: r.fresh_from }
                        }
                        Err(e) => error_message(Some(id), e),
                    },
                    Ok(ClientMessage::Pull { after, limit }) => match state.log.pull(auth.user_id, after.max(0), limit.unwrap_or(MAX_PULL)).await {
                        Ok(r) => ServerMessage::Changes(r),
                        Err(e) => error_message(None, e),
                    },
                };
                if ws.send(send(&reply)).await.is_err() {
                    break;
                }
            }
            note = notes.recv() => {
                match note {
                    Ok(Note { account, latest, changes }) if account == auth.user_id && latest > told => {
                        told = latest;
                        // The changes themselves when they are small: a device whose cursor is
                        // just before them applies them at once; any other pulls.
                        let message = match changes {
                            Some(changes) => ServerMessage::Pushed { changes: changes.to_vec(), latest },
                            None => ServerMessage::Notify { latest },
                        };
                        if ws.send(send(&message)).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    // Missed notes: say where the log is now; the device pulls from its cursor.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(latest) = state.log.latest(auth.user_id).await {
                            told = latest;
                            if ws.send(send(&ServerMessage::Notify { latest })).await.is_err() {
                                break;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            _ = check.tick() => {
                let gone = last_heard.elapsed() > SOCKET_IDLE;
                if gone || !matches!(session_alive(&state, auth.session_id).await, Ok(true)) {
                    break;
                }
                if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            _ = stop.changed() => {
                // The server is stopping: the request in hand is done; say goodbye.
                let _ = ws.send(Message::Close(None)).await;
                break;
            }
        }
    }
}

fn error_message(id: Option<u64>, e: Error) -> ServerMessage {
    if let Error::Internal(inner) = &e {
        tracing::error!(error = format!("{inner:#}"), "sync request failed");
    }
    ServerMessage::Error { id, code: e.code().into(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn background_work_waits_for_the_pushes_in_flight_and_no_others() {
        let in_flight = Arc::new(InFlight::default());
        let long = Duration::from_secs(60);

        // Nothing in flight: it goes on at once.
        tokio::time::timeout(Duration::from_secs(10), in_flight.give_way(long)).await.expect("no wait");

        // A push in flight is waited for until it ends…
        let (end, ended) = tokio::sync::oneshot::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let push = {
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let _pushing = Pushing::new(&in_flight);
                let _ = started.send(());
                let _ = ended.await;
            })
        };
        running.await.unwrap();
        let waiter = {
            let in_flight = in_flight.clone();
            tokio::spawn(async move { in_flight.give_way(long).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        // … one that starts later is not.
        let later = Pushing::new(&in_flight);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiter.is_finished(), "gives way while the earlier push is stored");
        end.send(()).unwrap();
        push.await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("goes on once the earlier push ended, though a later one runs")
            .unwrap();

        // A push that does not end is waited for at most `max`.
        let max = Duration::from_millis(50);
        let since = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), in_flight.give_way(max)).await.expect("bounded");
        assert!(since.elapsed() >= max, "waited for the push in flight");
        drop(later);
    }
}
