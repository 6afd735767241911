//! Fetching the ECB's reference rates over HTTP and storing what a ledger needs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::{parse_ecb_xml, EcbDay, EcbFeed, ECB_BASE_URL};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No network, or the ECB's server did not answer: try again later.
    #[error("the ECB's rates cannot be reached: {0}")]
    Offline(String),
    #[error("the ECB's server answered {0}")]
    Status(u16),
    #[error(transparent)]
    Ledger(#[from] crate::Error),
}

/// Where the rates come from: the ECB, or another address serving the same files (tests, a
/// mirror); `EXPENSO_ECB_URL` at the edges.
#[derive(Debug, Clone)]
pub struct RateSourceUrl(pub String);

impl Default for RateSourceUrl {
    fn default() -> Self {
        RateSourceUrl(ECB_BASE_URL.to_string())
    }
}

impl RateSourceUrl {
    /// `EXPENSO_ECB_URL` when set, else the ECB.
    pub fn from_env() -> RateSourceUrl {
        match std::env::var("EXPENSO_ECB_URL") {
            Ok(url) if !url.trim().is_empty() => RateSourceUrl(url.trim().to_string()),
            _ => RateSourceUrl::default(),
        }
    }

    fn file(&self, feed: EcbFeed) -> String {
        format!("{}/{}", self.0.trim_end_matches('/'), feed.file_name())
    }
}

/// Downloads and reads one of the ECB's files.
pub async fn fetch_ecb(source: &RateSourceUrl, feed: EcbFeed) -> Result<Vec<EcbDay>, FetchError> {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("expenso/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Offline(e.to_string()))?;
    let response = http.get(source.file(feed)).send().await.map_err(|e| FetchError::Offline(e.to_string()))?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let text = response.text().await.map_err(|e| FetchError::Offline(e.to_string()))?;
    Ok(parse_ecb_xml(&text)?)
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshOutcome {
    /// The file fetched, if one was needed.
    pub feed: Option<EcbFeed>,
    /// Days of rates added or changed in the ledger.
    pub days: usize,
}

/// Fetches the ECB file the ledger needs on `today` (nothing when its rates are current or
/// every transaction is in the base currency, unless `force`) and stores its days. The ledger
/// is locked only to decide and to store, never during the download.
pub async fn refresh_rates(
    store: &Arc<Mutex<Store>>,
    source: &RateSourceUrl,
    today: NaiveDate,
    now: DateTime<Utc>,
    force: bool,
) -> Result<RefreshOutcome, FetchError> {
    let needed = lock(store).ecb_feed_needed(today)?;
    let feed = match (needed, force) {
        (Some(feed), _) => feed,
        (None, true) => EcbFeed::Last90Days,
        (None, false) => return Ok(RefreshOutcome { feed: None, days: 0 }),
    };
    let days = fetch_ecb(source, feed).await?;
    let stored = lock(store).add_ecb_rates(&days, now)?;
    Ok(RefreshOutcome { feed: Some(feed), days: stored })
}

fn lock(store: &Arc<Mutex<Store>>) -> std::sync::MutexGuard<'_, Store> {
    // A panic while holding the ledger leaves it consistent (every write is one SQLite
    // transaction), so a poisoned lock is taken over.
    store.lock().unwrap_or_else(|p| p.into_inner())
}
