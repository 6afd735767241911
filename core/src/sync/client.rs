//! The device's background sync: signs in, keeps the session's tokens fresh, and drives a
//! [`Session`] over the WebSocket (or, where a socket cannot be held, over HTTP with
//! polling), reconnecting with exponential backoff and jitter while offline.
//!
//! The ledger is shared with the app as `Arc<Mutex<Store>>`; every use of it runs on a
//! blocking thread. The app calls [`SyncHandle::local_change`] after each write and watches
//! [`SyncHandle::subscribe`] for the status (and for `received`, to refresh its screens).
//!
//! [`Api`] also has the account calls an app makes from a device (profile, password,
//! sessions, deletion, password reset); [`Api::authorized`] runs one with the saved sign-in,
//! renewing it as the background sync does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};
use uuid::Uuid;

use super::{
    Action, ClientMessage, PullResponse, PushRequest, PushResponse, ServerMessage, Session, SyncError,
    SNAPSHOT_SEQ_HEADER,
};
use crate::account::{Profile, SessionInfo, SignedIn, Tokens};
use crate::store::{Binding, Store};

/// Renew the access token when it has less than this left.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::seconds(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request that takes longer than this counts as a lost connection.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How often an idle socket pings the server (which drops sockets silent for 90 s).
const PING_EVERY: Duration = Duration::from_secs(30);

/// A signed-in session on a server, as stored on the device (file mode 0600).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub server: String,
    pub account: Uuid,
    pub email: String,
    pub session_id: Uuid,
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server)
            .field("account", &self.account)
            .field("email", &self.email)
            .field("session_id", &self.session_id)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn binding(&self) -> Binding {
        Binding { server: self.server.clone(), account: self.account }
    }

    /// Reads stored credentials; none when the device is signed out.
    pub fn load(path: &Path) -> Result<Option<Credentials>, ClientError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ClientError::Local(format!("the saved sign-in at {} is damaged ({e}); log in again", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::Local(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the credentials readable by this user only, replacing the old file in one step.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        let local =
            |e: std::io::Error| ClientError::Local(format!("cannot save the sign-in at {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(local)?;
        }
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        {
            use std::io::Write;
            let mut file = options.open(&tmp).map_err(local)?;
            file.write_all(&serde_json::to_vec_pretty(self).expect("credentials serialize")).map_err(local)?;
            file.sync_all().map_err(local)?;
        }
        std::fs::rename(&tmp, path).map_err(local)
    }

    pub fn delete(path: &Path) -> Result<(), ClientError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::Local(format!("cannot remove {}: {e}", path.display()))),
        }
    }

    fn needs_refresh(&self) -> bool {
        self.access_expires_at - Utc::now() < REFRESH_MARGIN
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server cannot be reached (no network, server down): try again later.
    #[error("the server cannot be reached: {0}")]
    Offline(String),
    /// The session is over (logged out elsewhere, revoked, password changed): log in again.
    #[error("signed out: {0}")]
    SignedOut(String),
    /// The server refused the request.
    #[error("{message} ({code})")]
    Server { status: u16, code: String, message: String },
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("{0}")]
    Local(String),
}

impl From<crate::Error> for ClientError {
    fn from(e: crate::Error) -> Self {
        ClientError::Sync(SyncError::Store(e))
    }
}

impl ClientError {
    /// Whether trying again later may succeed without the user doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Offline(_) => true,
            ClientError::Server { status, .. } => *status >= 500 || *status == 429,
            ClientError::Sync(SyncError::Server { code, .. }) => {
                matches!(code.as_str(), "internal" | "unavailable" | "rate_limited")
            }
            ClientError::Sync(SyncError::Protocol(_)) => true,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// The server's HTTP API as the device uses it.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Api::new()
    }
}

