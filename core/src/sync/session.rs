//! One connection's worth of the sync protocol, without any I/O: the device's side as a
//! state machine that reads and writes the local [`Store`] and says what to send. The
//! background client drives it over a WebSocket or HTTP; tests drive it through an in-memory
//! network that duplicates, reorders and drops messages.
//!
//! The protocol: say hello; the server answers with the newest `seq` of the account's log.
//! A device that has never synced and is far behind fetches the compacted snapshot first.
//! Then, until nothing is left: pull the log after the cursor (in pages, applied in batches,
//! each batch and its cursor in one SQLite transaction) and push the outbox (in batches, one
//! in flight; acknowledged changes leave the outbox). A `notify` starts a pull, a local
//! change a push. Everything is idempotent, so a connection lost at any point is simply
//! opened again.

use crate::error::Error;
use crate::store::Store;
use crate::sync::{ClientMessage, LoggedChange, PullResponse, ServerMessage, WireChange, MAX_PULL, PROTOCOL_VERSION};

/// A device that has never synced fetches the snapshot instead of the log when the log has
/// more than this many changes, or more than this many bytes (a big import is a few large
/// changes; its compacted snapshot is about eight times smaller — 0.45 MB for the 3.7 MB of
/// changes that book 10,000 transactions — and loads in about half the time they apply).
pub const SNAPSHOT_MIN_CHANGES: i64 = 200;
pub const SNAPSHOT_MIN_BYTES: i64 = 2 * 1024 * 1024;

/// Pages of pulled changes are applied together until they reach this size, so a device that
/// was offline for months rebuilds its view a few times rather than once per page.
const APPLY_BATCH_CHANGES: usize = 20_000;
const APPLY_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// One push carries at most this much.
const PUSH_MAX_CHANGES: usize = 1_000;
const PUSH_MAX_BYTES: usize = 2 * 1024 * 1024;

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(ClientMessage),
    /// Download the snapshot (`GET /api/v1/sync/snapshot`) and hand it to
    /// [`Session::on_snapshot`], or call [`Session::on_snapshot_unavailable`].
    FetchSnapshot,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The local ledger refused or failed (a full disk, a change it cannot apply).
    #[error(transparent)]
    Store(#[from] Error),
    /// The server answered with an error.
    #[error("the server refused: {message} ({code})")]
    Server { code: String, message: String },
    /// The server said something out of turn.
    #[error("the server broke the sync protocol: {0}")]
    Protocol(String),
}

impl SyncError {
    /// Whether the session's tokens need renewing (or the user to log in again).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, SyncError::Server { code, .. } if code == "unauthorized")
    }
}

/// The device's side of one connection.
#[derive(Debug, Default)]
pub struct Session {
    welcomed: bool,
    next_id: u64,
    push_in_flight: Option<u64>,
    /// The cursor the pull in flight started from.
    pull_after: Option<i64>,
    /// The newest `seq` told since that pull was sent: what its answer may not know of.
    heard: i64,
    snapshot_pending: bool,
    /// The newest `seq` the server has told of.
    latest: i64,
    /// Pulled but not yet applied, and the cursor they reach.
    buffer: Vec<LoggedChange>,
    buffer_bytes: usize,
    buffered_cursor: Option<i64>,
    /// What this session moved, for status and benchmarks.
    pub pushed: u64,
    pub pulled: u64,
    /// Changes new to this ledger (pulled or in the snapshot): the app refreshes on these.
    pub received: u64,
    /// Bytes of changes this session pushed, and whether it offered its document since.
    pushed_bytes: usize,
    offered: bool,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// The first message.
    pub fn hello(&self) -> ClientMessage {
        ClientMessage::Hello { protocol: PROTOCOL_VERSION }
    }

    /// Whether the device and the server agree: nothing to push, nothing to pull, nothing in
    /// flight.
    pub fn is_synced(&self, store: &Store) -> crate::Result<bool> {
        Ok(self.welcomed
            && self.push_in_flight.is_none()
            && self.pull_after.is_none()
            && !self.snapshot_pending
            && self.buffer.is_empty()
            && store.sync_cursor()? >= self.latest
            && store.outbox_len()? == 0)
    }

