//! Budgets, alerts, recurring rules and reminders on the device: the commands the UI calls
//! (each one core call), and the planner that runs the core's `run_plans` by itself — at
//! start, after every change made here or synced from elsewhere, and each minute (so a new
//! day's occurrences book at midnight) — and shows native notifications.
//!
//! Each alert and reminder is shown as a notification once on this device (the ledger file's
//! `notified` table); an alert itself exists once in the ledger, whichever device raised it.

use std::time::Duration;

use chrono::{Local, NaiveDate, Utc};
use expenso_core::{
    Alert, Budget, BudgetPatch, BudgetStatus, NewBudget, NewRecurring, Occurrence, OccurrenceStatus, PlanRun,
    RecurringPatch, RecurringRule, Transaction, TransactionPatch,
};
use tauri::{AppHandle, Emitter, Manager, State};
use uuid::Uuid;

use crate::commands::{self, day};
use crate::error::CommandResult;
use crate::state::{AppEvent, AppState, EVENT};

/// The device's calendar day: the user's own time zone, daylight saving included.
fn today() -> NaiveDate {
    Local::now().date_naive()
}

#[tauri::command]
pub async fn budgets(state: State<'_, AppState>, date: Option<String>) -> CommandResult<Vec<BudgetStatus>> {
    let today = today();
    let date = day("date", &date)?.unwrap_or(today);
    state.read(|s| s.budget_statuses(date, today))
}

#[tauri::command]
pub async fn budget_history(state: State<'_, AppState>, id: String, periods: u32) -> CommandResult<Vec<BudgetStatus>> {
    let id = commands::id("id", &id)?;
    state.read(|s| s.budget_history(id, periods, today()))
}

#[tauri::command]
pub async fn add_budget(state: State<'_, AppState>, input: NewBudget) -> CommandResult<Budget> {
    let b = state.write(|s| s.add_budget(&input, Uuid::now_v7(), today(), Utc::now()))?;
    state.kick_plans();
    Ok(b)
}

#[tauri::command]
pub async fn edit_budget(state: State<'_, AppState>, id: String, patch: BudgetPatch) -> CommandResult<Budget> {
    let id = commands::id("id", &id)?;
    state.write(|s| s.edit_budget(id, &patch, Utc::now()))
}

#[tauri::command]
pub async fn delete_budget(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    let id = commands::id("id", &id)?;
    state.write(|s| s.delete_budget(id, Utc::now()))
}

#[tauri::command]
pub async fn alerts(state: State<'_, AppState>) -> CommandResult<Vec<Alert>> {
    state.read(|s| s.alerts())
}

#[tauri::command]
pub async fn dismiss_alert(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    state.write(|s| s.dismiss_alert(&id, Utc::now()))
}

#[tauri::command]
pub async fn recurring(state: State<'_, AppState>) -> CommandResult<Vec<RecurringRule>> {
    state.read(|s| s.recurring_rules())
}

#[tauri::command]
pub async fn add_recurring(state: State<'_, AppState>, input: NewRecurring) -> CommandResult<RecurringRule> {
    state.write(|s| s.add_recurring(&input, Uuid::now_v7(), Utc::now()))
}

#[tauri::command]
pub async fn edit_recurring(
    state: State<'_, AppState>,
    id: String,
    patch: RecurringPatch,
) -> CommandResult<RecurringRule> {
    let id = commands::id("id", &id)?;
    state.write(|s| s.edit_recurring(id, &patch, today(), Utc::now()))
}

#[tauri::command]
pub async fn delete_recurring(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    let id = commands::id("id", &id)?;
    state.write(|s| s.delete_recurring(id, Utc::now()))
}

#[tauri::command]
pub async fn upcoming(state: State<'_, AppState>, days: u32, today: Option<String>) -> CommandResult<Vec<Occurrence>> {
    let today = day("today", &today)?.unwrap_or_else(self::today);
    state.read(|s| s.upcoming(today, days))
}

