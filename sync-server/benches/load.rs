//! Load on the sync server over loopback: many devices on WebSockets, each pushing one real
//! ledger change every few seconds; and a fresh device downloading a 100k-transaction ledger.
//!
//! The server runs in a child process (this same binary, `EXPENSO_LOAD_ROLE=server`), so its
//! memory is measured alone. Needs `DATABASE_URL` and `MONGODB_URI` (`cargo xtask bench`
//! starts the databases). Knobs: `EXPENSO_LOAD_DEVICES` (default `100,1000`),
//! `EXPENSO_LOAD_SECONDS` (default 30), `EXPENSO_LOAD_INTERVAL_MS` (default 2000),
//! `EXPENSO_LOAD_LEDGER` (transactions of the fresh-device ledger, default 100000; 0 skips).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use expenso_core::sample::Workload;
use expenso_core::sync::{ClientMessage, PullResponse, PushRequest, ServerMessage, WireChange, PROTOCOL_VERSION};
use expenso_core::{ActorId, Currency, Store};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[global_allocator]
static ALLOCATOR: expenso_server::Allocator = mimalloc::MiMalloc;

fn main() {
    if std::env::var("EXPENSO_LOAD_ROLE").as_deref() == Ok("server") {
        return serve();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(drive());
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The server's side: the real server, configured from the environment.
fn serve() {
    use clap::Parser;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let config = expenso_server::Config::parse_from(["expenso-server"]);
        let listen = config.listen;
        let state = expenso_server::AppState::connect(config).await.expect("the server starts");
        state.spawn_background(Duration::from_millis(500));
        let listener = tokio::net::TcpListener::bind(listen).await.expect("listen");
        axum::serve(listener, expenso_server::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .expect("serve");
    });
}

struct Server {
    child: Child,
    url: String,
    pg_admin: String,
    name: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time a process used so far, in seconds (user + system; Linux counts in 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The MongoDB-wire test server's process, if it runs on this machine (SecantusDB).
fn database_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (String::from_utf8_lossy(&cmdline).contains("secantusd") && pid != std::process::id()).then_some(pid)
    })
}

/// Resident and peak resident memory of a process, in MB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn start_server() -> Server {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL (cargo xtask bench sets it)");
    let mongo = std::env::var("MONGODB_URI").expect("MONGODB_URI (cargo xtask bench sets it)");
    let name = format!("expenso_load_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin).await.expect("PostgreSQL answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.expect("create database");
    pool.close().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
    let child = Command::new(std::env::current_exe().unwrap())
        .env("EXPENSO_LOAD_ROLE", "server")
        .env("DATABASE_URL", format!("{base}/{name}"))
        .env("MONGODB_URI", mongo)
        .env("MONGODB_DATABASE", &name)
        .env("EXPENSO_LISTEN", format!("127.0.0.1:{port}"))
        .env("EXPENSO_AUTH_PER_MINUTE", "1000000")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Server { child, url, pg_admin: admin, name }
}

async fn stop_server(server: Server) {
    let (admin, name) = (server.pg_admin.clone(), server.name.clone());
    drop(server);
    // A test database still busy with the run's backlog may take long to drop: not waited for.
    if let Ok(client) = mongodb::Client::with_uri_str(std::env::var("MONGODB_URI").unwrap()).await {
        let _ = tokio::time::timeout(Duration::from_secs(20), client.database(&name).drop()).await;
    }
    if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&pool)
            .await;
    }
}

async fn post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

