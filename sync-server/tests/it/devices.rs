//! Devices syncing through the real server: the core's background sync client and the
//! `expenso` command line, with the server killed, stopped and restarted, and devices killed
//! mid-sync. Each ends with every ledger equal and each change stored once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use expenso_core::sync::client::{self, Api, Credentials, SyncHandle, SyncOptions, SyncState, Transport};
use expenso_core::{ActorId, CategoryPatch, Currency, Kind, NewTransaction, Store, TransactionPatch};
use uuid::Uuid;

use crate::support::TestServer;

const PASSWORD: &str = "a long and unusual phrase";

fn t(seconds: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn expense(amount: &str, description: &str) -> NewTransaction {
    NewTransaction {
        kind: Some(Kind::Expense),
        amount: amount.into(),
        date: "2026-02-10".into(),
        category: "groceries".into(),
        description: description.into(),
        ..NewTransaction::default()
    }
}

/// A device: a ledger file and a saved sign-in in a folder of its own.
struct Device {
    store: Arc<Mutex<Store>>,
    credentials: PathBuf,
}

impl Device {
    async fn new(dir: &Path, n: u8, server: &str, email: &str) -> Device {
        let folder = dir.join(format!("device{n}"));
        let ledger = folder.join("ledger.db");
        let store =
            Store::create(&ledger, ActorId::from(&[n; 16][..]), Currency::from_code("EUR").unwrap(), t(0)).unwrap();
        let credentials = folder.join("session.json");
        Api::new().login(server, email, PASSWORD, &format!("device {n}")).await.unwrap().save(&credentials).unwrap();
        Device { store: Arc::new(Mutex::new(store)), credentials }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store.lock().unwrap())
    }

    async fn sync(&self) -> client::SyncReport {
        let options = SyncOptions { transport: Transport::WebSocket, ..SyncOptions::default() };
        tokio::time::timeout(
            Duration::from_secs(60),
            client::sync_once(self.store.clone(), self.credentials.clone(), options),
        )
        .await
        .expect("sync finishes")
        .expect("sync succeeds")
    }

    fn start(&self, transport: Transport) -> SyncHandle {
        let options = SyncOptions {
            transport,
            debounce: Duration::from_millis(20),
            poll_every: Duration::from_millis(300),
            max_backoff: Duration::from_secs(2),
            ..SyncOptions::default()
        };
        SyncHandle::start(self.store.clone(), self.credentials.clone(), options)
    }

    fn document(&self) -> serde_json::Value {
        self.with(|s| s.document_json().unwrap())
    }
}

async fn signup(server: &str, email: &str) {
    Api::new().signup(server, email, PASSWORD, "Ana", "signup").await.unwrap();
}

/// Waits until `check` holds, or fails naming `what`.
async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every change of the account's log, in order: none may be there twice.
async fn log_hashes(server: &str, credentials: &Credentials) -> Vec<String> {
    let api = Api::new();
    let (mut after, mut hashes) = (0, Vec::new());
    loop {
        let page = api.pull(&Credentials { server: server.into(), ..credentials.clone() }, after, 1000).await.unwrap();
        for c in &page.changes {
            hashes.push(automerge::Change::from_bytes(c.change.0.clone()).unwrap().hash().to_string());
        }
        after = page.cursor;
        if !page.more {
            return hashes;
        }
    }
}

