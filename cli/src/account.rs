//! `expenso signup`, `login`, `logout`, `sync` and `status`: the ledger and the account's
//! server. The sign-in is kept beside the ledger in `session.json`, readable by this user
//! only.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;
use expenso_core::sync::client::{self, Api, Credentials, SyncOptions, Transport};
use expenso_core::{ActorId, Currency, Store};
use uuid::Uuid;

use crate::output::Out;

#[derive(Args)]
pub struct SignInArgs {
    /// The sync server, e.g. https://sync.example.com.
    #[arg(long, env = "EXPENSO_SERVER")]
    server: String,
    #[arg(long)]
    email: String,
    /// Read the password from the first line of standard input (otherwise from
    /// EXPENSO_PASSWORD, or asked for).
    #[arg(long)]
    password_stdin: bool,
    /// How this device is listed among the account's sessions.
    #[arg(long)]
    device_name: Option<String>,
    /// Your name (sign-up only).
    #[arg(long, default_value = "")]
    name: String,
}

#[derive(Args)]
pub struct LogoutArgs {
    /// Delete the ledger from this device too (it stays in the account).
    #[arg(long)]
    wipe: bool,
    /// With --wipe: delete even changes the server does not have yet.
    #[arg(long, requires = "wipe")]
    force: bool,
}

#[derive(Args)]
pub struct SyncArgs {
    /// Use HTTP requests instead of the WebSocket.
    #[arg(long)]
    http: bool,
}

pub fn credentials_path(ledger: &Path) -> PathBuf {
    ledger.with_file_name("session.json")
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the network runtime")
}

fn password(args: &SignInArgs) -> Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if let Ok(p) = std::env::var("EXPENSO_PASSWORD") {
        p
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")?
    } else {
        bail!("no password: pass --password-stdin, set EXPENSO_PASSWORD, or run in a terminal")
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

fn device_name(args: &SignInArgs) -> String {
    args.device_name.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty());
        format!("expenso CLI{}", host.map(|h| format!(" on {h}")).unwrap_or_default())
    })
}

/// Signs in (or up), saves the sign-in, and binds the ledger (created if this device has
/// none) to the account: whatever the ledger holds goes up with the next sync.
pub fn sign_in(ledger: &Path, args: &SignInArgs, create: bool, out: &Out) -> Result<()> {
    let creds_path = credentials_path(ledger);
    if let Some(existing) = Credentials::load(&creds_path)? {
        bail!("already logged in as {} on {}; log out first", existing.email, existing.server);
    }
    let password = password(args)?;
    let device = device_name(args);
    let api = Api::new();
    let rt = runtime()?;
    let credentials = rt.block_on(async {
        if create {
            api.signup(&args.server, &args.email, &password, &args.name, &device).await
        } else {
            api.login(&args.server, &args.email, &password, &device).await
        }
    })?;
    let mut store = if ledger.exists() {
        Store::open(ledger)?
    } else {
        // A new ledger starts in the account's base currency.
        let currency = rt
            .block_on(profile_currency(&credentials))
            .ok()
            .flatten()
            .unwrap_or_else(|| "EUR".parse().expect("EUR is a currency"));
        let actor = ActorId::from(Uuid::new_v4().as_bytes().as_slice());
        Store::create(ledger, actor, currency, Utc::now())?
    };
    credentials.save(&creds_path)?;
    store.bind(&credentials.binding())?;
    let unsent = store.outbox_len()?;
    out.message(
        &format!(
            "Logged in as {} on {}. {unsent} change(s) of this device will go up with `expenso sync`.",
            credentials.email, credentials.server
        ),
        &serde_json::json!({ "email": credentials.email, "server": credentials.server, "account": credentials.account, "unsent": unsent }),
    )
}

async fn profile_currency(credentials: &Credentials) -> Result<Option<Currency>> {
    let profile = Api::new().profile(credentials).await?;
    Ok(profile.base_currency.parse().ok())
}

