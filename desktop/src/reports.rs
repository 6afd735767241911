//! Reports and bank statement imports on the device: the report on screen, saved as CSV or PDF
//! through the system's save dialog, and statements picked with the system's open dialog,
//! inspected, previewed and imported (with progress events for large files).

use std::path::PathBuf;

use chrono::Utc;
use expenso_core::import::{self, ImportOptions, ImportOutcome, ImportPreview, Inspection};
use expenso_core::report::{csv, pdf, Paper, Report};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::commands::day;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppEvent, AppState, EVENT};

fn period(from: &str, to: &str) -> CommandResult<(chrono::NaiveDate, chrono::NaiveDate)> {
    let from = day("from", &Some(from.to_string()))?.ok_or_else(|| CommandError::invalid("from", "is required"))?;
    let to = day("to", &Some(to.to_string()))?.ok_or_else(|| CommandError::invalid("to", "is required"))?;
    Ok((from, to))
}

#[tauri::command]
pub async fn report(state: State<'_, AppState>, from: String, to: String) -> CommandResult<Report> {
    let (from, to) = period(&from, &to)?;
    state.read(|s| s.report(from, to, Utc::now()))
}

/// Saves the report of a period as `csv` or `pdf` where the user says; the path, or `None`
/// when the dialog was cancelled.
#[tauri::command]
pub async fn save_report(
    app: AppHandle,
    state: State<'_, AppState>,
    from: String,
    to: String,
    format: String,
    paper: Option<String>,
) -> CommandResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    let (from, to) = period(&from, &to)?;
    let paper: Paper = paper.as_deref().unwrap_or("a4").parse()?;
    let (label, extension) = match format.as_str() {
        "csv" => ("CSV", "csv"),
        "pdf" => ("PDF", "pdf"),
        other => return Err(CommandError::invalid("format", format!("{other:?} is neither csv nor pdf"))),
    };
    let report = state.read(|s| s.report(from, to, Utc::now()))?;
    let name = format!("expensotrack-report-{from}-{to}.{extension}");
    let Some(path) = app.dialog().file().set_file_name(&name).add_filter(label, &[extension]).blocking_save_file()
    else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| CommandError::new("io", e.to_string()))?;
    let bytes = if extension == "csv" { csv::to_bytes(&report) } else { pdf::render(&report, paper) };
    std::fs::write(&path, bytes)?;
    Ok(Some(path.display().to_string()))
}

/// A statement the user picked: its name and what it is.
#[derive(Serialize)]
pub struct Chosen {
    name: String,
    inspection: Inspection,
}

/// Opens the system's file dialog for a bank statement and inspects the file; `None` when
/// cancelled. The file is kept for the preview and the import that follow.
#[tauri::command]
pub async fn choose_statement(app: AppHandle, state: State<'_, AppState>) -> CommandResult<Option<Chosen>> {
    use tauri_plugin_dialog::DialogExt;
    let Some(path) = app
        .dialog()
        .file()
        .add_filter("Bank statements", &["csv", "txt", "ofx", "qfx", "qif"])
        .add_filter("All files", &["*"])
        .blocking_pick_file()
    else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| CommandError::new("io", e.to_string()))?;
    let (name, bytes) = read(&path)?;
    let inspection = import::inspect(&name, &bytes)?;
    state.choose_statement(path);
    Ok(Some(Chosen { name, inspection }))
}

fn read(path: &PathBuf) -> CommandResult<(String, Vec<u8>)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let size = std::fs::metadata(path)?.len();
    if size > import::MAX_FILE_BYTES as u64 {
        return Err(CommandError::new(
            "bad_import",
            format!("{name}: the file is {} MB; statements of up to 50 MB are read", size / 1_000_000),
        ));
    }
    Ok((name, std::fs::read(path)?))
}

fn chosen(state: &AppState) -> CommandResult<(String, Vec<u8>)> {
    let path = state.chosen_statement().ok_or_else(|| CommandError::new("not_found", "choose a statement first"))?;
    read(&path)
}

#[tauri::command]
pub async fn preview_statement(state: State<'_, AppState>, options: ImportOptions) -> CommandResult<ImportPreview> {
    let (name, bytes) = chosen(&state)?;
    let file = import::read(&name, &bytes, &options)?;
    state.read(|s| s.preview_import(&name, &file, &options))
}

#[tauri::command]
pub async fn import_statement(
    app: AppHandle,
    state: State<'_, AppState>,
    options: ImportOptions,
) -> CommandResult<ImportOutcome> {
    let (name, bytes) = chosen(&state)?;
    let file = import::read(&name, &bytes, &options)?;
    state.write(|s| {
        s.import_statement(&name, &file, &options, Utc::now(), |done, total| {
            let _ = app.emit(EVENT, AppEvent::ImportProgress { done, total });
        })
    })
}