impl Api {
    pub fn new() -> Api {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("expenso/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Api { http }
    }

    pub async fn signup(
        &self,
        server: &str,
        email: &str,
        password: &str,
        display_name: &str,
        device: &str,
    ) -> Result<Credentials, ClientError> {
        let body = serde_json::json!({ "email": email, "password": password, "display_name": display_name, "device_name": device });
        self.sign_in(server, "/api/v1/auth/signup", body).await
    }

    pub async fn login(
        &self,
        server: &str,
        email: &str,
        password: &str,
        device: &str,
    ) -> Result<Credentials, ClientError> {
        let body = serde_json::json!({ "email": email, "password": password, "device_name": device });
        self.sign_in(server, "/api/v1/auth/login", body).await
    }

    async fn sign_in(&self, server: &str, path: &str, body: serde_json::Value) -> Result<Credentials, ClientError> {
        let server = normalize_server(server)?;
        let response = self.http.post(format!("{server}{path}")).json(&body).send().await.map_err(offline)?;
        let signed: SignedIn = json_of(response).await?;
        Ok(Credentials {
            server,
            account: signed.user.id,
            email: signed.user.email,
            session_id: signed.tokens.session_id,
            access_token: signed.tokens.access_token,
            refresh_token: signed.tokens.refresh_token,
            access_expires_at: Utc::now() + chrono::Duration::seconds(signed.tokens.expires_in),
        })
    }

    /// Swaps the refresh token for new tokens. A refused refresh means the session is over.
    pub async fn refresh(&self, credentials: &Credentials) -> Result<Credentials, ClientError> {
        let response = self
            .http
            .post(format!("{}/api/v1/auth/refresh", credentials.server))
            .json(&serde_json::json!({ "refresh_token": credentials.refresh_token }))
            .send()
            .await
            .map_err(offline)?;
        let tokens: Tokens = match json_of(response).await {
            Err(ClientError::Server { status: 401, message, .. }) => return Err(ClientError::SignedOut(message)),
            other => other?,
        };
        Ok(Credentials {
            session_id: tokens.session_id,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            access_expires_at: Utc::now() + chrono::Duration::seconds(tokens.expires_in),
            ..credentials.clone()
        })
    }

    /// The signed-in account's profile.
    pub async fn profile(&self, credentials: &Credentials) -> Result<Profile, ClientError> {
        let response = self
            .http
            .get(format!("{}/api/v1/account", credentials.server))
            .bearer_auth(&credentials.access_token)
            .send()
            .await
            .map_err(offline)?;
        json_of(response).await
    }

    /// Ends the session on the server.
    pub async fn logout(&self, credentials: &Credentials) -> Result<(), ClientError> {
        let response = self
            .http
            .post(format!("{}/api/v1/auth/logout", credentials.server))
            .bearer_auth(&credentials.access_token)
            .send()
            .await
            .map_err(offline)?;
        check(response).await.map(|_| ())
    }

    /// The account's compacted ledger and the log position it covers.
    pub async fn snapshot(&self, credentials: &Credentials) -> Result<(Vec<u8>, i64), ClientError> {
        let response = self
            .http
            .get(format!("{}/api/v1/sync/snapshot", credentials.server))
            .bearer_auth(&credentials.access_token)
            .send()
            .await
            .map_err(offline)?;
        let response = check(response).await?;
        let upto = response
            .headers()
            .get(SNAPSHOT_SEQ_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| SyncError::Protocol("the snapshot does not say which changes it holds".into()))?;
        let bytes = response.bytes().await.map_err(offline)?;
        Ok((bytes.to_vec(), upto))
    }

    /// Offers the server this ledger's saved document as the snapshot of its log up to
    /// `upto`; returns whether the server kept it.
    pub async fn offer_snapshot(
        &self,
        credentials: &Credentials,
        upto: i64,
        document: Vec<u8>,
    ) -> Result<bool, ClientError> {
        #[derive(serde::Deserialize)]
        struct Offer {
            kept: bool,
        }
        let response = self
            .http
            .put(format!("{}/api/v1/sync/snapshot", credentials.server))
            .bearer_auth(&credentials.access_token)
            .header(SNAPSHOT_SEQ_HEADER, upto.to_string())
            .header("content-type", "application/octet-stream")
            .body(document)
            .send()
            .await
            .map_err(offline)?;
        Ok(json_of::<Offer>(check(response).await?).await?.kept)
    }

    pub async fn pull(&self, credentials: &Credentials, after: i64, limit: u32) -> Result<PullResponse, ClientError> {
        let response = self
            .http
            .get(format!("{}/api/v1/sync/changes", credentials.server))
            .query(&[("after", after.to_string()), ("limit", limit.to_string())])
            .bearer_auth(&credentials.access_token)
            .send()
            .await
            .map_err(offline)?;
        json_of(response).await
    }

    /// How far the account's log reaches (a pull after everything answers it).
    pub async fn latest(&self, credentials: &Credentials) -> Result<i64, ClientError> {
        Ok(self.pull(credentials, i64::MAX, 1).await?.latest)
    }

    pub async fn push(&self, credentials: &Credentials, request: &PushRequest) -> Result<PushResponse, ClientError> {
        let response = self
            .http
            .post(format!("{}/api/v1/sync/changes", credentials.server))
            .bearer_auth(&credentials.access_token)
            .json(request)
            .send()
            .await
            .map_err(offline)?;
        json_of(response).await
    }

    // ---- the account ----

    /// A request of the signed-in session to the account API.
    fn account_request(
        &self,
        method: reqwest::Method,
        credentials: &Credentials,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", credentials.server)).bearer_auth(&credentials.access_token)
    }

    /// Changes the profile's fields that are given (the others stay); answers the profile.
    pub async fn update_profile(
        &self,
        credentials: &Credentials,
        display_name: Option<&str>,
        base_currency: Option<&str>,
        locale: Option<&str>,
    ) -> Result<Profile, ClientError> {
        let body =
            serde_json::json!({ "display_name": display_name, "base_currency": base_currency, "locale": locale });
        let response = self
            .account_request(reqwest::Method::PATCH, credentials, "/api/v1/account")
            .json(&body)
            .send()
            .await
            .map_err(offline)?;
        json_of(response).await
    }

    /// Changes the password. The server ends every other session of the account; this one
    /// stays signed in.
    pub async fn change_password(
        &self,
        credentials: &Credentials,
        current: &str,
        new: &str,
    ) -> Result<(), ClientError> {
        let response = self
            .account_request(reqwest::Method::POST, credentials, "/api/v1/account/password")
            .json(&serde_json::json!({ "current_password": current, "new_password": new }))
            .send()
            .await
            .map_err(offline)?;
        check(response).await.map(|_| ())
    }

    /// The account's signed-in sessions, the most recently seen first (`current` marks this one).
    pub async fn sessions(&self, credentials: &Credentials) -> Result<Vec<SessionInfo>, ClientError> {
        let response = self
            .account_request(reqwest::Method::GET, credentials, "/api/v1/account/sessions")
            .send()
            .await
            .map_err(offline)?;
        json_of(response).await
    }

    /// Signs one of the account's sessions out (another device, say).
    pub async fn revoke_session(&self, credentials: &Credentials, id: Uuid) -> Result<(), ClientError> {
        let response = self
            .account_request(reqwest::Method::DELETE, credentials, &format!("/api/v1/account/sessions/{id}"))
            .send()
            .await
            .map_err(offline)?;
        check(response).await.map(|_| ())
    }

    /// Deletes the account and everything the server holds of it (the password confirms).
    /// The ledger on this device stays; the saved sign-in is the caller's to remove.
    pub async fn delete_account(&self, credentials: &Credentials, password: &str) -> Result<(), ClientError> {
        let response = self
            .account_request(reqwest::Method::DELETE, credentials, "/api/v1/account")
            .json(&serde_json::json!({ "password": password }))
            .send()
            .await
            .map_err(offline)?;
        check(response).await.map(|_| ())
    }

    /// Asks for a password-reset link by e-mail; answers the server's message, which is the
    /// same whether or not an account uses the address.
    pub async fn request_password_reset(&self, server: &str, email: &str) -> Result<String, ClientError> {
        #[derive(Deserialize)]
        struct Requested {
            message: String,
        }
        let server = normalize_server(server)?;
        let response = self
            .http
            .post(format!("{server}/api/v1/auth/password-reset"))
            .json(&serde_json::json!({ "email": email }))
            .send()
            .await
            .map_err(offline)?;
        Ok(json_of::<Requested>(response).await?.message)
    }

    /// Runs `call` with the saved sign-in at `credentials_path`, kept fresh: renewed first when
    /// the access token expires within a minute, and renewed once more and retried when the
    /// server refuses it (401). Renewed tokens are saved there. Without a saved sign-in, or
    /// when the server refuses the renewal (the session is over), the answer is
    /// [`ClientError::SignedOut`].
    ///
    /// `call` may run twice, so it takes the credentials by value:
    ///
    /// ```no_run
    /// # async fn f(path: &std::path::Path) -> Result<(), expenso_core::sync::client::ClientError> {
    /// let api = expenso_core::sync::client::Api::new();
    /// let sessions = api.authorized(path, |c| { let api = &api; async move { api.sessions(&c).await } }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn authorized<T, F, Fut>(&self, credentials_path: &Path, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut(Credentials) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut credentials = saved_sign_in(credentials_path).await?;
        if credentials.needs_refresh() {
            credentials = renew(self, credentials_path, &credentials).await?;
        }
        match call(credentials.clone()).await {
            Err(ClientError::Server { status: 401, .. }) => {
                let fresh = renew(self, credentials_path, &credentials).await?;
                call(fresh).await
            }
            other => other,
        }
    }
}

