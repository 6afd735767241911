//! A server on port 0 with a fresh PostgreSQL database and MongoDB database of its own, and
//! a small HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use expenso_core::sync::PullResponse;
use expenso_core::{ActorId, Currency, Store};
use expenso_server::{app, AppState, Config};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

pub struct TestServer {
    pub url: String,
    pub state: AppState,
    pg_admin: String,
    pg_name: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `cargo xtask test`, which starts the databases, or set {name}")
    })
}

/// The URL of another database on the same PostgreSQL server.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((url, None));
    let server =
        base.rsplit_once('/').map(|(s, _)| s).filter(|s| s.contains("//") && !s.ends_with('/')).unwrap_or(base);
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let admin = env("DATABASE_URL");
        let name = format!("expenso_test_{}", Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin).await.expect("PostgreSQL answers");
        // The name is ours (a prefix and hex digits), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create a test database");
        pool.close().await;
        let mut config = Config {
            database_url: with_database(&admin, &name),
            mongodb_uri: env("MONGODB_URI"),
            mongodb_database: name.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            max_body: 16 * 1024 * 1024,
            auth_per_minute: 1_000,
            trust_proxy: false,
            ledger_cache_mb: 64,
            public_url: "https://expenso.example".into(),
            web_dir: None,
            smtp_host: None,
            smtp_port: 25,
            smtp_security: "none".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_from: "ExpensoTrack <no-reply@expenso.example>".into(),
            // No test reaches the real ECB: those that fetch rates serve files of their own.
            ecb_url: "http://127.0.0.1:9/".into(),
        };
        tweak(&mut config);
        let server = TestServer::serve(config).await;
        TestServer { pg_admin: admin, pg_name: name, ..server }
    }

    /// Another instance on the same databases.
    pub async fn another_instance(&self) -> TestServer {
        let config = (*self.state.config).clone();
        let server = TestServer::serve(config).await;
        TestServer { pg_admin: String::new(), pg_name: String::new(), ..server }
    }

    async fn serve(config: Config) -> TestServer {
        let state = AppState::connect(config).await.expect("the server connects");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = app(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        state.spawn_background(Duration::from_millis(100));
        TestServer { url, state, pg_admin: String::new(), pg_name: String::new() }
    }

    /// Drops the test's databases (call at the end of a test that passed).
    pub async fn cleanup(self) {
        if self.pg_name.is_empty() {
            return;
        }
        self.state.pg.close().await;
        let client = mongodb::Client::with_uri_str(&self.state.config.mongodb_uri).await.unwrap();
        client.database(&self.state.config.mongodb_database).drop().await.unwrap();
        let pool = sqlx::PgPool::connect(&self.pg_admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.pg_name)))
            .execute(&pool)
            .await
            .unwrap();
    }

    pub fn client(&self) -> Client {
        Client { base: self.url.clone(), http: reqwest::Client::new(), token: None }
    }

    /// A new account, signed in; returns its client.
    pub async fn account(&self, email: &str) -> Client {
        let mut c = self.client();
        let (status, body) = c
            .send(
                Method::POST,
                "/api/v1/auth/signup",
                Some(json!({"email": email, "password": "a long and unusual phrase", "device_name": "laptop"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        c.token = Some(body["tokens"]["access_token"].as_str().unwrap().to_string());
        c
    }
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Client {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A signed-in GET whose answer is not JSON (downloads, snapshots): the response itself.
    pub async fn download(&self, path: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("the server answers")
    }

    pub async fn raw(&self, method: Method, path: &str, body: &'static str) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Logs in as a second device of the same account.
    pub async fn login(&self, email: &str, device: &str) -> Client {
        let mut c = Client { token: None, ..self.clone() };
        let (status, body) = c
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"email": email, "password": "a long and unusual phrase", "device_name": device})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        c.token = Some(body["tokens"]["access_token"].as_str().unwrap().to_string());
        c
    }
}

/// An SMTP server that accepts every message and hands it to the test: enough of RFC 5321
/// for lettre to deliver to it.
pub struct SmtpSink {
    pub port: u16,
    pub messages: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, messages) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok()?;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                tx.send(std::mem::take(body)).ok();
                                data = None;
                                write.write_all(b"250 queued\r\n").await.ok()?;
                            } else {
                                body.push_str(line.strip_prefix('.').unwrap_or(&line));
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok()?;
                                return Some(());
                            }
                            _ => b"250 ok\r\n",
                        };
                        write.write_all(reply).await.ok()?;
                    }
                    Some(())
                });
            }
        });
        SmtpSink { port, messages }
    }
}

/// A file server on port 0 standing in for the ECB: serves each `(name, body)` at `/name`.
/// Returns its address.
pub async fn ecb_server(files: Vec<(&'static str, String)>) -> String {
    let mut router = axum::Router::new();
    for (name, body) in files {
        router = router.route(&format!("/{name}"), axum::routing::get(move || async move { body }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

/// A device: a real core ledger in memory, with a fixed actor per `n`.
pub fn device(n: u8) -> Store {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    Store::create_in_memory(ActorId::from(&[n; 16][..]), Currency::from_code("EUR").unwrap(), t0).unwrap()
}

/// Pulls everything after `cursor` into the store, two changes a page (so paging is
/// exercised); returns the new cursor.
pub async fn pull(client: &Client, store: &mut Store, mut cursor: i64) -> i64 {
    loop {
        let (status, body) =
            client.send(Method::GET, &format!("/api/v1/sync/changes?after={cursor}&limit=2"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page: PullResponse = serde_json::from_value(body).unwrap();
        store.apply_changes(&page.changes.iter().map(|c| c.change.0.clone()).collect::<Vec<_>>()).unwrap();
        cursor = page.cursor;
        if !page.more {
            return cursor;
        }
    }
}