fn assert_exactly_once(hashes: &[String]) {
    let unique: std::collections::HashSet<&String> = hashes.iter().collect();
    assert_eq!(unique.len(), hashes.len(), "a change is in the log twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_editing_offline_converge_and_keep_the_losing_value_visible() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    signup(&server.url, "ana@example.com").await;
    let a = Device::new(dir.path(), 1, &server.url, "ana@example.com").await;
    let b = Device::new(dir.path(), 2, &server.url, "ana@example.com").await;
    let c = Device::new(dir.path(), 3, &server.url, "ana@example.com").await;
    // A device that had data before its first login brings it along.
    let (t1, t2, t3) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    a.with(|s| {
        s.add_transaction(&expense("10.00", "lunch"), t1, t(1)).unwrap();
        s.add_transaction(&expense("20.00", "train"), t2, t(2)).unwrap();
        s.add_transaction(&expense("30.00", "books"), t3, t(3)).unwrap();
    });
    for d in [&a, &b, &c] {
        d.sync().await;
    }
    a.sync().await;
    assert_eq!(b.with(|s| s.transaction(t3).unwrap()).map(|t| t.description), Some("books".to_string()));

    // Offline, concurrently: different fields, the same field, delete against edit, and two
    // renames of one category.
    let amount = |v: &str| TransactionPatch { amount: Some(v.into()), ..Default::default() };
    a.with(|s| s.edit_transaction(t1, &amount("11.00"), t(10)).unwrap());
    b.with(|s| {
        s.edit_transaction(
            t1,
            &TransactionPatch { description: Some("team lunch".into()), ..Default::default() },
            t(11),
        )
        .unwrap()
    });
    a.with(|s| s.edit_transaction(t2, &amount("21.00"), t(12)).unwrap());
    c.with(|s| s.edit_transaction(t2, &amount("22.00"), t(13)).unwrap());
    c.with(|s| s.delete_transaction(t3, t(14)).unwrap());
    b.with(|s| s.edit_transaction(t3, &amount("31.00"), t(15)).unwrap());
    let groceries = a.with(|s| s.find_category(Some(Kind::Expense), "groceries").unwrap().id);
    let rename = |name: &str| CategoryPatch { name: Some(name.into()), ..Default::default() };
    a.with(|s| s.edit_category(groceries, &rename("Food"), t(16)).unwrap());
    c.with(|s| s.edit_category(groceries, &rename("Supermarket"), t(17)).unwrap());

    // Online again, syncing in the background over the socket (C over HTTP).
    let handles = [a.start(Transport::WebSocket), b.start(Transport::WebSocket), c.start(Transport::Http)];
    for h in &handles {
        h.local_change();
    }
    eventually("the three ledgers agree", Duration::from_secs(30), || {
        let docs = [a.document(), b.document(), c.document()];
        docs[0] == docs[1] && docs[1] == docs[2] && handles.iter().all(|h| h.status().state == SyncState::Synced)
    })
    .await;
    let one = a.with(|s| s.transaction(t1).unwrap()).unwrap();
    assert_eq!((one.amount.to_string(), one.description.as_str()), ("11.00".to_string(), "team lunch"));
    let two = a.with(|s| s.transaction(t2).unwrap()).unwrap();
    let values = [two.amount.to_string()];
    let losing = two.conflicts.get("amount").expect("the losing amount stays visible");
    assert!(
        ["21.00", "22.00"].contains(&values[0].as_str()) && losing.iter().any(|v| v.contains("21") || v.contains("22")),
        "{two:?}"
    );
    assert!(a.with(|s| s.transaction(t3).unwrap()).is_none(), "a delete wins over a concurrent edit");
    let name = a.with(|s| s.category(groceries).unwrap().unwrap().name);
    assert!(["Food", "Supermarket"].contains(&name.as_str()), "{name}");
    for d in [&a, &b, &c] {
        assert_eq!(d.with(|s| s.verify().unwrap()), Ok(()));
        assert_eq!(d.with(|s| s.outbox_len().unwrap()), 0);
        assert!(d.with(|s| s.last_synced().unwrap()).is_some());
    }

    // Live: a change on A reaches B at once, without any action on B.
    let received = handles[1].status().received;
    let coffee = NewTransaction { category: groceries.to_string(), ..expense("5.00", "coffee") };
    a.with(|s| s.add_transaction(&coffee, Uuid::from_u128(4), t(20)).unwrap());
    handles[0].local_change();
    eventually("B receives A's new transaction", Duration::from_secs(10), || {
        b.with(|s| s.transaction(Uuid::from_u128(4)).unwrap()).is_some()
    })
    .await;
    assert!(handles[1].status().received > received);

    // Each change is in the log once; a fresh device gets the same ledger.
    let creds = Credentials::load(&a.credentials).unwrap().unwrap();
    assert_exactly_once(&log_hashes(&server.url, &creds).await);
    let d = Device::new(dir.path(), 4, &server.url, "ana@example.com").await;
    d.sync().await;
    eventually("A and B settle", Duration::from_secs(10), || a.document() == b.document()).await;
    assert_eq!(d.document(), a.document());
    for h in handles {
        h.stop().await;
    }
    server.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_big_import_one_edit_sends_one_small_change() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    signup(&server.url, "bulk@example.com").await;
    let a = Device::new(dir.path(), 1, &server.url, "bulk@example.com").await;
    let b = Device::new(dir.path(), 2, &server.url, "bulk@example.com").await;
    let rows: Vec<(Uuid, NewTransaction)> =
        (0..5_000u128).map(|i| (Uuid::from_u128(i + 1), expense(&format!("{}.25", i % 90 + 1), "import"))).collect();
    a.with(|s| s.add_transactions(&rows, t(1)).unwrap());
    a.sync().await;
    let first = b.sync().await;
    assert!(first.received >= 1, "{first:?}");
    assert_eq!(
        b.with(|s| s.transaction(Uuid::from_u128(5_000)).unwrap()).map(|t| t.amount.to_string()),
        Some("50.25".into())
    );
    // A receives B's first change (its ledger's creation), and from then on only others' news.
    assert_eq!(a.sync().await.pulled, 1);

    a.with(|s| {
        s.edit_transaction(
            Uuid::from_u128(7),
            &TransactionPatch { amount: Some("99.99".into()), ..Default::default() },
            t(2),
        )
        .unwrap()
    });
    let outgoing = a.with(|s| s.outbox(1000, usize::MAX).unwrap());
    assert_eq!(outgoing.len(), 1);
    assert!(outgoing[0].data.len() < 1024, "the edit takes {} bytes", outgoing[0].data.len());
    let up = a.sync().await;
    assert_eq!(up.pushed, 1);
    assert_eq!(up.pulled, 0, "the device does not download its own change again");
    let down = b.sync().await;
    assert_eq!(down.pulled, 1);
    assert_eq!(b.with(|s| s.transaction(Uuid::from_u128(7)).unwrap()).unwrap().amount.to_string(), "99.99");
    server.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_uploads_a_big_import_leaves_its_ledger_as_the_snapshot_fresh_devices_start_from() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    signup(&server.url, "offer@example.com").await;
    let a = Device::new(dir.path(), 1, &server.url, "offer@example.com").await;
    // Megabytes in a few changes: long, varied notes.
    let mut rng = expenso_core::sample::Rng::new(11);
    for batch in 0..3u128 {
        let rows: Vec<(Uuid, NewTransaction)> = (0..800u128)
            .map(|i| {
                let mut t = expense("4.20", "import");
                t.notes = (0..2_000).map(|_| char::from(b'a' + rng.below(26) as u8)).collect();
                (Uuid::from_u128(batch * 1_000 + i + 1), t)
            })
            .collect();
        a.with(|s| s.add_transactions(&rows, t(1)).unwrap());
    }
    let up = a.sync().await;
    assert!(up.snapshot_kept, "{up:?}");
    // Before any fresh device asked, the server holds A's ledger as the snapshot of its log.
    let credentials = Credentials::load(&a.credentials).unwrap().unwrap();
    let latest = server.state.log.latest(credentials.account).await.unwrap();
    let (document, upto) = Api::new().snapshot(&credentials).await.unwrap();
    assert_eq!(upto, latest);
    assert_eq!(document, a.with(|s| s.save_document().unwrap()));
    // A fresh device starts from it and has nothing left to pull.
    let b = Device::new(dir.path(), 2, &server.url, "offer@example.com").await;
    let down = b.sync().await;
    assert_eq!(down.pulled, 0, "{down:?}");
    assert!(!down.snapshot_kept, "a device that pushed little offers nothing");
    assert_eq!(b.with(|s| s.transaction_count().unwrap()), 2_400);
    assert_eq!(b.with(|s| s.verify().unwrap()), Ok(()));
    a.sync().await;
    assert_eq!(a.document(), b.document());
    server.cleanup().await;
}

/// The real server binary on a port of its own, on the test server's databases.
struct ServerProcess {
    child: Option<Child>,
    port: u16,
    database_url: String,
    mongodb_uri: String,
    mongodb_database: String,
}

impl ServerProcess {
    fn start(like: &TestServer) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = ServerProcess {
            child: None,
            port,
            database_url: like.state.config.database_url.clone(),
            mongodb_uri: like.state.config.mongodb_uri.clone(),
            mongodb_database: like.state.config.mongodb_database.clone(),
        };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_expenso-server"))
            .env("DATABASE_URL", &self.database_url)
            .env("MONGODB_URI", &self.mongodb_uri)
            .env("MONGODB_DATABASE", &self.mongodb_database)
            .env("EXPENSO_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("EXPENSO_AUTH_PER_MINUTE", "1000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "the server listens");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL: no goodbye to anyone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_sync_or_gone_for_a_while_loses_and_doubles_nothing() {
    let server = TestServer::start().await;
    let mut process = ServerProcess::start(&server);
    let url = process.url();
    let dir = tempfile::tempdir().unwrap();
    signup(&url, "kill@example.com").await;
    let a = Device::new(dir.path(), 1, &url, "kill@example.com").await;
    let b = Device::new(dir.path(), 2, &url, "kill@example.com").await;
    // Three thousand changes: several pushes.
    a.with(|s| {
        for i in 0..3_000u128 {
            s.add_transaction(&expense("1.00", &format!("item {i}")), Uuid::from_u128(i + 1), t(i as i64)).unwrap();
        }
    });
    let before = a.with(|s| s.outbox_len().unwrap());
    let handle = a.start(Transport::WebSocket);
    handle.local_change();
    eventually("the first pushes are acknowledged", Duration::from_secs(30), || {
        a.with(|s| s.outbox_len().unwrap()) < before
    })
    .await;
    process.kill();
    eventually("A sees the server gone", Duration::from_secs(10), || {
        matches!(handle.status().state, SyncState::Offline { .. })
    })
    .await;
    // Meanwhile A keeps working.
    a.with(|s| s.add_transaction(&expense("2.00", "while offline"), Uuid::from_u128(10_000), t(5_000)).unwrap());
    handle.local_change();
    assert!(handle.status().unsent > 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    process.restart();
    eventually("A is synced again", Duration::from_secs(30), || {
        let status = handle.status();
        status.state == SyncState::Synced && status.unsent == 0
    })
    .await;
    handle.stop().await;
    b.sync().await;
    assert_eq!(b.document(), a.document());
    assert_eq!(b.with(|s| s.transactions_by_id(None, 10).unwrap().len()), 10);
    let creds = Credentials::load(&a.credentials).unwrap().unwrap();
    let hashes = log_hashes(&url, &creds).await;
    assert_exactly_once(&hashes);
    // A's changes, the one made offline, and B's own first change (its ledger's creation).
    assert_eq!(hashes.len() as u64, before + 2, "every change is in the log");
    drop(process);
    server.cleanup().await;
}

/// The `expenso` command line, built beside the server (cargo brings it up to date once per
/// test run: a binary left from an older build must not stand in for today's code).
fn cli() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "expenso-cli", "--bin", "expenso"])
                .status()
                .expect("cargo builds the command line");
            assert!(status.success(), "the command line builds");
            let server = PathBuf::from(env!("CARGO_BIN_EXE_expenso-server"));
            server.with_file_name(format!("expenso{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

fn expenso(data: &Path, server: &str, args: &[&str]) -> std::process::Output {
    Command::new(cli())
        .args(args)
        .arg("--json")
        .env("EXPENSO_DATA_DIR", data)
        .env("EXPENSO_SERVER", server)
        .env("EXPENSO_PASSWORD", PASSWORD)
        .output()
        .expect("expenso runs")
}

fn json_of(output: &std::process::Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_logs_in_syncs_and_survives_being_killed_mid_sync() {
    let server = TestServer::start().await;
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let signup = expenso(&one, &url, &["signup", "--email", "cli@example.com", "--name", "Ana"]);
    assert_eq!(json_of(&signup)["email"], "cli@example.com");
    // A second login on the same device is refused until logout.
    assert!(!expenso(&one, &url, &["login", "--email", "cli@example.com"]).status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(one.join("session.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the saved sign-in is private");
    }
    json_of(&expenso(&one, &url, &["sample-data", "--count", "4000", "--batch", "1"]));
    let status = json_of(&expenso(&one, &url, &["status"]));
    assert!(status["unsent"].as_u64().unwrap() > 4_000, "{status}");

    // Killed mid-sync, then run again: nothing lost, nothing doubled.
    let mut child = Command::new(cli())
        .args(["sync"])
        .env("EXPENSO_DATA_DIR", &one)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let unsent = json_of(&expenso(&one, &url, &["status"]))["unsent"].as_u64().unwrap();
        if unsent < 4_000 || started.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let synced = json_of(&expenso(&one, &url, &["sync"]));
    assert_eq!(synced["unsent"], 0, "{synced}");
    let status = json_of(&expenso(&one, &url, &["status"]));
    assert_eq!((status["logged_in"].as_bool(), status["unsent"].as_u64()), (Some(true), Some(0)));
    assert!(status["last_synced"].is_string(), "{status}");

    // A second device: log in, sync, same transactions.
    json_of(&expenso(&two, &url, &["login", "--email", "cli@example.com", "--device-name", "phone"]));
    json_of(&expenso(&two, &url, &["sync", "--http"]));
    let listed = |dir: &Path| json_of(&expenso(dir, &url, &["list", "--limit", "1"]))["total"].clone();
    assert_eq!(listed(&two), serde_json::json!(4_000));
    assert_eq!(listed(&one), listed(&two));
    let creds = Credentials::load(&one.join("session.json")).unwrap().unwrap();
    assert_exactly_once(&log_hashes(&url, &creds).await);

    // Logout keeps the ledger unless asked to wipe it.
    json_of(&expenso(&two, &url, &["logout"]));
    assert_eq!(json_of(&expenso(&two, &url, &["status"]))["logged_in"], false);
    assert_eq!(listed(&two), serde_json::json!(4_000));
    json_of(&expenso(&one, &url, &["logout", "--wipe"]));
    assert!(!one.join("ledger.db").exists() && !one.join("session.json").exists());
    server.cleanup().await;
}

/// Whether the server refused the call with `status` and `code`.
fn refused(result: Result<impl std::fmt::Debug, client::ClientError>, status: u16, code: &str) -> String {
    match result {
        Err(client::ClientError::Server { status: s, code: c, message }) if s == status && c == code => message,
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_manages_the_account_profile_password_sessions_and_deletion() {
    let mut sink = crate::support::SmtpSink::start().await;
    let port = sink.port;
    let server = TestServer::start_with(|c| {
        c.smtp_host = Some("127.0.0.1".into());
        c.smtp_port = port;
    })
    .await;
    let api = Api::new();
    let email = "manage@example.com";
    let laptop = api.signup(&server.url, email, PASSWORD, "Ana", "laptop").await.unwrap();

    // The profile: the fields given change, the others stay.
    let profile = api.update_profile(&laptop, Some("Ana Lima"), Some("usd"), Some("pt-BR")).await.unwrap();
    assert_eq!(
        (profile.display_name.as_str(), profile.base_currency.as_str(), profile.locale.as_str()),
        ("Ana Lima", "USD", "pt-BR")
    );
    let profile = api.update_profile(&laptop, None, None, Some("en-GB")).await.unwrap();
    assert_eq!((profile.display_name.as_str(), profile.locale.as_str()), ("Ana Lima", "en-GB"));
    assert_eq!(api.profile(&laptop).await.unwrap(), profile);
    let message = refused(api.update_profile(&laptop, None, Some("EURO"), None).await, 422, "invalid");
    assert!(message.starts_with("base_currency: "), "{message}");

    // Sessions: this one and a phone's; the phone signed out from here.
    let phone = api.login(&server.url, email, PASSWORD, "phone").await.unwrap();
    let sessions = api.sessions(&laptop).await.unwrap();
    let mut names: Vec<(&str, bool)> = sessions.iter().map(|s| (s.device_name.as_str(), s.current)).collect();
    names.sort();
    assert_eq!(names, [("laptop", true), ("phone", false)]);
    assert!(sessions.iter().all(|s| s.last_seen_at >= s.created_at));
    api.revoke_session(&laptop, phone.session_id).await.unwrap();
    refused(api.profile(&phone).await, 401, "unauthorized");
    assert!(matches!(api.refresh(&phone).await, Err(client::ClientError::SignedOut(_))));
    let left: Vec<Uuid> = api.sessions(&laptop).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(left, [laptop.session_id]);
    refused(api.revoke_session(&laptop, phone.session_id).await, 404, "not_found");

    // The password: the old one no longer logs in, this session stays signed in.
    let new_password = "another long and unusual phrase";
    let message = refused(api.change_password(&laptop, "not my password", new_password).await, 422, "invalid");
    assert!(message.starts_with("current_password: "), "{message}");
    api.change_password(&laptop, PASSWORD, new_password).await.unwrap();
    refused(api.login(&server.url, email, PASSWORD, "tablet").await, 401, "bad_credentials");
    let tablet = api.login(&server.url, email, new_password, "tablet").await.unwrap();
    assert_eq!(api.profile(&laptop).await.unwrap().email, email);

    // A reset link: the same answer for an account and for nobody; the account's e-mail goes out.
    let answer = api.request_password_reset(&server.url, email).await.unwrap();
    assert_eq!(answer, "If an account uses this e-mail, a reset link is on its way.");
    assert_eq!(api.request_password_reset(&format!("{}/", server.url), "nobody@example.com").await.unwrap(), answer);
    let mail = tokio::time::timeout(Duration::from_secs(10), sink.messages.recv()).await.unwrap().unwrap();
    assert!(mail.contains(email) && mail.contains("reset"), "{mail}");
    assert!(matches!(api.request_password_reset("not a server", email).await, Err(client::ClientError::Local(_))));

    // Deleting the account takes the password; afterwards nothing of it signs in.
    let message = refused(api.delete_account(&laptop, PASSWORD).await, 422, "invalid");
    assert!(message.starts_with("password: "), "{message}");
    api.delete_account(&laptop, new_password).await.unwrap();
    refused(api.profile(&laptop).await, 401, "unauthorized");
    refused(api.profile(&tablet).await, 401, "unauthorized");
    refused(api.login(&server.url, email, new_password, "laptop").await, 401, "bad_credentials");
    server.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_calls_renew_the_saved_sign_in_and_keep_the_background_sync_signed_in() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::new();
    let email = "renew@example.com";
    signup(&server.url, email).await;
    let path = dir.path().join("session.json");

    // Signed out: nothing is called.
    let calls = std::sync::atomic::AtomicU32::new(0);
    let sessions = |c: Credentials| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let api = &api;
        async move { api.sessions(&c).await }
    };
    assert!(matches!(api.authorized(&path, sessions).await, Err(client::ClientError::SignedOut(_))));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);

    // An access token that expired: renewed before the call, the rotated tokens saved.
    let signed_in = api.login(&server.url, email, PASSWORD, "laptop").await.unwrap();
    let expired = Credentials { access_expires_at: Utc::now() - chrono::Duration::minutes(5), ..signed_in.clone() };
    expired.save(&path).unwrap();
    let listed = api.authorized(&path, sessions).await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "one call, with fresh tokens");
    assert_eq!(listed.iter().filter(|s| s.current).map(|s| s.id).collect::<Vec<_>>(), [signed_in.session_id]);
    let saved = Credentials::load(&path).unwrap().unwrap();
    assert_ne!(saved.refresh_token, expired.refresh_token, "the rotated refresh token is saved");
    assert_ne!(saved.access_token, expired.access_token);
    assert!(saved.access_expires_at > Utc::now() + chrono::Duration::minutes(10));
    assert_eq!((saved.session_id, saved.account), (signed_in.session_id, signed_in.account));

    // An access token the server refuses although it has not expired: renewed and retried once.
    Credentials { access_token: "not a token".into(), ..saved.clone() }.save(&path).unwrap();
    let profile = api.authorized(&path, |c| async move { Api::new().profile(&c).await }).await.unwrap();
    assert_eq!(profile.email, email);
    let renewed = Credentials::load(&path).unwrap().unwrap();
    assert_ne!(renewed.refresh_token, saved.refresh_token);

    // The background sync holds the same sign-in; an account call renews it meanwhile (the
    // sync's access token dies with it). The sync takes the renewed tokens instead of
    // presenting its replaced refresh token, which would end the session.
    let store = Store::create(
        &dir.path().join("ledger.db"),
        ActorId::from(&[9; 16][..]),
        Currency::from_code("EUR").unwrap(),
        t(0),
    )
    .unwrap();
    let device = Device { store: Arc::new(Mutex::new(store)), credentials: path.clone() };
    let handle = device.start(Transport::Http);
    eventually("the device syncs", Duration::from_secs(20), || handle.status().state == SyncState::Synced).await;
    let held = Credentials::load(&path).unwrap().unwrap();
    Credentials { access_expires_at: Utc::now(), ..held.clone() }.save(&path).unwrap();
    api.authorized(&path, sessions).await.unwrap();
    assert_ne!(Credentials::load(&path).unwrap().unwrap().refresh_token, held.refresh_token);
    device.with(|s| s.add_transaction(&expense("4.20", "after the renewal"), Uuid::from_u128(42), t(1)).unwrap());
    handle.local_change();
    eventually("the change goes up with the renewed tokens", Duration::from_secs(20), || {
        device.with(|s| s.outbox_len().unwrap()) == 0 && handle.status().state == SyncState::Synced
    })
    .await;
    handle.stop().await;
    let still = api.authorized(&path, sessions).await.unwrap();
    assert!(still.iter().any(|s| s.current && s.id == signed_in.session_id), "the session is still signed in");

    // A refused renewal means signed out: here, the session ended on the server.
    let last = Credentials::load(&path).unwrap().unwrap();
    api.logout(&last).await.unwrap();
    Credentials { access_expires_at: Utc::now(), ..last }.save(&path).unwrap();
    assert!(matches!(api.authorized(&path, sessions).await, Err(client::ClientError::SignedOut(_))));
    server.cleanup().await;
}