/// Two signed-in devices of one new account: their access tokens.
async fn account(http: &reqwest::Client, url: &str, email: &str) -> (String, String) {
    let password = "a long and unusual phrase";
    let a = post(http, &format!("{url}/api/v1/auth/signup"), None, json!({"email": email, "password": password})).await;
    let b = post(http, &format!("{url}/api/v1/auth/login"), None, json!({"email": email, "password": password})).await;
    let token = |v: &Value| v["tokens"]["access_token"].as_str().unwrap().to_string();
    (token(&a), token(&b))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A device's changes: what it holds before the run, and one change per booking after.
fn device_changes(n: usize, bookings: usize) -> (Vec<WireChange>, Vec<WireChange>) {
    let now = Utc::now();
    let mut actor = [0u8; 16];
    actor[..8].copy_from_slice(&(n as u64 + 1).to_le_bytes());
    actor[8..].copy_from_slice(&rand::random::<u64>().to_le_bytes());
    let mut store =
        Store::create_in_memory(ActorId::from(&actor[..]), Currency::from_code("EUR").unwrap(), now).expect("a ledger");
    let end = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut workload = Workload::prepare(&mut store, n as u64, end, now).expect("workload");
    let initial = store.changes_since(&[]).unwrap().into_iter().map(WireChange).collect();
    let mut later = Vec::with_capacity(bookings);
    for _ in 0..bookings {
        let before = store.heads().unwrap();
        let (id, input) = workload.next_transaction();
        store.add_transaction(&input, id, now).unwrap();
        later.extend(store.changes_since(&before).unwrap().into_iter().map(WireChange));
    }
    (initial, later)
}

#[derive(Default)]
struct Tally {
    /// Send to acknowledgement, ms.
    acks: Vec<f64>,
    /// account → seq → when its push was sent.
    sent: HashMap<(usize, i64), Instant>,
    /// account → seq → when the other device heard of it.
    heard: HashMap<(usize, i64), Instant>,
    errors: u64,
}

async fn scenario(url: &str, devices: usize, seconds: u64, interval: Duration) {
    let http = reqwest::Client::new();
    let accounts = devices.div_ceil(2);
    let bookings = (seconds as f64 / interval.as_secs_f64()).ceil() as usize + 1;
    eprintln!("  {devices} devices: signing up {accounts} accounts, preparing {bookings} changes per device");
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut tokens = Vec::with_capacity(accounts);
    let signups = futures::stream::iter(0..accounts)
        .map(|i| {
            let (http, url, tag) = (http.clone(), url.to_string(), tag.clone());
            async move { account(&http, &url, &format!("load-{tag}-{i}@example.com")).await }
        })
        .buffered(8);
    futures::pin_mut!(signups);
    while let Some(t) = signups.next().await {
        tokens.push(t);
    }
    let prepared: Vec<(Vec<WireChange>, Vec<WireChange>)> =
        tokio::task::spawn_blocking(move || (0..devices).map(|n| device_changes(n, bookings)).collect()).await.unwrap();

    // Connect every device and store what it holds already (not timed).
    let ws_url = url.replacen("http", "ws", 1) + "/api/v1/sync";
    let mut sockets = Vec::with_capacity(devices);
    for (n, (initial, _)) in prepared.iter().enumerate() {
        let token = if n % 2 == 0 { &tokens[n / 2].0 } else { &tokens[n / 2].1 };
        let mut request = ws_url.clone().into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("the socket opens");
        let hello = serde_json::to_string(&ClientMessage::Hello { protocol: PROTOCOL_VERSION }).unwrap();
        ws.send(Message::Text(hello)).await.unwrap();
        let push = ClientMessage::Push { id: 0, changes: initial.clone() };
        ws.send(Message::Text(serde_json::to_string(&push).unwrap())).await.unwrap();
        sockets.push(ws);
    }
    for ws in &mut sockets {
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else { panic!("the socket closed") };
            match serde_json::from_str::<ServerMessage>(&text).unwrap() {
                ServerMessage::Stored { .. } => break,
                ServerMessage::Error { message, .. } => panic!("the first push failed: {message}"),
                _ => {}
            }
        }
    }
    let server_pid = SERVER_PID.lock().unwrap().unwrap_or(0);
    let (rss_before, _) = memory(server_pid);
    eprintln!("  {devices} devices connected (server RSS {rss_before:.0} MB); {seconds} s of load");

    let db_pid = database_pid();
    let cpu_before = (cpu_seconds(server_pid), db_pid.map(cpu_seconds).unwrap_or(0.0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let start = Instant::now();
    let stop_sending = start + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(devices);
    for (n, (ws, (_, later))) in sockets.into_iter().zip(prepared).enumerate() {
        let tally = tally.clone();
        let account = n / 2;
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let offset = interval.mul_f64(rand::random::<f64>());
            let mut next = tokio::time::Instant::now() + offset;
            let mut pending: HashMap<u64, Instant> = HashMap::new();
            let mut changes = later.into_iter();
            let mut id = 0u64;
            let mut acked = 0u64;
            let drain_until = stop_sending + Duration::from_secs(15);
            loop {
                let sending = Instant::now() < stop_sending;
                if !sending && pending.is_empty() {
                    // Stay a little to hear the partner's last changes.
                    if Instant::now() > stop_sending + Duration::from_secs(2) {
                        break;
                    }
                }
                if Instant::now() > drain_until {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(next), if sending => {
                        next += interval;
                        let Some(change) = changes.next() else { continue };
                        id += 1;
                        let push = ClientMessage::Push { id, changes: vec![change] };
                        pending.insert(id, Instant::now());
                        if tx.send(Message::Text(serde_json::to_string(&push).unwrap())).await.is_err() {
                            break;
                        }
                    }
                    message = rx.next() => {
                        let Some(Ok(Message::Text(text))) = message else {
                            if message.is_none() { break } else { continue }
                        };
                        let now = Instant::now();
                        match serde_json::from_str::<ServerMessage>(&text) {
                            Ok(ServerMessage::Stored { id, latest, .. }) => {
                                if let Some(sent) = pending.remove(&id) {
                                    acked += 1;
                                    let mut t = tally.lock().unwrap();
                                    t.acks.push((now - sent).as_secs_f64() * 1000.0);
                                    t.sent.insert((account, latest), sent);
                                }
                            }
                            Ok(ServerMessage::Notify { latest }) | Ok(ServerMessage::Pushed { latest, .. }) => {
                                tally.lock().unwrap().heard.entry((account, latest)).or_insert(now);
                            }
                            Ok(ServerMessage::Error { id, .. }) => {
                                if let Some(id) = id {
                                    pending.remove(&id);
                                }
                                tally.lock().unwrap().errors += 1;
                            }
                            _ => {}
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            let _ = tx.send(Message::Close(None)).await;
            acked
        }));
    }
    let sampler = {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let handle = tokio::spawn(async move {
            let mut peak = 0f64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory(server_pid).0);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            peak
        });
        (done, handle)
    };
    let mut acked = 0u64;
    for t in tasks {
        acked += t.await.unwrap_or(0);
    }
    sampler.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let server_cpu = cpu_seconds(server_pid) - cpu_before.0;
    let db_cpu = db_pid.map(cpu_seconds).unwrap_or(0.0) - cpu_before.1;
    let peak_rss = sampler.1.await.unwrap();
    let elapsed = Duration::from_secs(seconds).as_secs_f64();
    let tally = tally.lock().unwrap();
    let mut acks = tally.acks.clone();
    acks.sort_by(|a, b| a.total_cmp(b));
    let mut deliveries: Vec<f64> = tally
        .heard
        .iter()
        .filter_map(|(key, heard)| tally.sent.get(key).map(|sent| heard.saturating_duration_since(*sent)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    deliveries.sort_by(|a, b| a.total_cmp(b));
    println!(
        "| {devices} | {:.0} | {:.1} / {:.1} | {:.1} / {:.1} | {} | {peak_rss:.0} | {:.2} | {} |",
        acked as f64 / elapsed,
        percentile(&acks, 0.5),
        percentile(&acks, 0.99),
        percentile(&deliveries, 0.5),
        percentile(&deliveries, 0.99),
        tally.errors,
        server_cpu * 1000.0 / acked.max(1) as f64,
        if db_pid.is_some() { format!("{:.1}", db_cpu * 1000.0 / acked.max(1) as f64) } else { "-".into() },
    );
    eprintln!(
        "  {acked} changes acknowledged of {} sent, {} deliveries matched",
        tally.acks.len() + tally.errors as usize,
        deliveries.len()
    );
}

static SERVER_PID: Mutex<Option<u32>> = Mutex::new(None);

/// A fresh device downloads a large ledger: the snapshot (as stored), then the changes after.
async fn fresh_device(url: &str, transactions: usize) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
    let (token, phone) = account(&http, url, "big-ledger@example.com").await;
    eprintln!("  building a ledger of {transactions} transactions");
    let changes: Vec<WireChange> = tokio::task::spawn_blocking(move || {
        let now = Utc::now();
        let mut store = Store::create_in_memory(ActorId::random(), Currency::from_code("EUR").unwrap(), now).unwrap();
        let end = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let mut workload = Workload::prepare(&mut store, 20261121, end, now).unwrap();
        workload.fill(&mut store, transactions, 1_000, now).unwrap();
        store.changes_since(&[]).unwrap().into_iter().map(WireChange).collect()
    })
    .await
    .unwrap();
    let started = Instant::now();
    for chunk in changes.chunks(20) {
        post(
            &http,
            &format!("{url}/api/v1/sync/changes"),
            Some(&token),
            serde_json::to_value(PushRequest { changes: chunk.to_vec() }).unwrap(),
        )
        .await;
    }
    eprintln!("  pushed {} changes in {:.1} s", changes.len(), started.elapsed().as_secs_f64());
    // The materializer publishes the records in the background.
    let started = Instant::now();
    loop {
        let page: Value = http
            .get(format!("{url}/api/v1/transactions?limit=1"))
            .bearer_auth(&phone)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if page["total"] == json!(transactions) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "the records were not published: {page}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let published = started.elapsed().as_secs_f64();
    // The first request makes the snapshot if the materializer has not yet; then a fresh
    // device's download is timed.
    let get = |token: String| {
        let http = http.clone();
        let url = url.to_string();
        async move {
            let resp =
                http.get(format!("{url}/api/v1/sync/snapshot")).bearer_auth(token).send().await.expect("snapshot");
            assert!(resp.status().is_success());
            let upto: i64 = resp.headers()[expenso_core::sync::SNAPSHOT_SEQ_HEADER].to_str().unwrap().parse().unwrap();
            (upto, resp.bytes().await.unwrap())
        }
    };
    let _ = get(phone.clone()).await;
    let started = Instant::now();
    let (upto, bytes) = get(phone.clone()).await;
    let download = started.elapsed().as_secs_f64();
    let size = bytes.len();
    let (ready, pulled) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let store = Store::replica_in_memory(ActorId::random(), Some(&bytes)).unwrap();
        let count = store.transaction_count().unwrap();
        (start.elapsed().as_secs_f64(), count)
    })
    .await
    .unwrap();
    let rest: PullResponse = http
        .get(format!("{url}/api/v1/sync/changes?after={upto}"))
        .bearer_auth(&phone)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!("| fresh device, {transactions} transactions | |");
    println!("|---|---|");
    println!("| records published after the last push | {published:.1} s |");
    println!("| snapshot download ({:.1} MB) | {download:.2} s |", size as f64 / 1e6);
    println!("| snapshot to a queryable ledger (load + view) | {ready:.2} s ({pulled} transactions) |");
    println!("| changes after the snapshot | {} |", rest.changes.len());
}

async fn drive() {
    let devices: Vec<usize> = std::env::var("EXPENSO_LOAD_DEVICES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds = env_or("EXPENSO_LOAD_SECONDS", 30u64);
    let interval = Duration::from_millis(env_or("EXPENSO_LOAD_INTERVAL_MS", 2000u64));
    let ledger = env_or("EXPENSO_LOAD_LEDGER", 100_000usize);
    println!(
        "\nsync server under load (loopback, one change per device every {} ms, {seconds} s)\n",
        interval.as_millis()
    );
    // The fresh device first: an overloaded test database can stay busy after a run.
    if ledger > 0 {
        let server = start_server().await;
        fresh_device(&server.url, ledger).await;
        stop_server(server).await;
        println!();
    }
    println!(
        "| devices | changes/s | ack p50 / p99 ms | delivery p50 / p99 ms | errors | server peak RSS MB \
         | server CPU ms per change | database CPU ms per change |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for n in devices {
        let server = start_server().await;
        *SERVER_PID.lock().unwrap() = Some(server.child.id());
        scenario(&server.url, n, seconds, interval).await;
        stop_server(server).await;
    }
}