    /// Whether to offer the server this ledger's document as the snapshot fresh devices start
    /// from: once, when the session is synced after pushing a large upload (as large as makes
    /// a fresh device take the snapshot), so the server need not replay the upload to make
    /// one. Synced, the document holds exactly the log up to the cursor.
    pub fn take_snapshot_offer(&mut self, store: &Store) -> crate::Result<bool> {
        if self.offered || self.pushed_bytes < SNAPSHOT_MIN_BYTES as usize || !self.is_synced(store)? {
            return Ok(false);
        }
        self.offered = true;
        Ok(true)
    }

    pub fn on_message(&mut self, store: &mut Store, message: ServerMessage) -> Result<Vec<Action>, SyncError> {
        match message {
            ServerMessage::Welcome { protocol, latest, log_bytes } => {
                if protocol != PROTOCOL_VERSION {
                    return Err(SyncError::Protocol(format!(
                        "the server speaks protocol {protocol}, this app {PROTOCOL_VERSION}; update the app"
                    )));
                }
                self.welcomed = true;
                self.hear(latest);
                let cursor = store.sync_cursor()?;
                let mut actions = Vec::new();
                let large = latest > SNAPSHOT_MIN_CHANGES || log_bytes.is_some_and(|b| b > SNAPSHOT_MIN_BYTES);
                if cursor == 0 && large && !self.snapshot_pending {
                    self.snapshot_pending = true;
                    actions.push(Action::FetchSnapshot);
                }
                self.next_steps(store, actions)
            }
            ServerMessage::Changes(page) => self.on_changes(store, page),
            ServerMessage::Stored { id, stored, latest, fresh_from } => {
                if self.push_in_flight != Some(id) {
                    // An answer to a push of an earlier connection: harmless, the changes are
                    // stored; they leave the outbox all the same.
                    store.acknowledge(&stored)?;
                    return Ok(Vec::new());
                }
                self.push_in_flight = None;
                store.acknowledge(&stored)?;
                self.pushed += stored.len() as u64;
                let cursor = store.sync_cursor()?;
                // Nothing else was stored between the cursor and this push's changes: they
                // need not come back down.
                if fresh_from == Some(cursor + 1)
                    && self.buffer.is_empty()
                    && self.pull_after.is_none()
                    && !self.snapshot_pending
                {
                    store.advance_cursor(latest)?;
                }
                self.hear(latest);
                self.next_steps(store, Vec::new())
            }
            ServerMessage::Notify { latest } => {
                self.hear(latest);
                if !self.welcomed {
                    return Ok(Vec::new());
                }
                self.next_steps(store, Vec::new())
            }
            ServerMessage::Pushed { changes, latest } => {
                self.hear(latest);
                if !self.welcomed {
                    return Ok(Vec::new());
                }
                // Taken only when they continue exactly where this ledger is and nothing else
                // is under way; otherwise a pull brings them in order.
                if self.pull_after.is_none() && !self.snapshot_pending && self.buffer.is_empty() {
                    let cursor = store.sync_cursor()?;
                    let continues =
                        !changes.is_empty() && changes.iter().enumerate().all(|(i, c)| c.seq == cursor + 1 + i as i64);
                    if continues {
                        let upto = cursor + changes.len() as i64;
                        let outcome = store.apply_pulled(&changes, upto)?;
                        self.pulled += changes.len() as u64;
                        self.received += outcome.new_changes as u64;
                    }
                }
                self.next_steps(store, Vec::new())
            }
            ServerMessage::Error { id, code, message } => {
                if id.is_some() && id == self.push_in_flight {
                    self.push_in_flight = None;
                } else if id.is_none() {
                    self.pull_after = None;
                }
                Err(SyncError::Server { code, message })
            }
        }
    }

    /// Something changed in the ledger here: push it, unless a push is under way (its
    /// acknowledgement sends the rest).
    pub fn on_local_change(&mut self, store: &mut Store) -> Result<Vec<Action>, SyncError> {
        if !self.welcomed {
            return Ok(Vec::new());
        }
        self.next_steps(store, Vec::new())
    }