/// The sign-in saved at `path`; [`ClientError::SignedOut`] when there is none.
async fn saved_sign_in(path: &Path) -> Result<Credentials, ClientError> {
    let path = path.to_path_buf();
    let stored = tokio::task::spawn_blocking(move || Credentials::load(&path)).await.expect("no panic")?;
    stored.ok_or_else(|| ClientError::SignedOut("not logged in".into()))
}

/// Swaps the refresh token of `held` for new tokens and saves them at `path`.
///
/// Everything in this process that uses one saved sign-in (the background sync, the account
/// calls) renews through here, one at a time; one that finds the saved tokens renewed since it
/// read them takes those instead of presenting its replaced refresh token, which the server
/// would take for a stolen one and end the session.
async fn renew(api: &Api, path: &Path, held: &Credentials) -> Result<Credentials, ClientError> {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let current = match saved_sign_in(path).await {
        Ok(saved) if saved.session_id == held.session_id && saved.refresh_token != held.refresh_token => {
            if !saved.needs_refresh() {
                return Ok(saved);
            }
            saved
        }
        _ => held.clone(),
    };
    let fresh = api.refresh(&current).await?;
    let (saved, path) = (fresh.clone(), path.to_path_buf());
    tokio::task::spawn_blocking(move || saved.save(&path)).await.expect("no panic")?;
    Ok(fresh)
}

