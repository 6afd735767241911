//! The REST API of period reports and bank statement imports, each one core call on the
//! account's ledger replica: a report reads its view; an import writes its rows as changes of
//! the server's own, which reach every device.
//!
//! A statement travels as JSON, its bytes in base64 (`content`), with the options the user
//! chose; the body limit (`EXPENSO_MAX_BODY`) bounds the file's size.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::Utc;
use expenso_core::import::{self, ImportOptions, ImportOutcome, ImportPreview, Inspection};
use expenso_core::report::{csv, pdf, Paper, Report};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{Error, ErrorBody, Result};
use crate::web::day;
use crate::{ApiJson, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(inspect_statement))
        .routes(routes!(preview_statement))
        .routes(routes!(import_statement))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReportQuery {
    /// First day, `YYYY-MM-DD`.
    from: String,
    /// Last day, `YYYY-MM-DD`.
    to: String,
    /// `json` (default), `csv` (one row per transaction) or `pdf`.
    format: Option<String>,
    /// The PDF's paper: `a4` (default) or `letter`.
    paper: Option<String>,
}

/// A period's report in the base currency: income, expenses and net, by category, payment
/// method and tag, month by month, against the period before and the budgets, and the
/// transactions. As JSON, or as a CSV or PDF file to download.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, body = Report, description = "JSON, or the file (text/csv, application/pdf)"),
              (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn report(State(state): State<AppState>, auth: Auth, Query(q): Query<ReportQuery>) -> Result<Response> {
    let from = day("from", &Some(q.from))?.ok_or_else(|| Error::Invalid("from: is required".into()))?;
    let to = day("to", &Some(q.to))?.ok_or_else(|| Error::Invalid("to: is required".into()))?;
    let paper: Paper = q.paper.as_deref().unwrap_or("a4").parse()?;
    let format = q.format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "csv" | "pdf") {
        return Err(Error::Invalid(format!("format: {format:?} is not json, csv or pdf")));
    }
    let report = state.ledgers.read(auth.user_id, move |store| store.report(from, to, Utc::now())).await?;
    let file = |content_type: &'static str, extension: &str, bytes: Vec<u8>| {
        let name = format!("expensotrack-report-{from}-{to}.{extension}");
        (
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            ],
            bytes,
        )
            .into_response()
    };
    Ok(match format.as_str() {
        "csv" => file("text/csv; charset=utf-8", "csv", csv::to_bytes(&report)),
        "pdf" => {
            let bytes = tokio::task::spawn_blocking(move || pdf::render(&report, paper))
                .await
                .map_err(|e| Error::Internal(e.into()))?;
            file("application/pdf", "pdf", bytes)
        }
        _ => Json(report).into_response(),
    })
}

/// A bank statement as the API takes it.
#[derive(Deserialize, utoipa::ToSchema)]
struct Statement {
    /// The file's name (for its format and for errors).
    file_name: String,
    /// The file's bytes, base64.
    content: String,
    /// How to read it and what to do with its rows (the preview's options).
    #[serde(default)]
    options: ImportOptions,
}

impl Statement {
    fn bytes(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(self.content.trim())
            .map_err(|e| Error::Invalid(format!("content: not base64 ({e})")))
    }
}

/// What a statement file is: its format and, for CSV, its columns, first rows and a guessed
/// mapping of them. Writes nothing.
#[utoipa::path(post, path = "/api/v1/import/inspect", tag = "import", security(("bearer" = [])), request_body = Statement,
    responses((status = 200, body = Inspection), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn inspect_statement(_auth: Auth, ApiJson(s): ApiJson<Statement>) -> Result<Json<Inspection>> {
    let bytes = s.bytes()?;
    let name = s.file_name;
    let inspection = tokio::task::spawn_blocking(move || import::inspect(&name, &bytes))
        .await
        .map_err(|e| Error::Internal(e.into()))??;
    Ok(Json(inspection))
}

/// What importing the statement would do: every row with its kind, suggested category and
/// whether it is already in the ledger. Writes nothing.
#[utoipa::path(post, path = "/api/v1/import/preview", tag = "import", security(("bearer" = [])), request_body = Statement,
    responses((status = 200, body = ImportPreview), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn preview_statement(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(s): ApiJson<Statement>,
) -> Result<Json<ImportPreview>> {
    let bytes = s.bytes()?;
    let (name, options) = (s.file_name, s.options);
    let preview = state
        .ledgers
        .read(auth.user_id, move |store| {
            let file = import::read(&name, &bytes, &options)?;
            store.preview_import(&name, &file, &options)
        })
        .await?;
    Ok(Json(preview))
}

/// Imports the statement: all or nothing (a bad row and nothing is written); rows already in
/// the ledger are never added again.
#[utoipa::path(post, path = "/api/v1/import", tag = "import", security(("bearer" = [])), request_body = Statement,
    responses((status = 200, body = ImportOutcome), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn import_statement(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(s): ApiJson<Statement>,
) -> Result<Json<ImportOutcome>> {
    let bytes = s.bytes()?;
    let (name, options) = (s.file_name, s.options);
    let done = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| {
            let file = import::read(&name, &bytes, &options)?;
            store.import_statement(&name, &file, &options, Utc::now(), |_, _| {})
        })
        .await?;
    Ok(Json(done))
}
