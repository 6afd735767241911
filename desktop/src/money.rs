//! Exchange rates on the device: the commands the UI calls, and the background refresh that
//! fetches the ECB's reference rates the ledger needs — shortly after start and every few
//! hours, quietly doing nothing offline or when every transaction is in the base currency.

use std::time::Duration;

use chrono::{Local, NaiveDate, Utc};
use expenso_core::rates::fetch::{refresh_rates as refresh, FetchError, RateSourceUrl, RefreshOutcome};
use expenso_core::{Currency, NewRate, Rate, RatesOverview};
use tauri::{AppHandle, Emitter, Manager, State};

use crate::commands::day;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppEvent, AppState, EVENT};

/// How often the app checks whether its rates are current.
const REFRESH_EVERY: Duration = Duration::from_secs(6 * 3600);

#[tauri::command]
pub async fn rates(state: State<'_, AppState>) -> CommandResult<RatesOverview> {
    state.read(|s| s.rates_overview())
}

#[tauri::command]
pub async fn set_rate(state: State<'_, AppState>, input: NewRate) -> CommandResult<Rate> {
    state.write(|s| s.set_rate(&input, Utc::now()))
}

#[tauri::command]
pub async fn delete_rate(state: State<'_, AppState>, from: String, to: String, date: String) -> CommandResult<()> {
    let code = |field: &str, text: &str| {
        Currency::from_code(text)
            .ok_or_else(|| CommandError::invalid(field, format!("{text:?} is not an ISO 4217 currency code")))
    };
    let (from, to) = (code("from", &from)?, code("to", &to)?);
    let date = expenso_core::model::parse_date("date", &date)?;
    state.write(|s| s.delete_rate(from, to, date, Utc::now()))
}

#[tauri::command]
pub async fn refresh_rates(
    app: AppHandle,
    state: State<'_, AppState>,
    today: Option<String>,
    force: Option<bool>,
) -> CommandResult<RefreshOutcome> {
    let today = day("today", &today)?.unwrap_or_else(|| Local::now().date_naive());
    fetch(&app, &state, today, force.unwrap_or(false)).await
}

/// Fetches what the ledger needs and stores it; other devices get it through sync, and the
/// screens reload.
async fn fetch(app: &AppHandle, state: &AppState, today: NaiveDate, force: bool) -> CommandResult<RefreshOutcome> {
    let store = state.store()?;
    let outcome = refresh(&store, &RateSourceUrl::from_env(), today, Utc::now(), force).await.map_err(|e| match e {
        FetchError::Ledger(e) => CommandError::from(e),
        other => CommandError::new("unavailable", other.to_string()),
    })?;
    if outcome.days > 0 {
        state.sync_now();
        state.kick_plans();
        let _ = app.emit(EVENT, AppEvent::Changed);
    }
    Ok(outcome)
}

/// Keeps the ledger's rates current while the app runs.
pub fn start(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        // Let the first screen come up before going to the network.
        tokio::time::sleep(Duration::from_secs(5)).await;
        loop {
            let state = app.state::<AppState>();
            if state.has_ledger() {
                // Offline or the ECB unreachable: tried again at the next round.
                let _ = fetch(&app, &state, Local::now().date_naive(), false).await;
            }
            tokio::time::sleep(REFRESH_EVERY).await;
        }
    });
}
