//! The commands the UI calls: thin, grouped by domain, each one core call. Arguments and
//! answers are the core's own types (the UI's TypeScript types are generated from the same
//! types through the server's OpenAPI document); failures are `{code, message}`.

use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use expenso_core::model::parse_date;
use expenso_core::sync::client::{Api, Credentials, SyncStatus};
use expenso_core::{
    Balance, Category, CategoryPatch, CategoryTotal, Decimal, Filter, Kind, Month, MonthSummary, NewCategory,
    NewTransaction, PageRequest, PaymentMethod, Settings, Sort, SortBy, Transaction, TransactionPage, TransactionPatch,
};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use uuid::Uuid;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

pub(crate) fn id(field: &str, text: &str) -> CommandResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| CommandError::invalid(field, format!("{text:?} is not an id")))
}

pub(crate) fn day(field: &str, text: &Option<String>) -> CommandResult<Option<NaiveDate>> {
    Ok(text.as_deref().filter(|t| !t.trim().is_empty()).map(|t| parse_date(field, t)).transpose()?)
}

fn amount(field: &str, text: &Option<String>) -> CommandResult<Option<Decimal>> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            Decimal::from_str_exact(t).map_err(|_| CommandError::invalid(field, format!("{t:?} is not an amount")))
        })
        .transpose()
}

fn month(field: &str, text: &str) -> CommandResult<Month> {
    Month::from_str(text).map_err(|_| CommandError::invalid(field, format!("{text:?} is not a month (YYYY-MM)")))
}

// ---- the ledger on this device ----

#[derive(Serialize, ts_rs::TS)]
pub struct DeviceStatus {
    /// Whether this device has a ledger yet (the first start asks for its currency).
    ledger: bool,
    /// The sign-in, when there is one.
    account: Option<AccountInfo>,
    sync: SyncStatus,
}

#[derive(Serialize, ts_rs::TS)]
pub struct AccountInfo {
    email: String,
    server: String,
}

#[tauri::command]
pub async fn device_status(state: State<'_, AppState>) -> CommandResult<DeviceStatus> {
    let account =
        Credentials::load(&state.credentials_path())?.map(|c| AccountInfo { email: c.email, server: c.server });
    Ok(DeviceStatus { ledger: state.has_ledger(), account, sync: state.sync_status() })
}

#[tauri::command]
pub async fn create_ledger(state: State<'_, AppState>, base_currency: String) -> CommandResult<Settings> {
    state.create(&base_currency, Utc::now())?;
    state.read(|s| s.settings())
}

/// The first screen shows data: load the ledger's document in the background. With
/// `EXPENSO_TIMINGS` set, the time since the process started is printed (the start-up
/// benchmark reads it).
#[tauri::command]
pub async fn app_ready(state: State<'_, AppState>) -> CommandResult<()> {
    if std::env::var_os("EXPENSO_TIMINGS").is_some() {
        eprintln!("expenso-timing first-data-ms={}", crate::started().elapsed().as_millis());
    }
    state.preload();
    Ok(())
}

// ---- transactions ----

/// The list's filters, sorting and page, as the UI names them.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    categories: Vec<String>,
    payment_methods: Vec<String>,
    min_amount: Option<String>,
    max_amount: Option<String>,
    tags: Vec<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    offset: Option<u64>,
    limit: Option<u32>,
}

impl ListQuery {
    fn parse(&self) -> CommandResult<(Filter, Sort, PageRequest)> {
        let filter = Filter {
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
            kind: self.kind.as_deref().filter(|k| !k.is_empty()).map(Kind::from_str).transpose()?,
            categories: self.categories.iter().map(|c| id("categories", c)).collect::<CommandResult<_>>()?,
            payment_methods: self
                .payment_methods
                .iter()
                .map(|m| id("payment_methods", m))
                .collect::<CommandResult<_>>()?,
            min_amount: amount("min_amount", &self.min_amount)?,
            max_amount: amount("max_amount", &self.max_amount)?,
            tags: self.tags.clone(),
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
        };
        let sort = Sort {
            by: self.sort.as_deref().map(SortBy::from_str).transpose()?.unwrap_or_default(),
            descending: match self.order.as_deref().unwrap_or("desc") {
                "desc" => true,
                "asc" => false,
                other => {
                    return Err(CommandError::invalid("order", format!("{other:?} is neither \"asc\" nor \"desc\"")))
                }
            },
        };
        let page = PageRequest { offset: self.offset.unwrap_or(0), limit: self.limit.unwrap_or(50) };
        Ok((filter, sort, page))
    }
}