    /// The snapshot arrived: the ledger starts from it, then pulls what came after.
    pub fn on_snapshot(&mut self, store: &mut Store, bytes: &[u8], upto: i64) -> Result<Vec<Action>, SyncError> {
        self.snapshot_pending = false;
        if upto > store.sync_cursor()? {
            let outcome = store.adopt_snapshot(bytes, upto)?;
            self.received += outcome.new_changes as u64;
        }
        self.latest = self.latest.max(upto);
        self.next_steps(store, Vec::new())
    }

    /// No snapshot could be had: pull the log instead.
    pub fn on_snapshot_unavailable(&mut self, store: &mut Store) -> Result<Vec<Action>, SyncError> {
        self.snapshot_pending = false;
        self.next_steps(store, Vec::new())
    }

    fn hear(&mut self, latest: i64) {
        self.latest = self.latest.max(latest);
        self.heard = self.heard.max(latest);
    }

    /// The answer to the pull in flight: the server's word on the log after the cursor, gaps
    /// and all. Another answer (a duplicate, a page of an earlier connection) is dropped.
    fn on_changes(&mut self, store: &mut Store, page: PullResponse) -> Result<Vec<Action>, SyncError> {
        let Some(after) = self.pull_after.take() else {
            return Ok(Vec::new());
        };
        let increasing = page.changes.windows(2).all(|w| w[0].seq < w[1].seq);
        let first = page.changes.first().map_or(after + 1, |c| c.seq);
        let last = page.changes.last().map_or(after, |c| c.seq);
        if !increasing || first <= after || page.cursor < last || page.cursor < after {
            return Err(SyncError::Protocol(format!("a page of changes after {after} reaches back")));
        }
        self.pulled += page.changes.len() as u64;
        self.buffer_bytes += page.changes.iter().map(|c| c.change.0.len()).sum::<usize>();
        self.buffer.extend(page.changes);
        self.buffered_cursor = Some(page.cursor);
        if page.more {
            self.latest = self.latest.max(page.cursor + 1);
        } else {
            // The log ends here, as far as anyone has said since the pull went out.
            self.latest = page.cursor.max(self.heard);
        }
        let full = self.buffer.len() >= APPLY_BATCH_CHANGES || self.buffer_bytes >= APPLY_BATCH_BYTES;
        if !page.more || full {
            self.flush(store)?;
        }
        self.next_steps(store, Vec::new())
    }

    fn flush(&mut self, store: &mut Store) -> Result<(), SyncError> {
        if let Some(cursor) = self.buffered_cursor.take() {
            let outcome = store.apply_pulled(&self.buffer, cursor)?;
            self.received += outcome.new_changes as u64;
            self.buffer.clear();
            self.buffer_bytes = 0;
        }
        Ok(())
    }

    /// Starts the pull and the push that are due.
    fn next_steps(&mut self, store: &mut Store, mut actions: Vec<Action>) -> Result<Vec<Action>, SyncError> {
        if self.snapshot_pending {
            return Ok(actions);
        }
        let cursor = match self.buffered_cursor {
            Some(c) => c,
            None => store.sync_cursor()?,
        };
        if self.pull_after.is_none() && self.latest > cursor {
            self.pull_after = Some(cursor);
            self.heard = 0;
            actions.push(Action::Send(ClientMessage::Pull { after: cursor, limit: Some(MAX_PULL) }));
        } else if self.pull_after.is_none() && self.buffered_cursor.is_some() {
            self.flush(store)?;
        }
        if self.push_in_flight.is_none() {
            let batch = store.outbox(PUSH_MAX_CHANGES, PUSH_MAX_BYTES)?;
            if !batch.is_empty() {
                self.next_id += 1;
                self.push_in_flight = Some(self.next_id);
                self.pushed_bytes += batch.iter().map(|c| c.data.len()).sum::<usize>();
                actions.push(Action::Send(ClientMessage::Push {
                    id: self.next_id,
                    changes: batch.into_iter().map(|c| WireChange(c.data)).collect(),
                }));
            }
        }
        Ok(actions)
    }
}