fn normalize_server(server: &str) -> Result<String, ClientError> {
    let server = server.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(server).map_err(|e| {
        ClientError::Local(format!("{server:?} is not a server address ({e}); e.g. https://sync.example.com"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ClientError::Local(format!("{server:?} is not an http(s) server address")));
    }
    Ok(server.to_string())
}

fn offline(e: reqwest::Error) -> ClientError {
    ClientError::Offline(e.without_url().to_string())
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let (code, message) = match serde_json::from_str::<ErrorBody>(&body) {
        Ok(e) => (e.code, e.message),
        Err(_) => ("http".to_string(), format!("the server answered {status}")),
    };
    Err(ClientError::Server { status: status.as_u16(), code, message })
}

async fn json_of<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    let response = check(response).await?;
    response.json().await.map_err(|e| {
        if e.is_decode() {
            ClientError::Sync(SyncError::Protocol(format!("an answer the app does not understand: {e}")))
        } else {
            offline(e)
        }
    })
}

/// Where sync stands, for the app's status line.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    #[serde(flatten)]
    pub state: SyncState,
    pub last_synced: Option<DateTime<Utc>>,
    /// Changes made here that the server does not have yet.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unsent: u64,
    /// Changes received from the server since the engine started: refresh when it grows.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub received: u64,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Not logged in: the ledger is local only.
    SignedOut,
    Syncing,
    Synced,
    /// The server cannot be reached; the next attempt is due at `retry_at`.
    Offline {
        reason: String,
        retry_at: Option<DateTime<Utc>>,
    },
    Error {
        reason: String,
    },
}

/// How the engine reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The WebSocket, falling back to HTTP when a socket cannot be opened.
    Auto,
    WebSocket,
    /// HTTP requests with polling (mobile background work, proxies that block sockets).
    Http,
}

#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub transport: Transport,
    /// Local changes within this window go up together (the first at once).
    pub debounce: Duration,
    /// How often HTTP mode asks the server for news.
    pub poll_every: Duration,
    /// The longest wait between two attempts while offline.
    pub max_backoff: Duration,
    pub device_name: String,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            transport: Transport::Auto,
            debounce: Duration::from_millis(250),
            poll_every: Duration::from_secs(30),
            max_backoff: Duration::from_secs(60),
            device_name: "device".into(),
        }
    }
}

/// What one sync moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub pushed: u64,
    pub pulled: u64,
    pub received: u64,
    pub cursor: i64,
    /// The server kept this device's document as the account's snapshot (after a large
    /// upload), so fresh devices start from it.
    pub snapshot_kept: bool,
}