#[tauri::command]
pub async fn list_transactions(state: State<'_, AppState>, query: ListQuery) -> CommandResult<TransactionPage> {
    let (filter, sort, page) = query.parse()?;
    state.read(|s| s.list_transactions(&filter, sort, page))
}

#[tauri::command]
pub async fn get_transaction(state: State<'_, AppState>, id: String) -> CommandResult<Transaction> {
    let tid = self::id("id", &id)?;
    state.read(|s| s.transaction(tid)?.ok_or(expenso_core::Error::NotFound { entity: "transaction", id }))
}

#[tauri::command]
pub async fn create_transaction(state: State<'_, AppState>, input: NewTransaction) -> CommandResult<Transaction> {
    state.write(|s| s.add_transaction(&input, Uuid::now_v7(), Utc::now()))
}

#[tauri::command]
pub async fn update_transaction(
    state: State<'_, AppState>,
    id: String,
    patch: TransactionPatch,
) -> CommandResult<Transaction> {
    let id = self::id("id", &id)?;
    state.write(|s| s.edit_transaction(id, &patch, Utc::now()))
}

#[tauri::command]
pub async fn delete_transaction(state: State<'_, AppState>, id: String) -> CommandResult<Transaction> {
    let id = self::id("id", &id)?;
    state.write(|s| s.delete_transaction(id, Utc::now()))
}

#[tauri::command]
pub async fn restore_transaction(state: State<'_, AppState>, transaction: Transaction) -> CommandResult<Transaction> {
    state.write(|s| s.restore_transaction(&transaction, Utc::now()))
}

// ---- categories, payment methods, settings, tags ----

#[tauri::command]
pub async fn list_categories(state: State<'_, AppState>, include_archived: bool) -> CommandResult<Vec<Category>> {
    state.read(|s| s.categories(include_archived))
}

#[tauri::command]
pub async fn create_category(state: State<'_, AppState>, input: NewCategory) -> CommandResult<Category> {
    state.write(|s| s.add_category(&input, Uuid::now_v7(), Utc::now()))
}

#[tauri::command]
pub async fn update_category(state: State<'_, AppState>, id: String, patch: CategoryPatch) -> CommandResult<Category> {
    let id = self::id("id", &id)?;
    state.write(|s| s.edit_category(id, &patch, Utc::now()))
}

#[tauri::command]
pub async fn delete_category(state: State<'_, AppState>, id: String, move_to: Option<String>) -> CommandResult<u64> {
    let id = self::id("id", &id)?;
    let move_to = move_to.as_deref().map(|m| self::id("move_to", m)).transpose()?;
    state.write(|s| s.delete_category(id, move_to, Utc::now()))
}

#[tauri::command]
pub async fn list_payment_methods(
    state: State<'_, AppState>,
    include_archived: bool,
) -> CommandResult<Vec<PaymentMethod>> {
    state.read(|s| s.payment_methods(include_archived))
}

