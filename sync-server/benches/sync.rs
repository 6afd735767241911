//! Devices syncing through the server, with the core's own sync client: N transactions added
//! offline on device A (imported 1,000 to a change), A's upload, a fresh device B's download
//! until it can query, the bytes each moves, and a one-edit round trip A → server → B with
//! both devices connected: right after the upload, while the server still publishes it for
//! the web dashboard, and once it is published.
//!
//! The server runs in this process on the test databases (`cargo xtask bench sync` starts
//! them). Knob: `EXPENSO_SYNC_SIZES` (default `10000,100000`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use expenso_core::sample::Workload;
use expenso_core::sync::client::{self, Api, SyncHandle, SyncOptions, Transport};
use expenso_core::sync::{ClientMessage, LoggedChange, PullResponse, ServerMessage, WireChange};
use expenso_core::{ActorId, Currency, Filter, PageRequest, Sort, Store, TransactionPatch};

#[global_allocator]
static ALLOCATOR: expenso_server::Allocator = mimalloc::MiMalloc;

const PASSWORD: &str = "a long and unusual phrase";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(drive());
}

struct Server {
    url: String,
    mongo: mongodb::Client,
    admin: String,
    name: String,
    state: expenso_server::AppState,
}

async fn start_server() -> Server {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL (cargo xtask bench sets it)");
    let mongo = std::env::var("MONGODB_URI").expect("MONGODB_URI (cargo xtask bench sets it)");
    let name = format!("expenso_syncbench_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin).await.expect("PostgreSQL answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.expect("create database");
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
    use clap::Parser;
    let mut config = expenso_server::Config::parse_from(["expenso-server"]);
    config.database_url = format!("{base}/{name}");
    config.mongodb_uri = mongo;
    config.mongodb_database = name.clone();
    config.auth_per_minute = 1_000_000;
    config.max_body = 64 * 1024 * 1024;
    let state = expenso_server::AppState::connect(config).await.expect("the server starts");
    state.spawn_background(Duration::from_millis(500));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = expenso_server::app(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    let mongo = mongodb::Client::with_uri_str(&state.config.mongodb_uri).await.unwrap();
    Server { url, mongo, admin, name, state }
}

async fn stop_server(server: Server) {
    server.state.pg.close().await;
    let _ = server.mongo.database(&server.name).drop().await;
    let pool = sqlx::PgPool::connect(&server.admin).await.unwrap();
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", server.name)))
        .execute(&pool)
        .await;
}

struct Device {
    store: Arc<Mutex<Store>>,
    credentials: std::path::PathBuf,
}

async fn device(dir: &std::path::Path, n: u8, server: &str, email: &str) -> Device {
    let folder = dir.join(format!("device{n}"));
    let store = Store::create(
        &folder.join("ledger.db"),
        ActorId::from(uuid::Uuid::new_v4().as_bytes().as_slice()),
        Currency::from_code("EUR").unwrap(),
        Utc::now(),
    )
    .unwrap();
    let credentials = folder.join("session.json");
    Api::new().login(server, email, PASSWORD, &format!("device {n}")).await.unwrap().save(&credentials).unwrap();
    Device { store: Arc::new(Mutex::new(store)), credentials }
}

fn options() -> SyncOptions {
    SyncOptions { transport: Transport::WebSocket, debounce: Duration::ZERO, ..SyncOptions::default() }
}

/// The JSON a push of these changes takes on the socket.
fn push_bytes(changes: &[Vec<u8>]) -> usize {
    let message = ClientMessage::Push { id: 1, changes: changes.iter().cloned().map(WireChange).collect() };
    serde_json::to_string(&message).unwrap().len()
}

fn pull_bytes(changes: &[Vec<u8>]) -> usize {
    let page = PullResponse {
        changes: changes
            .iter()
            .enumerate()
            .map(|(i, c)| LoggedChange { seq: i as i64 + 1, change: WireChange(c.clone()) })
            .collect(),
        cursor: changes.len() as i64,
        more: false,
        latest: changes.len() as i64,
    };
    serde_json::to_string(&ServerMessage::Changes(page)).unwrap().len()
}

fn mb(bytes: usize) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

async fn scenario(server: &Server, size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let email = format!("bench{size}@example.com");
    Api::new().signup(&server.url, &email, PASSWORD, "Bench", "signup").await.unwrap();
    let a = device(dir.path(), 1, &server.url, &email).await;
    let b = device(dir.path(), 2, &server.url, &email).await;

    let started = Instant::now();
    {
        let mut store = a.store.lock().unwrap();
        let mut workload =
            Workload::prepare(&mut store, 7, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(), Utc::now()).unwrap();
        workload.fill(&mut store, size, 1_000, Utc::now()).unwrap();
    }
    let add = started.elapsed();
    let outgoing: Vec<Vec<u8>> =
        a.store.lock().unwrap().outbox(usize::MAX, usize::MAX).unwrap().into_iter().map(|o| o.data).collect();
    let up_bytes = push_bytes(&outgoing);

    let started = Instant::now();
    let uploaded = client::sync_once(a.store.clone(), a.credentials.clone(), options()).await.unwrap();
    let upload = started.elapsed();
    assert_eq!(uploaded.pushed as usize, outgoing.len());

    let started = Instant::now();
    let report = client::sync_once(b.store.clone(), b.credentials.clone(), options()).await.unwrap();
    let first_page = {
        let store = b.store.lock().unwrap();
        let page =
            store.list_transactions(&Filter::default(), Sort::default(), PageRequest { offset: 0, limit: 50 }).unwrap();
        assert_eq!(page.total as usize, size);
        page.items.len()
    };
    let download = started.elapsed();
    assert_eq!(first_page, 50);
    // Through the snapshot, a device pulls only what came after it.
    let snapshot = (report.pulled as usize) < outgoing.len();
    let down_bytes = if snapshot {
        let creds = client::Credentials::load(&b.credentials).unwrap().unwrap();
        Api::new().snapshot(&creds).await.unwrap().0.len()
    } else {
        pull_bytes(&outgoing)
    };

    // Another fresh device, once the server has kept the snapshot it made for B.
    let c = device(dir.path(), 3, &server.url, &email).await;
    let started = Instant::now();
    let report_c = client::sync_once(c.store.clone(), c.credentials.clone(), options()).await.unwrap();
    let total = c
        .store
        .lock()
        .unwrap()
        .list_transactions(&Filter::default(), Sort::default(), PageRequest { offset: 0, limit: 50 })
        .unwrap()
        .total;
    let download_c = started.elapsed();
    assert_eq!(total as usize, size);
    drop(c);

    // One edit with both devices connected, first while the server may still be publishing
    // the upload, then once it has.
    let account = client::Credentials::load(&a.credentials).unwrap().unwrap().account;
    let publishing = !published(server, account).await;
    let ha = SyncHandle::start(a.store.clone(), a.credentials.clone(), options());
    let hb = SyncHandle::start(b.store.clone(), b.credentials.clone(), options());
    for h in [&ha, &hb] {
        let mut status = h.subscribe();
        while status.borrow().state != client::SyncState::Synced {
            status.changed().await.unwrap();
        }
    }
    let (busy_rounds, edit_bytes) = round_trips(&a, &b, &ha, &hb, 0).await;
    let published_after = Instant::now();
    while !published(server, account).await {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let published_after = published_after.elapsed();
    let (rounds, _) = round_trips(&a, &b, &ha, &hb, 20).await;
    ha.stop().await;
    hb.stop().await;
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    println!("| {size} transactions | |");
    println!("| add offline (imported 1,000 a change) | {} |", ms(add));
    println!(
        "| upload A → server | {} ({} changes, {} on the wire{}) |",
        ms(upload),
        outgoing.len(),
        mb(up_bytes),
        if uploaded.snapshot_kept { "; then A's ledger offered and kept as the snapshot" } else { "" }
    );
    println!(
        "| fresh device B: download until a query answers | {} ({}, {} on the wire) |",
        ms(download),
        if snapshot { "snapshot" } else { "change log" },
        mb(down_bytes)
    );
    println!(
        "| a second fresh device (the snapshot kept): download until a query answers | {} ({}) |",
        ms(download_c),
        if (report_c.pulled as usize) < outgoing.len() { "snapshot" } else { "change log" }
    );
    println!("| add + upload + fresh download | {} |", ms(add + upload + download));
    println!(
        "| one-edit round trip A → server → B, median / worst of 20 | {} / {} ({} bytes: push + pull) |",
        ms(rounds[rounds.len() / 2]),
        ms(*rounds.last().unwrap()),
        edit_bytes
    );
    println!(
        "| … right after the upload{} | {} / {} |",
        if publishing {
            format!(", while the server publishes it (done {:.0} s later)", published_after.as_secs_f64())
        } else {
            " (already published)".to_string()
        },
        ms(busy_rounds[busy_rounds.len() / 2]),
        ms(*busy_rounds.last().unwrap()),
    );
}

/// Twenty edits of one transaction on A, each timed until B has received it; sorted, and the
/// bytes one edit moves.
async fn round_trips(a: &Device, b: &Device, ha: &SyncHandle, hb: &SyncHandle, from: usize) -> (Vec<Duration>, usize) {
    let target = a.store.lock().unwrap().transactions_by_id(None, 1).unwrap()[0].id;
    let mut rounds = Vec::new();
    let mut edit_bytes = 0;
    for i in from..from + 20 {
        let mut seen = hb.subscribe();
        let before = seen.borrow().received;
        let amount = format!("{}.{:02}", 100 + i, i);
        let started = Instant::now();
        {
            let mut store = a.store.lock().unwrap();
            store
                .edit_transaction(
                    target,
                    &TransactionPatch { amount: Some(amount.clone()), ..Default::default() },
                    Utc::now(),
                )
                .unwrap();
            let change: Vec<Vec<u8>> = store.outbox(10, usize::MAX).unwrap().into_iter().map(|o| o.data).collect();
            edit_bytes = push_bytes(&change) + pull_bytes(&change);
        }
        ha.local_change();
        while seen.borrow().received == before {
            seen.changed().await.unwrap();
        }
        rounds.push(started.elapsed());
        let got = b.store.lock().unwrap().transaction(target).unwrap().unwrap().amount.to_string();
        assert_eq!(got, amount);
    }
    rounds.sort();
    (rounds, edit_bytes)
}

/// Whether the server's web-dashboard records reach the end of the account's change log.
async fn published(server: &Server, account: uuid::Uuid) -> bool {
    use mongodb::bson::{doc, Bson, Document};
    let db = server.mongo.database(&server.name);
    let number = |d: Option<Document>, key: &str| match d.as_ref().and_then(|d| d.get(key)) {
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Int32(v)) => i64::from(*v),
        _ => 0,
    };
    let id = doc! { "_id": account.to_string() };
    let seq = number(db.collection::<Document>("counters").find_one(id.clone()).await.unwrap(), "seq");
    let reached = number(db.collection::<Document>("projections").find_one(id).await.unwrap(), "materialized");
    reached >= seq
}

async fn drive() {
    let sizes: Vec<usize> = std::env::var("EXPENSO_SYNC_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let server = start_server().await;
    println!("| sync, devices with the core's client over the WebSocket | |");
    println!("|---|---|");
    for size in sizes {
        scenario(&server, size).await;
    }
    stop_server(server).await;
}
