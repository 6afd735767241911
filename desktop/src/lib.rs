//! ExpensoTrack's app for desktops and phones: the UI (`ui/`, embedded) over the core, run
//! in-process on a ledger stored on the device, syncing in the background once signed in.
//!
//! **Boundary:** the only crate that knows Tauri. Commands (`commands.rs`) are thin: each is
//! one call into the core. Desktop and mobile share this `run()`; the mobile builds start it
//! through the mobile entry point.

mod commands;
mod error;
mod money;
mod plans;
mod reports;
mod state;

/// The TypeScript declarations of what the commands and events carry beyond the core's API
/// types (those come from the server's OpenAPI document): `ui/src/api/device.ts` is this text,
/// checked by a test, so the UI's device types are never written by hand.
pub fn typescript() -> String {
    use ts_rs::TS;
    let cfg = ts_rs::Config::default();
    let mut out = String::from(
        "// Generated from the Rust types by `expenso_desktop::typescript()`: do not edit.\n\
         // Refresh: UPDATE_EXPECT=1 cargo nextest run -p expenso-desktop\n\n",
    );
    for decl in [
        expenso_core::sync::client::SyncState::decl(&cfg),
        expenso_core::sync::client::SyncStatus::decl(&cfg),
        commands::AccountInfo::decl(&cfg),
        commands::DeviceStatus::decl(&cfg),
        commands::Imported::decl(&cfg),
        state::AppEvent::decl(&cfg),
    ] {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use tauri::Manager;

use crate::state::AppState;

/// Where the ledger lives: `EXPENSO_DATA_DIR` when set (the command line's variable, so both
/// can work on one ledger; also how tests run several instances), else the app's data folder.
fn data_dir(app: &tauri::App) -> tauri::Result<PathBuf> {
    match std::env::var_os("EXPENSO_DATA_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => app.path().app_data_dir(),
    }
}

static STARTED: OnceLock<Instant> = OnceLock::new();

/// When the app started (for the start-up timing).
pub(crate) fn started() -> Instant {
    *STARTED.get_or_init(Instant::now)
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    started();
    let builder = tauri::Builder::default();
    #[cfg(desktop)]
    let builder = {
        // One window per ledger: starting the app again focuses the one that runs. Instances
        // on other data folders (EXPENSO_DATA_DIR) are other ledgers and run side by side.
        let builder = if std::env::var_os("EXPENSO_DATA_DIR").is_none() {
            builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.unminimize();
                    let _ = window.set_focus();
                }
            }))
        } else {
            builder
        };
        builder.plugin(tauri_plugin_window_state::Builder::default().build())
    };
    builder
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let state = AppState::new(data_dir(app)?);
            state.open().map_err(|e| format!("cannot open the ledger: {}", e.message))?;
            if state.has_ledger() {
                state.start_sync(app.handle()).map_err(|e| e.message)?;
            }
            app.manage(state);
            plans::start(app.handle().clone());
            money::start(app.handle().clone());
            #[cfg(desktop)]
            menu::install(app)?;
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::device_status,
            commands::create_ledger,
            commands::app_ready,
            commands::list_transactions,
            commands::get_transaction,
            commands::create_transaction,
            commands::update_transaction,
            commands::delete_transaction,
            commands::restore_transaction,
            commands::list_categories,
            commands::create_category,
            commands::update_category,
            commands::delete_category,
            commands::list_payment_methods,
            commands::create_payment_method,
            commands::update_payment_method,
            commands::get_settings,
            commands::update_settings,
            commands::list_tags,
            commands::balance,
            commands::months,
            commands::trend,
            commands::category_breakdown,
            commands::sign_up,
            commands::log_in,
            commands::log_out,
            commands::sync_status,
            commands::sync_now,
            commands::export_backup,
            commands::import_backup,
            commands::account_profile,
            commands::update_profile,
            commands::change_password,
            commands::account_sessions,
            commands::revoke_session,
            commands::delete_account,
            commands::request_password_reset,
            plans::budgets,
            plans::budget_history,
            plans::add_budget,
            plans::edit_budget,
            plans::delete_budget,
            plans::alerts,
            plans::dismiss_alert,
            plans::recurring,
            plans::add_recurring,
            plans::edit_recurring,
            plans::delete_recurring,
            plans::upcoming,
            plans::skip_occurrence,
            plans::book_occurrence,
            plans::run_plans,
            money::rates,
            money::set_rate,
            money::delete_rate,
            money::refresh_rates,
            reports::report,
            reports::save_report,
            reports::choose_statement,
            reports::preview_statement,
            reports::import_statement,
        ])
        .run(tauri::generate_context!())
        .expect("ExpensoTrack could not start");
}

/// The desktop's menu; each item reaches the UI as an event (the UI does the same as for
/// its own keyboard shortcuts).
#[cfg(desktop)]
mod menu {
    use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
    use tauri::Emitter;

    use crate::state::{AppEvent, EVENT};

    pub fn install(app: &tauri::App) -> tauri::Result<()> {
        let item =
            |id: &str, label: &str, accelerator: Option<&str>| MenuItem::with_id(app, id, label, true, accelerator);
        let file = Submenu::with_items(
            app,
            "File",
            true,
            &[
                &item("new_transaction", "New transaction", Some("CmdOrCtrl+N"))?,
                &item("search", "Search transactions", Some("CmdOrCtrl+F"))?,
                &PredefinedMenuItem::separator(app)?,
                &item("sync_now", "Sync now", Some("CmdOrCtrl+R"))?,
                &item("export", "Export a backup…", Some("CmdOrCtrl+E"))?,
                &item("import", "Import a backup…", None)?,
                &item("import_statement", "Import a bank statement…", Some("CmdOrCtrl+I"))?,
                &item("report", "Reports…", Some("CmdOrCtrl+P"))?,
                &PredefinedMenuItem::separator(app)?,
                &PredefinedMenuItem::quit(app, None)?,
            ],
        )?;
        let edit = Submenu::with_items(
            app,
            "Edit",
            true,
            &[
                &PredefinedMenuItem::undo(app, None)?,
                &PredefinedMenuItem::redo(app, None)?,
                &PredefinedMenuItem::separator(app)?,
                &PredefinedMenuItem::cut(app, None)?,
                &PredefinedMenuItem::copy(app, None)?,
                &PredefinedMenuItem::paste(app, None)?,
                &PredefinedMenuItem::select_all(app, None)?,
            ],
        )?;
        let view = Submenu::with_items(
            app,
            "Go",
            true,
            &[
                &item("go_dashboard", "Dashboard", Some("CmdOrCtrl+1"))?,
                &item("go_transactions", "Transactions", Some("CmdOrCtrl+2"))?,
                &item("go_categories", "Categories", Some("CmdOrCtrl+3"))?,
                &item("go_reports", "Reports", Some("CmdOrCtrl+5"))?,
                &item("go_settings", "Settings", Some("CmdOrCtrl+4"))?,
            ],
        )?;
        app.set_menu(Menu::with_items(app, &[&file, &edit, &view])?)?;
        app.on_menu_event(|app, event| {
            let id = event.id().0.clone();
            if id == "sync_now" {
                if let Some(state) = tauri::Manager::try_state::<crate::state::AppState>(app) {
                    state.sync_now();
                }
            }
            let _ = app.emit(EVENT, AppEvent::Menu { id });
        });
        Ok(())
    }
}