pub fn logout(ledger: &Path, args: &LogoutArgs, out: &Out) -> Result<()> {
    let creds_path = credentials_path(ledger);
    let credentials = Credentials::load(&creds_path)?;
    let unsent = if ledger.exists() { Store::open(ledger)?.outbox_len()? } else { 0 };
    if args.wipe && unsent > 0 && !args.force {
        bail!(
            "{unsent} change(s) of this device are not on the server yet and would be lost: run `expenso sync` \
             first, or pass --force"
        );
    }
    // Ending the session on the server is a courtesy: offline, the tokens are simply dropped
    // here (the session expires on its own).
    let ended_on_server = match &credentials {
        Some(c) => runtime()?.block_on(Api::new().logout(c)).is_ok(),
        None => false,
    };
    Credentials::delete(&creds_path)?;
    if args.wipe {
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", ledger.display()));
            if file.exists() {
                std::fs::remove_file(&file).with_context(|| format!("cannot delete {}", file.display()))?;
            }
        }
    } else if ledger.exists() {
        Store::open(ledger)?.unbind()?;
    }
    let what = if args.wipe { "the ledger was deleted from this device" } else { "the ledger stays on this device" };
    out.message(
        &match &credentials {
            Some(c) => format!("Logged out of {} ({what}).", c.email),
            None => format!("Not logged in ({what})."),
        },
        &serde_json::json!({ "logged_out": credentials.is_some(), "session_ended_on_server": ended_on_server, "wiped": args.wipe }),
    )
}

pub fn sync(ledger: &Path, args: &SyncArgs, out: &Out) -> Result<()> {
    let creds_path = credentials_path(ledger);
    if Credentials::load(&creds_path)?.is_none() {
        bail!("not logged in: run `expenso login` first");
    }
    let store = Arc::new(Mutex::new(Store::open(ledger)?));
    let options =
        SyncOptions { transport: if args.http { Transport::Http } else { Transport::Auto }, ..SyncOptions::default() };
    let report = runtime()?.block_on(client::sync_once(store.clone(), creds_path, options))?;
    let store = store.lock().unwrap_or_else(|p| p.into_inner());
    let kept = if report.snapshot_kept { " New devices start from this ledger's copy on the server." } else { "" };
    out.message(
        &format!(
            "Synced: {} change(s) sent, {} received, {} new here; log position {}.{kept}",
            report.pushed, report.pulled, report.received, report.cursor
        ),
        &serde_json::json!({ "pushed": report.pushed, "pulled": report.pulled, "received": report.received,
                             "cursor": report.cursor, "unsent": store.outbox_len()?,
                             "snapshot_kept": report.snapshot_kept }),
    )
}

pub fn status(ledger: &Path, out: &Out) -> Result<()> {
    let credentials = Credentials::load(&credentials_path(ledger))?;
    let store = if ledger.exists() { Some(Store::open(ledger)?) } else { None };
    let unsent = store.as_ref().map(|s| s.outbox_len()).transpose()?.unwrap_or(0);
    let last = store.as_ref().map(|s| s.last_synced()).transpose()?.flatten();
    let cursor = store.as_ref().map(|s| s.sync_cursor()).transpose()?.unwrap_or(0);
    let text = match &credentials {
        None => format!("Not logged in: the ledger is on this device only ({unsent} change(s) would go up at login)."),
        Some(c) => format!(
            "Logged in as {} on {}.\nLast synced: {}.\nNot yet on the server: {unsent} change(s).",
            c.email,
            c.server,
            last.map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "never".into())
        ),
    };
    out.message(
        &text,
        &serde_json::json!({
            "logged_in": credentials.is_some(),
            "email": credentials.as_ref().map(|c| &c.email),
            "server": credentials.as_ref().map(|c| &c.server),
            "last_synced": last,
            "unsent": unsent,
            "cursor": cursor,
        }),
    )
}
