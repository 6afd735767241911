//! The app's state: where its ledger lives, the open ledger, and its background sync.
//!
//! The ledger is `ledger.db` in the data folder (the app's data folder, or `EXPENSO_DATA_DIR`),
//! beside the sign-in (`session.json`): the layout the command line uses, so `expenso
//! --data-dir` works on the app's ledger, even while the app runs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use expenso_core::sync::client::{SyncHandle, SyncOptions, SyncState, SyncStatus};
use expenso_core::{ActorId, Currency, Store};
use serde::Serialize;
use tauri::{AppHandle, Emitter};
use uuid::Uuid;

use crate::error::{CommandError, CommandResult};

pub struct AppState {
    pub dir: PathBuf,
    ledger: Mutex<Option<Arc<Mutex<Store>>>>,
    sync: Mutex<Option<SyncHandle>>,
    plans: Arc<tokio::sync::Notify>,
    /// The bank statement the user picked last (its preview and import read it).
    statement: Mutex<Option<PathBuf>>,
    pub device_name: String,
}

/// What the UI is told when something changed outside its own calls.
#[derive(Clone, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppEvent {
    /// Changes from other devices arrived: reload what is shown.
    Changed,
    /// Sync's state changed.
    Sync { status: SyncStatus },
    /// A menu item or shortcut: `new_transaction`, `search`, `export`, `import`,
    /// `import_statement`, `report`.
    Menu { id: String },
    /// A statement import wrote `done` of its `total` transactions.
    ImportProgress {
        #[ts(type = "number")]
        done: usize,
        #[ts(type = "number")]
        total: usize,
    },
}

pub const EVENT: &str = "expenso://event";

/// The largest ledger whose document is loaded ahead of the first edit.
const PRELOAD_MAX: u64 = 20_000;

impl AppState {
    pub fn new(dir: PathBuf) -> AppState {
        let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty());
        AppState {
            dir,
            ledger: Mutex::new(None),
            sync: Mutex::new(None),
            plans: Arc::new(tokio::sync::Notify::new()),
            statement: Mutex::new(None),
            device_name: format!("ExpensoTrack desktop{}", host.map(|h| format!(" on {h}")).unwrap_or_default()),
        }
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.dir.join("ledger.db")
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    /// Opens the ledger if there is one (at start). Reads use its view at once; the document
    /// (about a second at 100k transactions) loads when the UI has shown its first screen.
    pub fn open(&self) -> CommandResult<bool> {
        let path = self.ledger_path();
        if !path.exists() {
            return Ok(false);
        }
        let store = Arc::new(Mutex::new(Store::open(&path)?));
        *self.ledger.lock().expect("ledger lock") = Some(store);
        Ok(true)
    }

    /// Loads the document in the background, so the first edit does not wait for it — for
    /// ledgers up to `PRELOAD_MAX` transactions. A larger one's document (about 2 KB of
    /// memory a transaction: 210 MB at 100,000) loads on the first edit or merge instead, so
    /// an app left open on a big ledger does not hold it while nothing changes.
    pub fn preload(&self) {
        if let Ok(store) = self.store() {
            std::thread::spawn(move || {
                let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
                let small = guard.transaction_count().is_ok_and(|n| n <= PRELOAD_MAX);
                if small && !guard.is_document_loaded() {
                    let _ = guard.load_document();
                }
            });
        }
    }

    pub fn has_ledger(&self) -> bool {
        self.ledger.lock().expect("ledger lock").is_some()
    }

    /// Makes the ledger on first start, in the currency the user chose.
    pub fn create(&self, base_currency: &str, now: chrono::DateTime<chrono::Utc>) -> CommandResult<()> {
        if self.has_ledger() {
            return Err(CommandError::new("ledger_exists", "this device has a ledger already"));
        }
        let currency: Currency = base_currency.parse().map_err(|_| {
            CommandError::invalid("base_currency", format!("{base_currency:?} is not an ISO 4217 currency code"))
        })?;
        std::fs::create_dir_all(&self.dir)?;
        let actor = ActorId::from(Uuid::new_v4().as_bytes().as_slice());
        let store = Store::create(&self.ledger_path(), actor, currency, now)?;
        *self.ledger.lock().expect("ledger lock") = Some(Arc::new(Mutex::new(store)));
        Ok(())
    }

    pub fn store(&self) -> CommandResult<Arc<Mutex<Store>>> {
        self.ledger
            .lock()
            .expect("ledger lock")
            .clone()
            .ok_or_else(|| CommandError::new("no_ledger", "there is no ledger on this device yet"))
    }

    /// A read of the ledger's view.
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> expenso_core::Result<T>) -> CommandResult<T> {
        let store = self.store()?;
        let guard = store.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&guard)?)
    }

    /// A change to the ledger; sync sends it shortly after.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> expenso_core::Result<T>) -> CommandResult<T> {
        let store = self.store()?;
        let value = {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)?
        };
        if let Some(sync) = self.sync.lock().expect("sync lock").as_ref() {
            sync.local_change();
        }
        self.kick_plans();
        Ok(value)
    }

    /// Asks the planner (`plans.rs`) to evaluate budgets and due occurrences soon.
    pub fn kick_plans(&self) {
        self.plans.notify_one();
    }

    pub fn plans_kicked(&self) -> Arc<tokio::sync::Notify> {
        self.plans.clone()
    }

    /// Starts the background sync when signed in; tells the UI of its progress, and of
    /// changes that arrived, as events.
    pub fn start_sync(&self, app: &AppHandle) -> CommandResult<()> {
        let store = self.store()?;
        let mut slot = self.sync.lock().expect("sync lock");
        if slot.is_some() || !self.credentials_path().exists() {
            return Ok(());
        }
        let options = SyncOptions { device_name: self.device_name.clone(), ..SyncOptions::default() };
        // The engine runs on Tauri's runtime, also when started from the (synchronous) setup.
        let runtime = tauri::async_runtime::handle();
        let _entered = runtime.inner().enter();
        let handle = SyncHandle::start(store, self.credentials_path(), options);
        let mut status = handle.subscribe();
        let app = app.clone();
        let plans = self.plans.clone();
        tauri::async_runtime::spawn(async move {
            let mut received = 0;
            loop {
                let now = status.borrow_and_update().clone();
                if now.received > received {
                    received = now.received;
                    let _ = app.emit(EVENT, AppEvent::Changed);
                    plans.notify_one();
                }
                let _ = app.emit(EVENT, AppEvent::Sync { status: now });
                if status.changed().await.is_err() {
                    break;
                }
            }
        });
        *slot = Some(handle);
        Ok(())
    }

    pub async fn stop_sync(&self) {
        let handle = self.sync.lock().expect("sync lock").take();
        if let Some(h) = handle {
            h.stop().await;
        }
    }

    pub fn sync_status(&self) -> SyncStatus {
        match self.sync.lock().expect("sync lock").as_ref() {
            Some(h) => h.status(),
            None => SyncStatus { state: SyncState::SignedOut, last_synced: None, unsent: 0, received: 0 },
        }
    }

    pub fn sync_now(&self) {
        if let Some(h) = self.sync.lock().expect("sync lock").as_ref() {
            h.local_change();
        }
    }

    pub fn choose_statement(&self, path: PathBuf) {
        *self.statement.lock().expect("statement lock") = Some(path);
    }

    pub fn chosen_statement(&self) -> Option<PathBuf> {
        self.statement.lock().expect("statement lock").clone()
    }

    /// Forgets the open ledger (before its files are deleted).
    pub fn close(&self) {
        *self.ledger.lock().expect("ledger lock") = None;
    }
}