/// The background sync of one ledger.
pub struct SyncHandle {
    kick: Arc<Notify>,
    status: watch::Receiver<SyncStatus>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SyncHandle {
    /// Starts syncing `store` with the account whose credentials are at `credentials`. With
    /// no credentials there, the status says signed out and nothing happens.
    pub fn start(store: Arc<Mutex<Store>>, credentials: PathBuf, options: SyncOptions) -> SyncHandle {
        let kick = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let (status_tx, status) =
            watch::channel(SyncStatus { state: SyncState::Syncing, last_synced: None, unsent: 0, received: 0 });
        let engine = Engine {
            store,
            credentials_path: credentials,
            options,
            api: Api::new(),
            kick: kick.clone(),
            stop: stopped,
            status: status_tx,
            received: 0,
            once: false,
            agreed: false,
            snapshot_kept: false,
        };
        let task = tokio::spawn(engine.run());
        SyncHandle { kick, status, stop, task }
    }

    /// The ledger changed here: sync soon.
    pub fn local_change(&self) {
        self.kick.notify_one();
    }

    pub fn status(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// Stops syncing; a request under way is abandoned (it is safe to repeat).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Syncs until the device and the server agree, then returns (`expenso sync`, tests).
pub async fn sync_once(
    store: Arc<Mutex<Store>>,
    credentials: PathBuf,
    options: SyncOptions,
) -> Result<SyncReport, ClientError> {
    let (_stop_tx, stop) = watch::channel(false);
    let (status, _) =
        watch::channel(SyncStatus { state: SyncState::Syncing, last_synced: None, unsent: 0, received: 0 });
    let mut engine = Engine {
        store,
        credentials_path: credentials,
        options,
        api: Api::new(),
        kick: Arc::new(Notify::new()),
        stop,
        status,
        received: 0,
        once: true,
        agreed: false,
        snapshot_kept: false,
    };
    let mut credentials = engine.credentials().await?;
    let mut refreshed = false;
    loop {
        match engine.connect_once(&mut credentials).await {
            Ok(report) => return Ok(report),
            Err(e) if e.unauthorized() && !refreshed => {
                refreshed = true;
                credentials = engine.refresh(&credentials).await?;
            }
            Err(e) => return Err(e.into_client_error()),
        }
    }
}

/// Why a connection ended.
enum Ended {
    Stopped,
    Failed(ClientError),
    /// The socket could not be opened although the server answered: use HTTP.
    NoSocket,
}

impl Ended {
    fn unauthorized(&self) -> bool {
        match self {
            Ended::Failed(ClientError::Server { status: 401, .. }) => true,
            Ended::Failed(ClientError::Sync(e)) => e.is_unauthorized(),
            _ => false,
        }
    }

    fn into_client_error(self) -> ClientError {
        match self {
            Ended::Failed(e) => e,
            Ended::Stopped => ClientError::Local("stopped".into()),
            Ended::NoSocket => ClientError::Offline("the server does not accept the sync socket".into()),
        }
    }
}

impl From<ClientError> for Ended {
    fn from(e: ClientError) -> Self {
        Ended::Failed(e)
    }
}

impl From<SyncError> for Ended {
    fn from(e: SyncError) -> Self {
        Ended::Failed(ClientError::Sync(e))
    }
}

struct Engine {
    store: Arc<Mutex<Store>>,
    credentials_path: PathBuf,
    options: SyncOptions,
    api: Api,
    kick: Arc<Notify>,
    stop: watch::Receiver<bool>,
    status: watch::Sender<SyncStatus>,
    received: u64,
    once: bool,
    /// Set when the connection reached agreement with the server: the backoff starts over.
    agreed: bool,
    snapshot_kept: bool,
}

impl Engine {
    async fn run(mut self) {
        let mut credentials = match self.credentials().await {
            Ok(c) => c,
            Err(ClientError::SignedOut(_)) => {
                self.set_state(SyncState::SignedOut).await;
                return;
            }
            Err(e) => {
                self.set_state(SyncState::Error { reason: e.to_string() }).await;
                return;
            }
        };
        let mut failures = 0u32;
        let mut refreshed = false;
        loop {
            let outcome = self.connect_once(&mut credentials).await;
            let error = match outcome {
                Ok(_) | Err(Ended::Stopped) => return,
                Err(e) if e.unauthorized() && !refreshed => {
                    refreshed = true;
                    match self.refresh(&credentials).await {
                        Ok(c) => {
                            credentials = c;
                            continue;
                        }
                        Err(e) => e,
                    }
                }
                Err(e) => e.into_client_error(),
            };
            refreshed = false;
            if std::mem::take(&mut self.agreed) {
                failures = 0;
            }
            if let ClientError::SignedOut(reason) = &error {
                self.set_state(SyncState::Error { reason: format!("signed out: {reason}; log in again") }).await;
                return;
            }
            failures = failures.saturating_add(1);
            let wait = backoff(failures, self.options.max_backoff);
            let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            let state = if error.is_transient() {
                SyncState::Offline { reason: error.to_string(), retry_at: Some(retry_at) }
            } else {
                SyncState::Error { reason: error.to_string() }
            };
            self.set_state(state).await;
            // A local change does not cut the wait short: the server is away either way.
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.changed() => return,
            }
        }
    }

    async fn credentials(&self) -> Result<Credentials, ClientError> {
        let credentials = saved_sign_in(&self.credentials_path).await?;
        let binding = credentials.binding();
        let bound = self.with_store(move |store| store.binding()).await?;
        if bound.as_ref() != Some(&binding) {
            // Logged in while the ledger was elsewhere (or before it existed): bind it now.
            self.with_store(move |store| store.bind(&binding)).await?;
        }
        Ok(credentials)
    }

    async fn refresh(&self, credentials: &Credentials) -> Result<Credentials, ClientError> {
        renew(&self.api, &self.credentials_path, credentials).await
    }

    /// Runs `f` on the ledger on a blocking thread.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&mut Store) -> T + Send + 'static) -> T {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&mut store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())))
            .await
            .expect("a ledger operation does not panic")
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ClientError> {
        Ok(self.blocking(f).await?)
    }

    /// Runs one of the session's steps with the ledger on a blocking thread.
    async fn step<T: Send + 'static>(
        &self,
        session: &mut Session,
        f: impl FnOnce(&mut Session, &mut Store) -> T + Send + 'static,
    ) -> T {
        let mut owned = std::mem::take(session);
        let (owned, out) = self
            .blocking(move |store| {
                let out = f(&mut owned, store);
                (owned, out)
            })
            .await;
        *session = owned;
        out
    }

    async fn set_state(&self, state: SyncState) {
        let (unsent, last_synced) =
            self.blocking(|store| (store.outbox_len().unwrap_or(0), store.last_synced().ok().flatten())).await;
        self.publish(SyncStatus { state, last_synced, unsent, received: self.received });
    }

    fn publish(&self, status: SyncStatus) {
        self.status.send_if_modified(|old| {
            let changed = *old != status;
            *old = status;
            changed
        });
    }

    /// Checks whether the session is synced (if so, records the time) and publishes the
    /// status, all in one visit to the ledger.
    /// After a large upload, the device's document is offered as the account's snapshot
    /// first (see [`Session::take_snapshot_offer`]).
    async fn settle(&mut self, session: &mut Session, credentials: &Credentials) -> Result<bool, ClientError> {
        self.received += std::mem::take(&mut session.received);
        let (synced, unsent, last_synced, offer) = self
            .step(session, |session, store| -> crate::Result<_> {
                let synced = session.is_synced(store)?;
                if synced {
                    store.set_last_synced(Utc::now())?;
                }
                let offer = match session.take_snapshot_offer(store)? {
                    true => Some((store.sync_cursor()?, store.save_document()?)),
                    false => None,
                };
                Ok((synced, store.outbox_len()?, store.last_synced()?, offer))
            })
            .await?;
        if let Some((upto, document)) = offer {
            // An offer refused or lost changes nothing: the server makes the snapshot itself.
            self.snapshot_kept |= self.api.offer_snapshot(credentials, upto, document).await.unwrap_or(false);
        }
        self.agreed |= synced;
        let state = if synced { SyncState::Synced } else { SyncState::Syncing };
        self.publish(SyncStatus { state, last_synced, unsent, received: self.received });
        Ok(synced)
    }

    /// Downloads the snapshot for the session; without one (refused, not transient), the
    /// session pulls the log instead.
    async fn fetch_snapshot(&self, credentials: &Credentials, session: &mut Session) -> Result<Vec<Action>, Ended> {
        Ok(match self.api.snapshot(credentials).await {
            Ok((bytes, upto)) => self.step(session, move |s, store| s.on_snapshot(store, &bytes, upto)).await?,
            Err(e) if !e.is_transient() => self.step(session, |s, store| s.on_snapshot_unavailable(store)).await?,
            Err(e) => return Err(e.into()),
        })
    }

    async fn connect_once(&mut self, credentials: &mut Credentials) -> Result<SyncReport, Ended> {
        if credentials.needs_refresh() {
            *credentials = self.refresh(credentials).await?;
        }
        self.set_state(SyncState::Syncing).await;
        match self.options.transport {
            Transport::Http => self.run_http(credentials).await,
            Transport::WebSocket => self.run_socket(credentials).await,
            Transport::Auto => match self.run_socket(credentials).await {
                Err(Ended::NoSocket) => self.run_http(credentials).await,
                other => other,
            },
        }
    }

    fn report(&self, session: &Session, cursor: i64) -> SyncReport {
        SyncReport {
            pushed: session.pushed,
            pulled: session.pulled,
            received: self.received,
            cursor,
            snapshot_kept: self.snapshot_kept,
        }
    }

    async fn cursor(&self) -> Result<i64, ClientError> {
        self.with_store(|store| store.sync_cursor()).await
    }

    async fn run_socket(&mut self, credentials: &Credentials) -> Result<SyncReport, Ended> {
        let url = socket_url(&credentials.server);
        let mut request = url.into_client_request().map_err(|e| ClientError::Local(e.to_string()))?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", credentials.access_token)
                .parse()
                .map_err(|_| ClientError::Local("bad token".into()))?,
        );
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request)).await;
        let socket = match connected {
            Err(_) => return Err(ClientError::Offline("connecting timed out".into()).into()),
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                return Err(match status {
                    401 => ClientError::Server { status, code: "unauthorized".into(), message: "unauthorized".into() }
                        .into(),
                    s if s >= 500 => ClientError::Server {
                        status,
                        code: "unavailable".into(),
                        message: format!("the server answered {s}"),
                    }
                    .into(),
                    _ => Ended::NoSocket,
                });
            }
            Ok(Err(tungstenite::Error::Io(e))) => return Err(ClientError::Offline(e.to_string()).into()),
            Ok(Err(e)) => {
                return Err(match self.options.transport {
                    Transport::Auto => Ended::NoSocket,
                    _ => ClientError::Offline(e.to_string()).into(),
                })
            }
        };
        let (mut sink, mut stream) = socket.split();
        let mut session = Session::new();
        let text = |m: &ClientMessage| Message::Text(serde_json::to_string(m).expect("messages serialize"));
        sink.send(text(&session.hello())).await.map_err(|e| ClientError::Offline(e.to_string()))?;
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut push_due: Option<Instant> = None;
        let mut last_push = Instant::now() - self.options.debounce;
        loop {
            let actions: Vec<Action> = tokio::select! {
                incoming = stream.next() => {
                    let message = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None => return Err(ClientError::Offline("the server closed the connection".into()).into()),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(ClientError::Offline(e.to_string()).into()),
                    };
                    let message: ServerMessage = serde_json::from_str(&message)
                        .map_err(|e| SyncError::Protocol(format!("a message the app does not understand: {e}")))?;
                    self.step(&mut session, move |s, store| s.on_message(store, message)).await?
                }
                _ = self.kick.notified() => {
                    let due = last_push + self.options.debounce;
                    push_due = Some(due.max(Instant::now()));
                    continue;
                }
                _ = sleep_until(push_due) => {
                    push_due = None;
                    last_push = Instant::now();
                    self.step(&mut session, |s, store| s.on_local_change(store)).await?
                }
                _ = ping.tick() => {
                    sink.send(Message::Ping(Vec::new())).await.map_err(|e| ClientError::Offline(e.to_string()))?;
                    continue;
                }
                _ = self.stop.changed() => {
                    let _ = sink.send(Message::Close(None)).await;
                    return Err(Ended::Stopped);
                }
            };
            let mut queue = std::collections::VecDeque::from(actions);
            while let Some(action) = queue.pop_front() {
                match action {
                    Action::Send(message) => {
                        sink.send(text(&message)).await.map_err(|e| ClientError::Offline(e.to_string()))?;
                    }
                    Action::FetchSnapshot => queue.extend(self.fetch_snapshot(credentials, &mut session).await?),
                }
            }
            if self.settle(&mut session, credentials).await? && self.once {
                let cursor = self.cursor().await?;
                return Ok(self.report(&session, cursor));
            }
        }
    }

    async fn run_http(&mut self, credentials: &Credentials) -> Result<SyncReport, Ended> {
        let mut session = Session::new();
        let mut poll = tokio::time::interval(self.options.poll_every);
        poll.tick().await;
        let latest = self.api.latest(credentials).await?;
        let mut actions = self
            .step(&mut session, move |s, store| {
                s.on_message(
                    store,
                    ServerMessage::Welcome { protocol: super::PROTOCOL_VERSION, latest, log_bytes: None },
                )
            })
            .await?;
        let mut push_due: Option<Instant> = None;
        let mut last_push = Instant::now() - self.options.debounce;
        loop {
            let mut queue = std::collections::VecDeque::from(std::mem::take(&mut actions));
            while let Some(action) = queue.pop_front() {
                let reply = match action {
                    Action::Send(ClientMessage::Pull { after, limit }) => ServerMessage::Changes(
                        self.api.pull(credentials, after, limit.unwrap_or(super::MAX_PULL)).await?,
                    ),
                    Action::Send(ClientMessage::Push { id, changes }) => {
                        let r = self.api.push(credentials, &PushRequest { changes }).await?;
                        ServerMessage::Stored { id, stored: r.stored, latest: r.latest, fresh_from: r.fresh_from }
                    }
                    Action::Send(ClientMessage::Hello { .. }) => continue,
                    Action::FetchSnapshot => {
                        queue.extend(self.fetch_snapshot(credentials, &mut session).await?);
                        continue;
                    }
                };
                let next = self.step(&mut session, move |s, store| s.on_message(store, reply)).await?;
                queue.extend(next);
            }
            if self.settle(&mut session, credentials).await? && self.once {
                let cursor = self.cursor().await?;
                return Ok(self.report(&session, cursor));
            }
            actions = tokio::select! {
                _ = poll.tick() => {
                    let latest = self.api.latest(credentials).await?;
                    self.step(&mut session, move |s, store| s.on_message(store, ServerMessage::Notify { latest })).await?
                }
                _ = self.kick.notified() => {
                    push_due = Some((last_push + self.options.debounce).max(Instant::now()));
                    Vec::new()
                }
                _ = sleep_until(push_due) => {
                    push_due = None;
                    last_push = Instant::now();
                    self.step(&mut session, |s, store| s.on_local_change(store)).await?
                }
                _ = self.stop.changed() => return Err(Ended::Stopped),
            };
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn socket_url(server: &str) -> String {
    let ws = if let Some(rest) = server.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = server.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        server.to_string()
    };
    format!("{ws}/api/v1/sync")
}

/// Exponential backoff with "equal jitter": half the step fixed, half random, so devices
/// that lost the server together do not come back together.
fn backoff(failures: u32, max: Duration) -> Duration {
    let step = Duration::from_millis(500).saturating_mul(1u32 << failures.min(16).saturating_sub(1)).min(max);
    let half = step / 2;
    half + half.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_limit_with_jitter() {
        let max = Duration::from_secs(60);
        for failures in 1..20 {
            let wait = backoff(failures, max);
            let step = Duration::from_millis(500).saturating_mul(1 << (failures.min(16) - 1)).min(max);
            assert!(wait >= step / 2 && wait <= step, "{failures}: {wait:?} of {step:?}");
        }
        assert!(backoff(1, max) <= Duration::from_millis(500));
        assert!(backoff(30, max) >= Duration::from_secs(30));
    }

    #[test]
    fn socket_url_follows_the_server_scheme() {
        assert_eq!(socket_url("https://sync.example.com"), "wss://sync.example.com/api/v1/sync");
        assert_eq!(socket_url("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/api/v1/sync");
    }

    #[test]
    fn credentials_are_private_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.json");
        let credentials = Credentials {
            server: "https://sync.example.com".into(),
            account: Uuid::new_v4(),
            email: "ana@example.com".into(),
            session_id: Uuid::new_v4(),
            access_token: "secret-access".into(),
            refresh_token: "secret-refresh".into(),
            access_expires_at: Utc::now(),
        };
        credentials.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(Credentials::load(&path).unwrap(), Some(credentials.clone()));
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("secret"), "{printed}");
        Credentials::delete(&path).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), None);
        std::fs::write(&path, "{").unwrap();
        assert!(Credentials::load(&path).is_err());
    }
}