#[tauri::command]
pub async fn create_payment_method(state: State<'_, AppState>, name: String) -> CommandResult<PaymentMethod> {
    state.write(|s| s.add_payment_method(&name, Uuid::now_v7(), Utc::now()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PaymentMethodPatch {
    name: Option<String>,
    archived: Option<bool>,
}

#[tauri::command]
pub async fn update_payment_method(
    state: State<'_, AppState>,
    id: String,
    patch: PaymentMethodPatch,
) -> CommandResult<PaymentMethod> {
    let id = self::id("id", &id)?;
    state.write(|s| s.edit_payment_method(id, patch.name.as_deref(), patch.archived, Utc::now()))
}

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> CommandResult<Settings> {
    state.read(|s| s.settings())
}

#[tauri::command]
pub async fn update_settings(state: State<'_, AppState>, base_currency: String) -> CommandResult<Settings> {
    state.write(|s| s.set_base_currency(&base_currency, Utc::now()))?;
    state.read(|s| s.settings())
}

#[derive(Serialize)]
pub struct TagCount {
    tag: String,
    count: u64,
}

#[tauri::command]
pub async fn list_tags(state: State<'_, AppState>) -> CommandResult<Vec<TagCount>> {
    let mut tags = state.read(|s| s.tags())?;
    tags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(tags.into_iter().map(|(tag, count)| TagCount { tag, count }).collect())
}

// ---- summaries ----

#[tauri::command]
pub async fn balance(state: State<'_, AppState>, from: Option<String>, to: Option<String>) -> CommandResult<Balance> {
    let (from, to) = (day("from", &from)?, day("to", &to)?);
    state.read(|s| s.balance(from, to))
}

#[tauri::command]
pub async fn months(state: State<'_, AppState>, from: String, to: String) -> CommandResult<Vec<MonthSummary>> {
    let (first, last) = (month("from", &from)?, month("to", &to)?);
    state.read(|s| s.monthly_summaries(first, last))
}

#[tauri::command]
pub async fn trend(state: State<'_, AppState>, last: String, months: u32) -> CommandResult<Vec<MonthSummary>> {
    let last = month("last", &last)?;
    state.read(|s| s.trend(last, months))
}

#[tauri::command]
pub async fn category_breakdown(
    state: State<'_, AppState>,
    from: Option<String>,
    to: Option<String>,
    kind: String,
) -> CommandResult<Vec<CategoryTotal>> {
    let (from, to) = (day("from", &from)?, day("to", &to)?);
    let kind = Kind::from_str(&kind)?;
    state.read(|s| s.category_breakdown(from, to, kind))
}

// ---- sync and the account ----

#[derive(Deserialize)]
pub struct SignIn {
    server: String,
    email: String,
    password: String,
    #[serde(default)]
    display_name: String,
}

/// Signs in (`create`: signs up) and binds this device's ledger to the account: whatever it
/// holds goes up at once, and the account's ledger comes down.
async fn sign_in(app: &AppHandle, state: &AppState, input: SignIn, create: bool) -> CommandResult<AccountInfo> {
    if Credentials::load(&state.credentials_path())?.is_some() {
        return Err(CommandError::new("conflict", "already signed in; log out first"));
    }
    let api = Api::new();
    let credentials = if create {
        api.signup(&input.server, &input.email, &input.password, &input.display_name, &state.device_name).await?
    } else {
        api.login(&input.server, &input.email, &input.password, &state.device_name).await?
    };
    if !state.has_ledger() {
        // A device that never had a ledger takes the account's currency.
        let currency = api.profile(&credentials).await.map(|p| p.base_currency).unwrap_or_else(|_| "EUR".into());
        state.create(&currency, Utc::now())?;
    }
    credentials.save(&state.credentials_path())?;
    state.write(|s| s.bind(&credentials.binding()))?;
    state.start_sync(app)?;
    Ok(AccountInfo { email: credentials.email, server: credentials.server })
}

#[tauri::command]
pub async fn sign_up(app: AppHandle, state: State<'_, AppState>, input: SignIn) -> CommandResult<AccountInfo> {
    sign_in(&app, &state, input, true).await
}

#[tauri::command]
pub async fn log_in(app: AppHandle, state: State<'_, AppState>, input: SignIn) -> CommandResult<AccountInfo> {
    sign_in(&app, &state, input, false).await
}

/// Logs out; `wipe` also deletes the ledger from this device (refused while changes are
/// unsent, unless `force`).
#[tauri::command]
pub async fn log_out(state: State<'_, AppState>, wipe: bool, force: bool) -> CommandResult<()> {
    let unsent = if state.has_ledger() { state.read(|s| s.outbox_len())? } else { 0 };
    if wipe && unsent > 0 && !force {
        return Err(CommandError::new(
            "unsent",
            format!("{unsent} change(s) of this device are not on the server yet and would be lost"),
        ));
    }
    state.stop_sync().await;
    let path = state.credentials_path();
    if let Some(c) = Credentials::load(&path)? {
        // Offline, the tokens are simply dropped here; the session expires on the server.
        let _ = Api::new().logout(&c).await;
    }
    Credentials::delete(&path)?;
    if wipe {
        state.close();
        let ledger = state.ledger_path();
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", ledger.display()));
            if file.exists() {
                std::fs::remove_file(&file)?;
            }
        }
    } else if state.has_ledger() {
        state.write(|s| s.unbind())?;
    }
    Ok(())
}

#[tauri::command]
pub async fn sync_status(state: State<'_, AppState>) -> CommandResult<SyncStatus> {
    Ok(state.sync_status())
}

#[tauri::command]
pub async fn sync_now(state: State<'_, AppState>) -> CommandResult<()> {
    state.sync_now();
    Ok(())
}

// ---- files ----

/// Saves the whole ledger as a JSON backup where the user chooses (a native dialog);
/// answers the file's path, or nothing when the user cancelled.
#[tauri::command]
pub async fn export_backup(app: AppHandle, state: State<'_, AppState>) -> CommandResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    let backup = state.read(|s| s.export_backup())?;
    let name = format!("expensotrack-backup-{}.json", Utc::now().format("%Y-%m-%d"));
    let Some(path) = app.dialog().file().set_file_name(&name).add_filter("JSON", &["json"]).blocking_save_file() else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| CommandError::new("io", e.to_string()))?;
    std::fs::write(&path, backup.to_json())?;
    Ok(Some(path.display().to_string()))
}

#[derive(Serialize, ts_rs::TS)]
pub struct Imported {
    file: String,
    #[ts(type = "number")]
    categories: usize,
    #[ts(type = "number")]
    payment_methods: usize,
    #[ts(type = "number")]
    transactions: usize,
}

/// Restores a JSON backup the user picks (records matched by id: importing twice adds
/// nothing); nothing is written when the file is refused.
#[tauri::command]
pub async fn import_backup(app: AppHandle, state: State<'_, AppState>) -> CommandResult<Option<Imported>> {
    use tauri_plugin_dialog::DialogExt;
    let Some(path) = app.dialog().file().add_filter("JSON", &["json"]).blocking_pick_file() else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| CommandError::new("io", e.to_string()))?;
    let text = std::fs::read_to_string(&path)?;
    let backup = expenso_core::Backup::from_json(&text)?;
    let summary = state.write(|s| s.restore_backup(&backup, Utc::now()))?;
    Ok(Some(Imported {
        file: path.display().to_string(),
        categories: summary.categories,
        payment_methods: summary.payment_methods,
        transactions: summary.transactions,
    }))
}

