//! The REST API of budgets, alerts, recurring rules and bill reminders: each call is one
//! core operation on the account's ledger replica (reads from its view, writes as changes of
//! the server's own that reach every device). "Today" is the caller's local date when it
//! says (`today`), else the server's UTC date.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{NaiveDate, Utc};
use expenso_core::{
    Alert, Budget, BudgetPatch, BudgetStatus, NewBudget, NewRecurring, Occurrence, PlanRun, RecurringPatch,
    RecurringRule, Transaction, TransactionPatch,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{ErrorBody, Result};
use crate::web::{day, parse_id};
use crate::{ApiJson, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_budgets, create_budget))
        .routes(routes!(edit_budget, delete_budget))
        .routes(routes!(budget_history))
        .routes(routes!(list_alerts))
        .routes(routes!(dismiss_alert))
        .routes(routes!(list_recurring, create_recurring))
        .routes(routes!(edit_recurring, delete_recurring))
        .routes(routes!(upcoming))
        .routes(routes!(skip_occurrence))
        .routes(routes!(book_occurrence))
        .routes(routes!(run_plans))
}

fn today_or_utc(field: &str, text: &Option<String>) -> Result<NaiveDate> {
    Ok(day(field, text)?.unwrap_or_else(|| Utc::now().date_naive()))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BudgetsQuery {
    /// Any day of the period to show, `YYYY-MM-DD`; default today.
    date: Option<String>,
    /// The caller's local date (for projections), `YYYY-MM-DD`; default the server's.
    today: Option<String>,
}

/// Every budget in one period: spent, remaining, % used, projection and its alerts.
#[utoipa::path(get, path = "/api/v1/budgets", tag = "budgets", security(("bearer" = [])), params(BudgetsQuery),
    responses((status = 200, body = [BudgetStatus]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_budgets(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<BudgetsQuery>,
) -> Result<Json<Vec<BudgetStatus>>> {
    let today = today_or_utc("today", &q.today)?;
    let date = day("date", &q.date)?.unwrap_or(today);
    Ok(Json(state.ledgers.read(auth.user_id, move |store| store.budget_statuses(date, today)).await?))
}

#[utoipa::path(post, path = "/api/v1/budgets", tag = "budgets", security(("bearer" = [])), request_body = NewBudget,
    params(TodayQuery),
    responses((status = 201, body = Budget), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_budget(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<TodayQuery>,
    ApiJson(input): ApiJson<NewBudget>,
) -> Result<(StatusCode, Json<Budget>)> {
    let today = today_or_utc("today", &q.today)?;
    let id = Uuid::now_v7();
    let b = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.add_budget(&input, id, today, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(b)))
}

/// Changes a budget's name, amount, rollover or thresholds.
#[utoipa::path(patch, path = "/api/v1/budgets/{id}", tag = "budgets", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BudgetPatch,
    responses((status = 200, body = Budget), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_budget(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<BudgetPatch>,
) -> Result<Json<Budget>> {
    let id = parse_id(&id, "budget")?;
    let b = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.edit_budget(id, &patch, Utc::now()))
        .await?;
    Ok(Json(b))
}

/// Deletes a budget and its alerts; transactions stay.
#[utoipa::path(delete, path = "/api/v1/budgets/{id}", tag = "budgets", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_budget(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode> {
    let id = parse_id(&id, "budget")?;
    state.ledgers.write(auth.user_id, auth.session_id, move |store| store.delete_budget(id, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// How many periods back from the current one (1 to 120; 12 by default).
    periods: Option<u32>,
    /// The caller's local date, `YYYY-MM-DD`.
    today: Option<String>,
}

/// A budget's past periods, newest first.
#[utoipa::path(get, path = "/api/v1/budgets/{id}/history", tag = "budgets", security(("bearer" = [])),
    params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = [BudgetStatus]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn budget_history(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<BudgetStatus>>> {
    let id = parse_id(&id, "budget")?;
    let today = today_or_utc("today", &q.today)?;
    let periods = q.periods.unwrap_or(12);
    Ok(Json(state.ledgers.read(auth.user_id, move |store| store.budget_history(id, periods, today)).await?))
}

/// Every alert raised, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "budgets", security(("bearer" = [])),
    responses((status = 200, body = [Alert]), (status = 401, body = ErrorBody)))]
async fn list_alerts(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<Alert>>> {
    Ok(Json(state.ledgers.read(auth.user_id, |store| store.alerts()).await?))
}

/// Marks an alert as seen, on every device.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/dismiss", tag = "budgets", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn dismiss_alert(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode> {
    state.ledgers.write(auth.user_id, auth.session_id, move |store| store.dismiss_alert(&id, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every recurring rule, with its next occurrence.
#[utoipa::path(get, path = "/api/v1/recurring", tag = "recurring", security(("bearer" = [])),
    responses((status = 200, body = [RecurringRule]), (status = 401, body = ErrorBody)))]
async fn list_recurring(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<RecurringRule>>> {
    Ok(Json(state.ledgers.read(auth.user_id, |store| store.recurring_rules()).await?))
}

#[utoipa::path(post, path = "/api/v1/recurring", tag = "recurring", security(("bearer" = [])), request_body = NewRecurring,
    responses((status = 201, body = RecurringRule), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_recurring(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<NewRecurring>,
) -> Result<(StatusCode, Json<RecurringRule>)> {
    let id = Uuid::now_v7();
    let r = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.add_recurring(&input, id, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TodayQuery {
    /// The caller's local date, `YYYY-MM-DD`; default the server's.
    today: Option<String>,
}

/// Changes the series; occurrences already booked stay as they are.
#[utoipa::path(patch, path = "/api/v1/recurring/{id}", tag = "recurring", security(("bearer" = [])),
    params(("id" = Uuid, Path), TodayQuery), request_body = RecurringPatch,
    responses((status = 200, body = RecurringRule), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_recurring(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<TodayQuery>,
    ApiJson(patch): ApiJson<RecurringPatch>,
) -> Result<Json<RecurringRule>> {
    let id = parse_id(&id, "recurring rule")?;
    let today = today_or_utc("today", &q.today)?;
    let r = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.edit_recurring(id, &patch, today, Utc::now()))
        .await?;
    Ok(Json(r))
}

/// Deletes a rule; the transactions it booked stay.
#[utoipa::path(delete, path = "/api/v1/recurring/{id}", tag = "recurring", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_recurring(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode> {
    let id = parse_id(&id, "recurring rule")?;
    state.ledgers.write(auth.user_id, auth.session_id, move |store| store.delete_recurring(id, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UpcomingQuery {
    /// How many days ahead (0 to 366; 30 by default).
    days: Option<u32>,
    /// The caller's local date, `YYYY-MM-DD`; default the server's.
    today: Option<String>,
}

/// Occurrences waiting for confirmation, then those of the next `days` days.
#[utoipa::path(get, path = "/api/v1/recurring/upcoming", tag = "recurring", security(("bearer" = [])),
    params(UpcomingQuery),
    responses((status = 200, body = [Occurrence]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn upcoming(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<UpcomingQuery>,
) -> Result<Json<Vec<Occurrence>>> {
    let today = today_or_utc("today", &q.today)?;
    let days = q.days.unwrap_or(30);
    Ok(Json(state.ledgers.read(auth.user_id, move |store| store.upcoming(today, days)).await?))
}

fn due_date(text: &str) -> Result<NaiveDate> {
    Ok(expenso_core::model::parse_date("due", text)?)
}

/// Skips one occurrence: nothing is booked for it.
#[utoipa::path(post, path = "/api/v1/recurring/{id}/occurrences/{due}/skip", tag = "recurring",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("due" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn skip_occurrence(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, due)): Path<(String, String)>,
) -> Result<StatusCode> {
    let id = parse_id(&id, "recurring rule")?;
    let due = due_date(&due)?;
    state.ledgers.write(auth.user_id, auth.session_id, move |store| store.skip_occurrence(id, due, Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Books one occurrence now; the body changes this booking only (amount, date, …).
#[utoipa::path(post, path = "/api/v1/recurring/{id}/occurrences/{due}/book", tag = "recurring",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("due" = String, Path, description = "YYYY-MM-DD")),
    request_body = TransactionPatch,
    responses((status = 201, body = Transaction), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn book_occurrence(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, due)): Path<(String, String)>,
    ApiJson(changes): ApiJson<TransactionPatch>,
) -> Result<(StatusCode, Json<Transaction>)> {
    let id = parse_id(&id, "recurring rule")?;
    let due = due_date(&due)?;
    let t = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.book_occurrence(id, due, &changes, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RunPlans {
    /// The caller's local date, `YYYY-MM-DD`.
    today: String,
}

/// Books what is due up to `today` (catching up on missed occurrences), raises the alerts
/// spending crossed, and lists the reminders due.
#[utoipa::path(post, path = "/api/v1/plans/run", tag = "recurring", security(("bearer" = [])), request_body = RunPlans,
    responses((status = 200, body = PlanRun), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn run_plans(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<RunPlans>,
) -> Result<Json<PlanRun>> {
    let today = expenso_core::model::parse_date("today", &input.today)?;
    let run =
        state.ledgers.write(auth.user_id, auth.session_id, move |store| store.run_plans(today, Utc::now())).await?;
    Ok(Json(run))
}
