//! The REST API of exchange rates: what the ledger holds, manual rates, and fetching the ECB's
//! reference rates into the account's ledger (as a change of the server's own, which reaches
//! every device). Downloads of the ECB's files are shared by every account for an hour.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use expenso_core::rates::fetch::{fetch_ecb, FetchError, RateSourceUrl, RefreshOutcome};
use expenso_core::rates::{EcbDay, EcbFeed};
use expenso_core::{Currency, NewRate, Rate, RatesOverview};
use serde::Deserialize;
use tokio::sync::Mutex;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{Error, ErrorBody, Result};
use crate::web::day;
use crate::{ApiJson, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(rates_overview, set_rate))
        .routes(routes!(delete_rate))
        .routes(routes!(refresh_rates))
}

/// How long a downloaded ECB file is used for every account before it is fetched again.
const FRESH_FOR: Duration = Duration::from_secs(3600);

/// How long a failed download is not tried again (the ECB down, or no way out): the
/// dashboards asking meanwhile are told at once.
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// One file as last fetched: when, and its days (or that the fetch failed).
type Downloaded = (Instant, Option<Arc<Vec<EcbDay>>>);

/// The ECB's files as last downloaded, shared by every request of this instance.
#[derive(Clone, Default)]
pub struct EcbCache {
    files: Arc<Mutex<HashMap<EcbFeed, Downloaded>>>,
}

impl EcbCache {
    async fn get(&self, source: &RateSourceUrl, feed: EcbFeed) -> Result<Arc<Vec<EcbDay>>> {
        let unavailable = || Error::Unavailable("the ECB's exchange rates cannot be reached now; try again later");
        // One download at a time: concurrent requests for the same file wait for it.
        let mut files = self.files.lock().await;
        match files.get(&feed) {
            Some((at, Some(days))) if at.elapsed() < FRESH_FOR => return Ok(days.clone()),
            Some((at, None)) if at.elapsed() < RETRY_AFTER => return Err(unavailable()),
            _ => {}
        }
        match fetch_ecb(source, feed).await {
            Ok(days) => {
                let days = Arc::new(days);
                files.insert(feed, (Instant::now(), Some(days.clone())));
                Ok(days)
            }
            Err(FetchError::Ledger(e)) => Err(Error::from(e)),
            Err(other) => {
                tracing::warn!(error = %other, "fetching the ECB's rates failed; not tried again for 5 minutes");
                files.insert(feed, (Instant::now(), None));
                Err(unavailable())
            }
        }
    }
}

/// The newest ECB rates the ledger holds, its manual rates, the currencies in use and what
/// no rate converts.
#[utoipa::path(get, path = "/api/v1/rates", tag = "rates", security(("bearer" = [])),
    responses((status = 200, body = RatesOverview), (status = 401, body = ErrorBody)))]
async fn rates_overview(State(state): State<AppState>, auth: Auth) -> Result<Json<RatesOverview>> {
    Ok(Json(state.ledgers.read(auth.user_id, |store| store.rates_overview()).await?))
}

/// Sets a rate by hand: 1 `from` = `rate` `to` (the base currency by default) on a date. It
/// wins over the ECB's rate of that date; every total converts again.
#[utoipa::path(post, path = "/api/v1/rates", tag = "rates", security(("bearer" = [])), request_body = NewRate,
    responses((status = 201, body = Rate), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_rate(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<NewRate>,
) -> Result<(StatusCode, Json<Rate>)> {
    let rate =
        state.ledgers.write(auth.user_id, auth.session_id, move |store| store.set_rate(&input, Utc::now())).await?;
    Ok((StatusCode::CREATED, Json(rate)))
}

/// Removes a rate set by hand.
#[utoipa::path(delete, path = "/api/v1/rates/{from}/{to}/{date}", tag = "rates", security(("bearer" = [])),
    params(("from" = String, Path), ("to" = String, Path), ("date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn delete_rate(
    State(state): State<AppState>,
    auth: Auth,
    Path((from, to, date)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    let code = |field: &str, text: &str| {
        Currency::from_code(text).ok_or_else(|| Error::Invalid(format!("{field}: {text:?} is not a currency code")))
    };
    let (from, to) = (code("from", &from)?, code("to", &to)?);
    let date = day("date", &Some(date))?.ok_or_else(|| Error::Invalid("date: is required".into()))?;
    state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.delete_rate(from, to, date, Utc::now()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RefreshQuery {
    /// The caller's local date, `YYYY-MM-DD`; default the server's.
    today: Option<String>,
    /// Fetch even when the rates held are current.
    force: Option<bool>,
}

/// Fetches the ECB's reference rates the ledger needs (none while every transaction is in the
/// base currency or the rates are current) and stores them in the ledger.
#[utoipa::path(post, path = "/api/v1/rates/refresh", tag = "rates", security(("bearer" = [])), params(RefreshQuery),
    responses((status = 200, body = RefreshOutcome), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn refresh_rates(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<RefreshQuery>,
) -> Result<Json<RefreshOutcome>> {
    let today = day("today", &q.today)?.unwrap_or_else(|| Utc::now().date_naive());
    let needed = state.ledgers.read(auth.user_id, move |store| store.ecb_feed_needed(today)).await?;
    let feed = match (needed, q.force.unwrap_or(false)) {
        (Some(feed), _) => feed,
        (None, true) => EcbFeed::Last90Days,
        (None, false) => return Ok(Json(RefreshOutcome { feed: None, days: 0 })),
    };
    let source = RateSourceUrl(state.config.ecb_url.clone());
    let days = state.ecb.get(&source, feed).await?;
    let stored =
        state.ledgers.write(auth.user_id, auth.session_id, move |store| store.add_ecb_rates(&days, Utc::now())).await?;
    Ok(Json(RefreshOutcome { feed: Some(feed), days: stored }))
}