#[tauri::command]
pub async fn skip_occurrence(state: State<'_, AppState>, id: String, due: String) -> CommandResult<()> {
    let id = commands::id("id", &id)?;
    let due = expenso_core::model::parse_date("due", &due)?;
    state.write(|s| s.skip_occurrence(id, due, Utc::now()))
}

#[tauri::command]
pub async fn book_occurrence(
    state: State<'_, AppState>,
    id: String,
    due: String,
    patch: Option<TransactionPatch>,
) -> CommandResult<Transaction> {
    let id = commands::id("id", &id)?;
    let due = expenso_core::model::parse_date("due", &due)?;
    state.write(|s| s.book_occurrence(id, due, &patch.unwrap_or_default(), Utc::now()))
}

#[tauri::command]
pub async fn run_plans(app: AppHandle, state: State<'_, AppState>, today: Option<String>) -> CommandResult<PlanRun> {
    let today = day("today", &today)?.unwrap_or_else(self::today);
    let run = state.write(|s| s.run_plans(today, Utc::now()))?;
    notify(&app, &state, &run);
    Ok(run)
}

/// Runs the plans whenever [`AppState::kick_plans`] is called, and once a minute.
pub fn start(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        {
            // Phones ask the user once; desktops always have the permission.
            use tauri_plugin_notification::{NotificationExt, PermissionState};
            if app.notification().permission_state().is_ok_and(|p| p != PermissionState::Granted) {
                let _ = app.notification().request_permission();
            }
        }
        let kicked = app.state::<AppState>().plans_kicked();
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(60), kicked.notified()).await;
            // Changes come in bursts (an import, a sync): let them settle.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let handle = app.clone();
            let _ = tauri::async_runtime::spawn_blocking(move || run_once(&handle)).await;
        }
    });
}

fn run_once(app: &AppHandle) {
    let state = app.state::<AppState>();
    let Ok(store) = state.store() else { return };
    let run = {
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        match guard.run_plans(today(), Utc::now()) {
            Ok(run) => run,
            Err(e) => {
                eprintln!("expensotrack: budgets and recurring transactions could not be evaluated: {e}");
                return;
            }
        }
    };
    if run.booked > 0 || !run.alerts.is_empty() {
        state.sync_now();
        let _ = app.emit(EVENT, AppEvent::Changed);
    }
    notify(app, &state, &run);
}

/// Shows what this device has not shown yet: the current period's open alerts (raised here,
/// by another device or by the server) and the reminders due.
fn notify(app: &AppHandle, state: &AppState, run: &PlanRun) {
    let today = today();
    let Ok(store) = state.store() else { return };
    let guard = store.lock().unwrap_or_else(|p| p.into_inner());
    let now = Utc::now();
    let alerts = guard.alerts().unwrap_or_default();
    let mut shown = Vec::new();
    for a in alerts.iter().filter(|a| !a.dismissed && a.period_start <= today && today <= a.period_end) {
        if guard.first_notice(&format!("alert:{}", a.id), now).unwrap_or(false) {
            shown.push((
                format!("{}: {}% of the budget", a.budget_name, a.threshold),
                format!("{} {} spent of {} {}", a.spent, a.currency, a.limit, a.currency),
            ));
        }
    }
    for o in &run.reminders {
        if guard.first_notice(&format!("reminder:{}:{}", o.rule_id, o.due), now).unwrap_or(false) {
            let when =
                if o.status == OccurrenceStatus::Due { "is due".to_string() } else { format!("is due on {}", o.due) };
            shown.push((format!("{} {when}", o.description), format!("{} {}", o.amount, o.currency)));
        }
    }
    drop(guard);
    use tauri_plugin_notification::NotificationExt;
    for (title, body) in shown {
        // No notification service (a bare session): the alert list still shows it.
        let _ = app.notification().builder().title(title).body(body).show();
    }
}