// ---- the account on the server (needs the network) ----

#[tauri::command]
pub async fn account_profile(state: State<'_, AppState>) -> CommandResult<expenso_core::account::Profile> {
    let api = Api::new();
    Ok(api
        .authorized(&state.credentials_path(), |c| {
            let api = api.clone();
            async move { api.profile(&c).await }
        })
        .await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileUpdate {
    display_name: Option<String>,
    base_currency: Option<String>,
    locale: Option<String>,
}

#[tauri::command]
pub async fn update_profile(
    state: State<'_, AppState>,
    update: ProfileUpdate,
) -> CommandResult<expenso_core::account::Profile> {
    let api = Api::new();
    Ok(api
        .authorized(&state.credentials_path(), |c| {
            let (api, u) = (api.clone(), &update);
            async move {
                api.update_profile(&c, u.display_name.as_deref(), u.base_currency.as_deref(), u.locale.as_deref()).await
            }
        })
        .await?)
}

#[tauri::command]
pub async fn change_password(state: State<'_, AppState>, current: String, next: String) -> CommandResult<()> {
    let api = Api::new();
    Ok(api
        .authorized(&state.credentials_path(), |c| {
            let (api, current, next) = (api.clone(), current.clone(), next.clone());
            async move { api.change_password(&c, &current, &next).await }
        })
        .await?)
}

#[tauri::command]
pub async fn account_sessions(state: State<'_, AppState>) -> CommandResult<Vec<expenso_core::account::SessionInfo>> {
    let api = Api::new();
    Ok(api
        .authorized(&state.credentials_path(), |c| {
            let api = api.clone();
            async move { api.sessions(&c).await }
        })
        .await?)
}

#[tauri::command]
pub async fn revoke_session(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    let id = self::id("id", &id)?;
    let api = Api::new();
    Ok(api
        .authorized(&state.credentials_path(), |c| {
            let api = api.clone();
            async move { api.revoke_session(&c, id).await }
        })
        .await?)
}

/// Deletes the account on the server; this device keeps its ledger, no longer bound to it.
#[tauri::command]
pub async fn delete_account(state: State<'_, AppState>, password: String) -> CommandResult<()> {
    let api = Api::new();
    api.authorized(&state.credentials_path(), |c| {
        let (api, password) = (api.clone(), password.clone());
        async move { api.delete_account(&c, &password).await }
    })
    .await?;
    state.stop_sync().await;
    Credentials::delete(&state.credentials_path())?;
    if state.has_ledger() {
        state.write(|s| s.unbind())?;
    }
    Ok(())
}

#[tauri::command]
pub async fn request_password_reset(server: String, email: String) -> CommandResult<String> {
    Ok(Api::new().request_password_reset(&server, &email).await?)
}
