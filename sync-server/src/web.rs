//! The REST API of the web dashboard: transactions with the core's filters (and undoing a
//! deletion), the tags in use, categories, payment methods, ledger settings, summaries, the
//! account's export and importing a backup.
//!
//! Reads come from the materialized records (MongoDB, summed as Decimal128 by MongoDB's
//! aggregation) and the projected rows (PostgreSQL); writes go through the account's ledger
//! replica as automerge changes of the server's own, stored in the change log like a device's,
//! so they reach every device. Every query is scoped to the signed-in account.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use expenso_core::account::Profile;
use expenso_core::model::parse_date;
use expenso_core::{
    Backup, Balance, Category, CategoryPatch, CategoryTotal, Currency, Decimal, GroupSums, Kind, Month, MonthSummary,
    NewCategory, NewTransaction, PaymentMethod, PeriodSplit, RestoreSummary, Settings, Transaction, TransactionPage,
    TransactionPatch,
};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, Regex};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{Error, ErrorBody, Result};
use crate::ledger::{decimal128, from_decimal128};
use crate::{ApiJson, AppState};

/// A page holds at most this many transactions.
const MAX_PAGE: u32 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_transactions, create_transaction))
        .routes(routes!(get_transaction, edit_transaction, delete_transaction))
        .routes(routes!(restore_transaction))
        .routes(routes!(list_tags))
        .routes(routes!(list_categories, create_category))
        .routes(routes!(edit_category, delete_category))
        .routes(routes!(list_payment_methods, create_payment_method))
        .routes(routes!(edit_payment_method))
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(import_ledger))
        .routes(routes!(balance))
        .routes(routes!(months))
        .routes(routes!(trend))
        .routes(routes!(category_breakdown))
        .routes(routes!(export_account))
}

// ---- transactions ----

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// First day, `YYYY-MM-DD`.
    from: Option<String>,
    /// Last day, `YYYY-MM-DD`.
    to: Option<String>,
    /// `YYYY-MM`: the whole month (instead of `from` and `to`).
    month: Option<String>,
    /// `expense` or `income`.
    kind: Option<String>,
    /// Category ids, comma-separated.
    categories: Option<String>,
    /// Payment-method ids, comma-separated.
    payment_methods: Option<String>,
    min_amount: Option<String>,
    max_amount: Option<String>,
    /// Tags, comma-separated: transactions with any of them.
    tags: Option<String>,
    /// Words that start words of the description, notes or tags.
    q: Option<String>,
    /// `date` (default), `amount`, `description` or `created`.
    sort: Option<String>,
    /// `desc` (default) or `asc`.
    order: Option<String>,
    offset: Option<u64>,
    /// 1 to 500; 50 by default.
    limit: Option<u32>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{field}: {message}"))
}

fn ids(field: &str, list: &Option<String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for part in list.iter().flat_map(|l| l.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        out.push(Uuid::parse_str(part).map_err(|_| invalid(field, format!("{part:?} is not an id")))?.to_string());
    }
    Ok(out)
}

fn amount(field: &str, text: &Option<String>) -> Result<Option<Decimal>> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Decimal::from_str_exact(t).map_err(|_| invalid(field, format!("{t:?} is not an amount"))))
        .transpose()
}

pub(crate) fn day(field: &str, text: &Option<String>) -> Result<Option<NaiveDate>> {
    text.as_deref().filter(|t| !t.trim().is_empty()).map(|t| parse_date(field, t).map_err(Error::from)).transpose()
}

fn month(field: &str, text: &str) -> Result<Month> {
    let m = Month::from_str(text).map_err(|_| invalid(field, format!("{text:?} is not a month (YYYY-MM)")))?;
    if !(expenso_core::model::MIN_YEAR..=expenso_core::model::MAX_YEAR).contains(&m.year) {
        return Err(invalid(field, format!("{text:?} is outside the years a ledger holds")));
    }
    Ok(m)
}

/// The transactions of each month of the account, from the monthly totals (a few rows a
/// month, not one per record), oldest first.
async fn month_counts(state: &AppState, account: Uuid) -> Result<Vec<(Month, u64)>> {
    let pipeline = [
        doc! { "$match": { "account": account.to_string() } },
        doc! { "$group": { "_id": "$month", "count": { "$sum": "$count" } } },
    ];
    let docs: Vec<Document> = state.ledgers.month_totals().aggregate(pipeline).await?.try_collect().await?;
    let mut months: Vec<(Month, u64)> = docs
        .iter()
        .filter_map(|d| Some((d.get_str("_id").ok()?.parse::<Month>().ok()?, int_of(d.get("count"))?)))
        .filter(|(_, n)| *n > 0)
        .collect();
    months.sort_by_key(|(m, _)| *m);
    Ok(months)
}

/// The months a page of the whole list in date order lies in: `(newest, oldest, before)`,
/// where `before` counts the transactions ahead of the window (in the list's order). The
/// window holds the page whole, so the database sorts and skips only within it rather than
/// over every record of the account. `None` when the page starts past the end.
fn page_window(months: &[(Month, u64)], offset: u64, limit: u64, newest_first: bool) -> Option<(Month, Month, u64)> {
    let ordered: Vec<(Month, u64)> =
        if newest_first { months.iter().rev().copied().collect() } else { months.to_vec() };
    let mut before = 0;
    let mut start = None;
    let mut covered = 0;
    for (month, count) in ordered {
        match start {
            None if before + count <= offset => before += count,
            None => {
                start = Some(month);
                covered = before + count;
            }
            Some(_) => covered += count,
        }
        if let Some(first) = start {
            if covered >= offset + limit {
                return Some(if newest_first { (first, month, before) } else { (month, first, before) });
            }
        }
    }
    // The page runs to the end of the list.
    let first = start?;
    let last = if newest_first { months.first()?.0 } else { months.last()?.0 };
    Some(if newest_first { (first, last, before) } else { (last, first, before) })
}

/// The period of a list query that filters by nothing else (`None` when it does).
fn period_only(q: &ListQuery) -> Result<Option<(Option<NaiveDate>, Option<NaiveDate>)>> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
    let filtered =
        [&q.kind, &q.categories, &q.payment_methods, &q.min_amount, &q.max_amount, &q.tags, &q.q].into_iter().any(set);
    if filtered {
        return Ok(None);
    }
    if let Some(m) = q.month.as_deref().filter(|m| !m.trim().is_empty()) {
        let m = month("month", m)?;
        return Ok(Some((Some(m.first_day()), Some(m.last_day()))));
    }
    Ok(Some((day("from", &q.from)?, day("to", &q.to)?)))
}

/// The records filter of a list query, always within the account.
fn records_filter(account: Uuid, q: &ListQuery) -> Result<Document> {
    let mut filter = doc! { "account": account.to_string() };
    let (mut from, mut to) = (day("from", &q.from)?, day("to", &q.to)?);
    if let Some(m) = q.month.as_deref().filter(|m| !m.trim().is_empty()) {
        let m = month("month", m)?;
        from = Some(m.first_day());
        to = Some(m.last_day());
    }
    let mut date = Document::new();
    if let Some(f) = from {
        date.insert("$gte", f.format("%Y-%m-%d").to_string());
    }
    if let Some(t) = to {
        date.insert("$lte", t.format("%Y-%m-%d").to_string());
    }
    if !date.is_empty() {
        filter.insert("date", date);
    }
    if let Some(kind) = q.kind.as_deref().filter(|k| !k.trim().is_empty()) {
        filter.insert("kind", Kind::from_str(kind)?.as_str());
    }
    let categories = ids("categories", &q.categories)?;
    if !categories.is_empty() {
        filter.insert("category", doc! { "$in": categories });
    }
    let methods = ids("payment_methods", &q.payment_methods)?;
    if !methods.is_empty() {
        filter.insert("payment_method", doc! { "$in": methods });
    }
    let mut range = Document::new();
    if let Some(min) = amount("min_amount", &q.min_amount)? {
        range.insert("$gte", decimal128(min));
    }
    if let Some(max) = amount("max_amount", &q.max_amount)? {
        range.insert("$lte", decimal128(max));
    }
    if !range.is_empty() {
        filter.insert("amount", range);
    }
    let tags: Vec<String> =
        q.tags.iter().flat_map(|t| t.split(',')).map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    if !tags.is_empty() {
        filter.insert("tags", doc! { "$in": tags });
    }
    if let Some(text) = q.q.as_deref() {
        let words: Vec<&str> = text.split_whitespace().take(10).collect();
        let mut all = Vec::new();
        for word in words {
            if word.chars().count() > 100 {
                return Err(invalid("q", "words are at most 100 characters"));
            }
            let regex = Regex { pattern: format!(r"\b{}", regex_escape(word)), options: "i".into() };
            all.push(Bson::Document(doc! { "$or": [
                { "description": regex.clone() }, { "notes": regex.clone() }, { "tags": regex },
            ] }));
        }
        if !all.is_empty() {
            filter.insert("$and", all);
        }
    }
    Ok(filter)
}

fn regex_escape(word: &str) -> String {
    let mut out = String::with_capacity(word.len() * 2);
    for c in word.chars() {
        if !c.is_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Transactions matching the filters, sorted and paged, with the total count.
#[utoipa::path(get, path = "/api/v1/transactions", tag = "transactions", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = TransactionPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_transactions(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<TransactionPage>> {
    let filter = records_filter(auth.user_id, &q)?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let dir = match q.order.as_deref().unwrap_or("desc") {
        "desc" => -1,
        "asc" => 1,
        other => return Err(invalid("order", format!("{other:?} is neither \"asc\" nor \"desc\""))),
    };
    let key = match q.sort.as_deref().unwrap_or("date") {
        "date" => "date",
        "amount" => "amount",
        "description" => "description_key",
        "created" => "created_at",
        other => return Err(invalid("sort", format!("{other:?}: sort by date, amount, description or created"))),
    };
    let mut sort = doc! { key: dir };
    if key != "created_at" {
        sort.insert("created_at", dir);
    }
    sort.insert("_id", dir);
    let records = state.ledgers.records();
    let period = period_only(&q)?;
    let mut offset = q.offset.unwrap_or(0);
    let mut filter = filter;
    let total = match period {
        // The whole list in date order (the dashboard's latest, the transactions screen's
        // first view): the monthly counts give the total and say which months the page lies
        // in, so the database sorts only those months' records.
        Some((None, None)) if key == "date" => {
            let months = month_counts(&state, auth.user_id).await?;
            let total = months.iter().map(|(_, n)| n).sum();
            let Some((newest, oldest, before)) = page_window(&months, offset, u64::from(limit), dir < 0) else {
                return Ok(Json(TransactionPage { items: Vec::new(), total }));
            };
            let range = doc! {
                "$gte": oldest.first_day().format("%Y-%m-%d").to_string(),
                "$lte": newest.last_day().format("%Y-%m-%d").to_string(),
            };
            filter.insert("date", range);
            offset -= before;
            total
        }
        // Only a period: counted from the monthly totals (and the days of partial months),
        // not record by record.
        Some((from, to)) => sums(&state, auth.user_id, from, to, None).await?.iter().map(|(_, g)| g.count).sum(),
        None => records.count_documents(filter.clone()).await?,
    };
    let docs: Vec<Document> =
        records.find(filter).sort(sort).skip(offset).limit(i64::from(limit)).await?.try_collect().await?;
    let items = docs.iter().map(from_record).collect::<Result<Vec<_>>>()?;
    Ok(Json(TransactionPage { items, total }))
}

fn from_record(d: &Document) -> Result<Transaction> {
    let broken = |what: &str| Error::Internal(anyhow::anyhow!("a stored record has a bad {what}"));
    let s = |k: &str| d.get_str(k).map_err(|_| broken(k));
    let uuid = |k: &str| s(k).and_then(|v| Uuid::parse_str(v).map_err(|_| broken(k)));
    let time = |k: &str| {
        d.get_datetime(k)
            .ok()
            .and_then(|t| chrono::DateTime::from_timestamp_millis(t.timestamp_millis()))
            .ok_or_else(|| broken(k))
    };
    let amount = match d.get("amount") {
        Some(Bson::Decimal128(v)) => from_decimal128(v).ok_or_else(|| broken("amount"))?,
        _ => return Err(broken("amount")),
    };
    let tags = d
        .get_array("tags")
        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let conflicts = d
        .get("conflicts")
        .and_then(|c| mongodb::bson::from_bson::<BTreeMap<String, Vec<String>>>(c.clone()).ok())
        .unwrap_or_default();
    Ok(Transaction {
        id: uuid("id")?,
        kind: Kind::from_str(s("kind")?).map_err(|_| broken("kind"))?,
        amount,
        currency: Currency::from_code(s("currency")?).ok_or_else(|| broken("currency"))?,
        date: NaiveDate::parse_from_str(s("date")?, "%Y-%m-%d").map_err(|_| broken("date"))?,
        category_id: uuid("category")?,
        payment_method_id: uuid("payment_method")?,
        description: s("description")?.to_string(),
        notes: d.get_str("notes").unwrap_or_default().to_string(),
        tags,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        base_amount: match d.get("base_amount") {
            Some(Bson::Decimal128(v)) => Some(from_decimal128(v).ok_or_else(|| broken("base_amount"))?),
            _ => None,
        },
        conflicts,
    })
}

/// An id from the path; one that is not an id names nothing there is.
pub(crate) fn parse_id(text: &str, what: &'static str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::NotFound(what))
}

/// One transaction.
#[utoipa::path(get, path = "/api/v1/transactions/{id}", tag = "transactions", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Transaction), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_transaction(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Transaction>> {
    let id = parse_id(&id, "transaction")?;
    let found = state.ledgers.records().find_one(doc! { "_id": format!("{}:{id}", auth.user_id) }).await?;
    Ok(Json(from_record(&found.ok_or(Error::NotFound("transaction"))?)?))
}

/// Books an expense or income; it reaches the account's devices at their next sync.
#[utoipa::path(post, path = "/api/v1/transactions", tag = "transactions", security(("bearer" = [])),
    request_body = NewTransaction,
    responses((status = 201, body = Transaction), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_transaction(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<NewTransaction>,
) -> Result<(StatusCode, Json<Transaction>)> {
    let id = Uuid::now_v7();
    let t = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.add_transaction(&input, id, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Changes the fields given; the others stay.
#[utoipa::path(patch, path = "/api/v1/transactions/{id}", tag = "transactions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = TransactionPatch,
    responses((status = 200, body = Transaction), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_transaction(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<TransactionPatch>,
) -> Result<Json<Transaction>> {
    let id = parse_id(&id, "transaction")?;
    let t = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.edit_transaction(id, &patch, Utc::now()))
        .await?;
    Ok(Json(t))
}

/// Deletes a transaction and answers with it (to offer an undo: post it to `restore`).
#[utoipa::path(delete, path = "/api/v1/transactions/{id}", tag = "transactions", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Transaction), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_transaction(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Transaction>> {
    let id = parse_id(&id, "transaction")?;
    let t = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.delete_transaction(id, Utc::now()))
        .await?;
    Ok(Json(t))
}

/// Puts back a deleted transaction with its id and every field as it was: the body is what
/// `DELETE /api/v1/transactions/{id}` answered.
#[utoipa::path(post, path = "/api/v1/transactions/{id}/restore", tag = "transactions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Transaction,
    responses((status = 201, body = Transaction), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn restore_transaction(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(t): ApiJson<Transaction>,
) -> Result<(StatusCode, Json<Transaction>)> {
    if Uuid::parse_str(&id).ok() != Some(t.id) {
        return Err(invalid("id", format!("the path names {id:?} but the transaction is {}", t.id)));
    }
    let t = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.restore_transaction(&t, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TagCount {
    tag: String,
    /// Transactions with the tag.
    count: u64,
}

/// The tags on the account's transactions, most used first (then by name).
#[utoipa::path(get, path = "/api/v1/tags", tag = "transactions", security(("bearer" = [])),
    responses((status = 200, body = [TagCount]), (status = 401, body = ErrorBody)))]
async fn list_tags(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<TagCount>>> {
    let row: Option<(Vec<String>, Vec<i64>)> =
        sqlx::query_as("SELECT tags, counts FROM ledger_tags WHERE user_id = $1")
            .bind(auth.user_id)
            .fetch_optional(state.ledgers.pg())
            .await?;
    let mut out: Vec<TagCount> = match row {
        // The materializer's projection: one row, whatever the number of transactions.
        Some((tags, counts)) => {
            tags.into_iter().zip(counts).map(|(tag, count)| TagCount { tag, count: count.max(0) as u64 }).collect()
        }
        // Not projected yet (published by an older server): counted from the records, and a
        // pass is asked for, which writes the row.
        None => {
            state.ledgers.schedule(auth.user_id);
            tags_from_records(&state, auth.user_id).await?
        }
    };
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
    Ok(Json(out))
}

async fn tags_from_records(state: &AppState, account: Uuid) -> Result<Vec<TagCount>> {
    let pipeline = [
        doc! { "$match": { "account": account.to_string() } },
        doc! { "$unwind": "$tags" },
        doc! { "$group": { "_id": "$tags", "count": { "$sum": 1 } } },
    ];
    let docs: Vec<Document> = state.ledgers.records().aggregate(pipeline).await?.try_collect().await?;
    let broken = || Error::Internal(anyhow::anyhow!("a tag count came back malformed"));
    docs.iter()
        .map(|d| {
            let tag = d.get_str("_id").map_err(|_| broken())?.to_string();
            let count = int_of(d.get("count")).ok_or_else(broken)?;
            Ok(TagCount { tag, count })
        })
        .collect()
}

fn int_of(v: Option<&Bson>) -> Option<u64> {
    match v? {
        Bson::Int32(n) => u64::try_from(*n).ok(),
        Bson::Int64(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

// ---- categories and payment methods ----

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ArchivedQuery {
    /// Include archived ones.
    #[serde(default)]
    include_archived: bool,
}

type CategoryRow = (Uuid, String, String, String, String, bool, bool, bool, Option<Uuid>);

fn category_of(row: CategoryRow) -> Category {
    let (id, name, kind, color, icon, archived, builtin, deleted, merged_into) = row;
    Category {
        id,
        name,
        kind: Kind::from_str(&kind).unwrap_or(Kind::Expense),
        color,
        icon,
        archived,
        builtin,
        deleted,
        merged_into,
    }
}

async fn categories_of(state: &AppState, account: Uuid, include_archived: bool) -> Result<Vec<Category>> {
    let rows: Vec<CategoryRow> = sqlx::query_as(
        "SELECT id, name, kind, color, icon, archived, builtin, deleted, merged_into FROM ledger_categories
         WHERE user_id = $1 AND NOT deleted AND ($2 OR NOT archived) ORDER BY kind, lower(name)",
    )
    .bind(account)
    .bind(include_archived)
    .fetch_all(state.ledgers.pg())
    .await?;
    Ok(rows.into_iter().map(category_of).collect())
}

/// The account's categories (without deleted ones).
#[utoipa::path(get, path = "/api/v1/categories", tag = "categories", security(("bearer" = [])), params(ArchivedQuery),
    responses((status = 200, body = [Category]), (status = 401, body = ErrorBody)))]
async fn list_categories(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ArchivedQuery>,
) -> Result<Json<Vec<Category>>> {
    Ok(Json(categories_of(&state, auth.user_id, q.include_archived).await?))
}

#[utoipa::path(post, path = "/api/v1/categories", tag = "categories", security(("bearer" = [])), request_body = NewCategory,
    responses((status = 201, body = Category), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_category(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<NewCategory>,
) -> Result<(StatusCode, Json<Category>)> {
    let id = Uuid::new_v4();
    let c = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.add_category(&input, id, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Renames, recolours, changes the icon, archives or unarchives.
#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "categories", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CategoryPatch,
    responses((status = 200, body = Category), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_category(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<CategoryPatch>,
) -> Result<Json<Category>> {
    let id = parse_id(&id, "category")?;
    let c = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.edit_category(id, &patch, Utc::now()))
        .await?;
    Ok(Json(c))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteCategoryQuery {
    /// Where the category's transactions go (required when it has any).
    move_to: Option<Uuid>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Deleted {
    /// Transactions moved to the other category.
    moved: u64,
}

/// Deletes a category; its transactions move to `move_to` (`409 category_in_use` without one).
#[utoipa::path(delete, path = "/api/v1/categories/{id}", tag = "categories", security(("bearer" = [])),
    params(("id" = Uuid, Path), DeleteCategoryQuery),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_category(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<DeleteCategoryQuery>,
) -> Result<Json<Deleted>> {
    let id = parse_id(&id, "category")?;
    let moved = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.delete_category(id, q.move_to, Utc::now()))
        .await?;
    Ok(Json(Deleted { moved }))
}

/// The account's payment methods.
#[utoipa::path(get, path = "/api/v1/payment-methods", tag = "categories", security(("bearer" = [])),
    params(ArchivedQuery), responses((status = 200, body = [PaymentMethod]), (status = 401, body = ErrorBody)))]
async fn list_payment_methods(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ArchivedQuery>,
) -> Result<Json<Vec<PaymentMethod>>> {
    let rows: Vec<(Uuid, String, bool, bool)> = sqlx::query_as(
        "SELECT id, name, archived, builtin FROM ledger_payment_methods
         WHERE user_id = $1 AND ($2 OR NOT archived) ORDER BY NOT builtin, lower(name)",
    )
    .bind(auth.user_id)
    .bind(q.include_archived)
    .fetch_all(state.ledgers.pg())
    .await?;
    Ok(Json(
        rows.into_iter().map(|(id, name, archived, builtin)| PaymentMethod { id, name, archived, builtin }).collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewPaymentMethod {
    name: String,
}

#[utoipa::path(post, path = "/api/v1/payment-methods", tag = "categories", security(("bearer" = [])),
    request_body = NewPaymentMethod,
    responses((status = 201, body = PaymentMethod), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_payment_method(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(input): ApiJson<NewPaymentMethod>,
) -> Result<(StatusCode, Json<PaymentMethod>)> {
    let id = Uuid::new_v4();
    let m = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.add_payment_method(&input.name, id, Utc::now()))
        .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PaymentMethodPatch {
    name: Option<String>,
    archived: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/payment-methods/{id}", tag = "categories", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PaymentMethodPatch,
    responses((status = 200, body = PaymentMethod), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_payment_method(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<PaymentMethodPatch>,
) -> Result<Json<PaymentMethod>> {
    let id = parse_id(&id, "payment method")?;
    let m = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| {
            store.edit_payment_method(id, patch.name.as_deref(), patch.archived, Utc::now())
        })
        .await?;
    Ok(Json(m))
}

// ---- ledger settings ----

/// The ledger's settings (its base currency).
#[utoipa::path(get, path = "/api/v1/ledger/settings", tag = "categories", security(("bearer" = [])),
    responses((status = 200, body = Settings), (status = 401, body = ErrorBody)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<Json<Settings>> {
    Ok(Json(settings_of(&state, auth.user_id).await?))
}

/// The ledger's settings from their projection, or as a new device would start the ledger
/// when nothing was synced yet.
pub(crate) async fn settings_of(state: &AppState, account: Uuid) -> Result<Settings> {
    let code: Option<String> = sqlx::query_scalar("SELECT base_currency FROM ledger_settings WHERE user_id = $1")
        .bind(account)
        .fetch_optional(state.ledgers.pg())
        .await?;
    match code.as_deref().and_then(Currency::from_code) {
        Some(base_currency) => Ok(Settings { base_currency }),
        None => state.ledgers.read(account, |store| store.settings()).await,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct SettingsPatch {
    /// ISO 4217 code.
    base_currency: String,
}

#[utoipa::path(patch, path = "/api/v1/ledger/settings", tag = "categories", security(("bearer" = [])),
    request_body = SettingsPatch,
    responses((status = 200, body = Settings), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(patch): ApiJson<SettingsPatch>,
) -> Result<Json<Settings>> {
    let settings = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| {
            store.set_base_currency(&patch.base_currency, Utc::now())?;
            store.settings()
        })
        .await?;
    Ok(Json(settings))
}

// ---- importing a backup ----

/// What the import takes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum ImportFile {
    /// The core's backup, as `expenso export` writes it (`format` is `expenso-backup`).
    Backup(Backup),
    /// A whole account export (`GET /api/v1/account/export`): its `ledger` is restored.
    AccountExport(ExportedLedger),
}

/// The part of an account export the import reads; the rest (the profile) is ignored.
#[derive(Deserialize, utoipa::ToSchema)]
struct ExportedLedger {
    /// `expensotrack-account-export`.
    #[allow(dead_code)] // For the schema: `ImportFile::read` decides by it before this is read.
    format: String,
    ledger: Backup,
}

impl ImportFile {
    /// Reads the file, deciding by its `format` what it is.
    fn read(body: &[u8]) -> Result<ImportFile> {
        #[derive(Deserialize)]
        struct Format {
            format: Option<serde_json::Value>,
        }
        let text = std::str::from_utf8(body).map_err(|_| Error::Invalid("the file is not JSON text (UTF-8)".into()))?;
        let head: Format = serde_json::from_str(text).map_err(|e| {
            Error::Invalid(format!("the file is not a JSON object ({e}); choose a backup or an export"))
        })?;
        let expected = format!(
            "expected {:?} (a backup) or {EXPORT_FORMAT:?} (an account export)",
            expenso_core::backup::BACKUP_FORMAT
        );
        match head.format {
            Some(serde_json::Value::String(f)) if f == expenso_core::backup::BACKUP_FORMAT => {
                Ok(ImportFile::Backup(Backup::from_json(text)?))
            }
            Some(serde_json::Value::String(f)) if f == EXPORT_FORMAT => {
                let export: ExportedLedger =
                    serde_json::from_str(text).map_err(|e| expenso_core::Error::BadBackup(e.to_string()))?;
                export.ledger.check_format()?;
                Ok(ImportFile::AccountExport(export))
            }
            Some(serde_json::Value::String(f)) => {
                Err(invalid("format", format!("{f:?} is not a file this reads; {expected}")))
            }
            Some(other) => Err(invalid("format", format!("{other} is not a file this reads; {expected}"))),
            None => Err(invalid("format", format!("missing, so this is no ExpensoTrack file; {expected}"))),
        }
    }

    fn into_backup(self) -> Backup {
        match self {
            ImportFile::Backup(backup) => backup,
            ImportFile::AccountExport(export) => export.ledger,
        }
    }
}

/// Imports a backup into the account's ledger.
///
/// Takes the core's backup (what `expenso export` writes) or a whole account export, whose
/// `ledger` it restores; `format` says which. Records are matched by id, so importing a file
/// again changes nothing; the file is checked whole before anything is written, and a file
/// that breaks a rule changes nothing. The restore is one change of the server's own, which
/// reaches every device; a change holds at most 8 MB (about 30,000 transactions), and a
/// larger restore is refused (`422`) with nothing stored.
#[utoipa::path(post, path = "/api/v1/ledger/import", tag = "categories", security(("bearer" = [])),
    request_body(content = ImportFile, content_type = "application/json"),
    responses((status = 200, body = RestoreSummary), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn import_ledger(
    State(state): State<AppState>,
    auth: Auth,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<RestoreSummary>> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge,
        _ => Error::Invalid(rejection.body_text()),
    })?;
    // Parsing up to `max_body` of JSON takes a while: off the async threads.
    let backup = tokio::task::spawn_blocking(move || ImportFile::read(&body))
        .await
        .map_err(|e| Error::Internal(e.into()))??
        .into_backup();
    let summary = state
        .ledgers
        .write(auth.user_id, auth.session_id, move |store| store.restore_backup(&backup, Utc::now()))
        .await?;
    Ok(Json(summary))
}

// ---- summaries ----

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// First day, `YYYY-MM-DD` (open when left out).
    from: Option<String>,
    /// Last day, `YYYY-MM-DD` (open when left out).
    to: Option<String>,
}

/// Sums over `[from, to]`, grouped by `by` (`category`, `month` or nothing), kind and
/// currency, as exact decimals: the original amounts, and the amounts converted into the base
/// currency of those with a rate. Whole months come from the monthly totals the materializer
/// keeps (a few rows a month), the days of partial months at either end from the records
/// (a record's `rated` says whether it converted), as the core's own queries do.
async fn sums(
    state: &AppState,
    account: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    by: Option<&str>,
) -> Result<Vec<(String, GroupSums)>> {
    let Some(split) = PeriodSplit::of(from, to) else { return Ok(Vec::new()) };
    let broken = || Error::Internal(anyhow::anyhow!("a summary came back malformed"));
    let decimal = |v: Option<&Bson>| match v {
        Some(Bson::Decimal128(v)) => from_decimal128(v).ok_or_else(broken),
        // MongoDB's sum of no numbers (or of nulls only) is the integer 0.
        Some(Bson::Int32(0)) | Some(Bson::Int64(0)) => Ok(Decimal::ZERO),
        _ => Err(broken()),
    };
    let mut out: BTreeMap<(String, Kind, Currency), GroupSums> = BTreeMap::new();
    let mut group = |d: &Document, rated: Option<bool>| -> Result<()> {
        let key = d.get_document("_id").map_err(|_| broken())?;
        let kind = Kind::from_str(key.get_str("kind").map_err(|_| broken())?).map_err(|_| broken())?;
        let currency = Currency::from_code(key.get_str("currency").map_err(|_| broken())?).ok_or_else(broken)?;
        let by = key.get_str("by").unwrap_or_default().to_string();
        let g = out.entry((by, kind, currency)).or_insert(GroupSums {
            kind,
            currency,
            total: Decimal::ZERO,
            count: 0,
            base: Decimal::ZERO,
            base_count: 0,
            unrated: Decimal::ZERO,
        });
        let total = decimal(d.get("total"))?;
        let count = int_of(d.get("count")).ok_or_else(broken)?;
        g.total += total;
        g.count += count;
        match rated {
            // A group of records: converted or not, all of it.
            Some(true) => {
                g.base += decimal(d.get("base"))?;
                g.base_count += count;
            }
            Some(false) => g.unrated += total,
            // A group of monthly totals: both parts summed apart.
            None => {
                g.base += decimal(d.get("base"))?;
                g.base_count += int_of(d.get("base_count")).ok_or_else(broken)?;
                g.unrated += decimal(d.get("unrated"))?;
            }
        }
        Ok(())
    };
    let account_key = account.to_string();
    if let Some((first, last)) = split.whole {
        let mut id = doc! { "kind": "$kind", "currency": "$currency" };
        if let Some(by) = by {
            id.insert("by", format!("${by}"));
        }
        let pipeline = [
            doc! { "$match": { "account": &account_key, "month": { "$gte": first.to_string(), "$lte": last.to_string() } } },
            doc! { "$group": {
                "_id": id,
                "total": { "$sum": "$total" },
                "count": { "$sum": "$count" },
                "base": { "$sum": "$base" },
                "base_count": { "$sum": "$base_count" },
                "unrated": { "$sum": "$unrated" },
            } },
        ];
        let docs: Vec<Document> = state.ledgers.month_totals().aggregate(pipeline).await?.try_collect().await?;
        for d in &docs {
            group(d, None)?;
        }
    }
    for (a, b) in split.days {
        let mut id = doc! { "kind": "$kind", "currency": "$currency", "rated": "$rated" };
        if let Some(by) = by {
            id.insert("by", format!("${by}"));
        }
        let range = doc! { "$gte": a.format("%Y-%m-%d").to_string(), "$lte": b.format("%Y-%m-%d").to_string() };
        let pipeline = [
            doc! { "$match": { "account": &account_key, "date": range } },
            doc! { "$group": {
                "_id": id,
                "total": { "$sum": "$amount" },
                "base": { "$sum": "$base_amount" },
                "count": { "$sum": 1 },
            } },
        ];
        let docs: Vec<Document> = state.ledgers.records().aggregate(pipeline).await?.try_collect().await?;
        for d in &docs {
            let rated = d.get_document("_id").ok().and_then(|k| k.get_bool("rated").ok()).unwrap_or(false);
            group(d, Some(rated))?;
        }
    }
    Ok(out.into_iter().map(|((by, ..), g)| (by, g)).collect())
}

/// Income, expenses and net over a period: converted into the base currency, per currency,
/// and what no rate converts.
#[utoipa::path(get, path = "/api/v1/summaries/balance", tag = "summaries", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = Balance), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn balance(State(state): State<AppState>, auth: Auth, Query(q): Query<PeriodQuery>) -> Result<Json<Balance>> {
    let rows = sums(&state, auth.user_id, day("from", &q.from)?, day("to", &q.to)?, None).await?;
    let base = settings_of(&state, auth.user_id).await?.base_currency;
    Ok(Json(Balance::of(base, rows.into_iter().map(|(_, g)| g))))
}

async fn month_range(state: &AppState, account: Uuid, first: Month, last: Month) -> Result<Vec<MonthSummary>> {
    if first > last {
        return Err(invalid("from", "the first month is after the last"));
    }
    let rows = sums(state, account, Some(first.first_day()), Some(last.last_day()), Some("month")).await?;
    let base = settings_of(state, account).await?.base_currency;
    let mut by_month: BTreeMap<String, Vec<GroupSums>> = BTreeMap::new();
    for (m, g) in rows {
        by_month.entry(m).or_default().push(g);
    }
    let mut out = Vec::new();
    let mut m = first;
    while m <= last {
        let key = m.first_day().format("%Y-%m").to_string();
        let b = Balance::of(base, by_month.remove(&key).unwrap_or_default());
        out.push(MonthSummary { month: m, totals: b.currencies, base: b.base, unconverted: b.unconverted });
        m = m.next();
    }
    Ok(out)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct MonthsQuery {
    /// First month, `YYYY-MM`.
    from: String,
    /// Last month, `YYYY-MM` (at most 120 months after `from`).
    to: String,
}

/// One summary per month, months without transactions included.
#[utoipa::path(get, path = "/api/v1/summaries/months", tag = "summaries", security(("bearer" = [])), params(MonthsQuery),
    responses((status = 200, body = [MonthSummary]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn months(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<MonthsQuery>,
) -> Result<Json<Vec<MonthSummary>>> {
    let (first, last) = (month("from", &q.from)?, month("to", &q.to)?);
    if first <= last && last.minus(119) > first {
        return Err(invalid("to", "at most 120 months at once"));
    }
    Ok(Json(month_range(&state, auth.user_id, first, last).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TrendQuery {
    /// The last month, `YYYY-MM` (this month by default).
    last: Option<String>,
    /// How many months, 1 to 120 (12 by default).
    months: Option<u32>,
}

/// The `months` months ending with `last`.
#[utoipa::path(get, path = "/api/v1/summaries/trend", tag = "summaries", security(("bearer" = [])), params(TrendQuery),
    responses((status = 200, body = [MonthSummary]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn trend(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<TrendQuery>,
) -> Result<Json<Vec<MonthSummary>>> {
    let n = q.months.unwrap_or(12);
    if n == 0 || n > 120 {
        return Err(invalid("months", "must be between 1 and 120"));
    }
    let last = match q.last.as_deref() {
        Some(text) => month("last", text)?,
        None => Month::of(Utc::now().date_naive()),
    };
    Ok(Json(month_range(&state, auth.user_id, last.minus(n - 1), last).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BreakdownQuery {
    from: Option<String>,
    to: Option<String>,
    /// `expense` (default) or `income`.
    kind: Option<String>,
}

/// Totals per category for one kind over a period in the base currency, largest first, with
/// each one's share; transactions no rate converts are left out (the balance lists them).
#[utoipa::path(get, path = "/api/v1/summaries/categories", tag = "summaries", security(("bearer" = [])),
    params(BreakdownQuery),
    responses((status = 200, body = [CategoryTotal]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn category_breakdown(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<BreakdownQuery>,
) -> Result<Json<Vec<CategoryTotal>>> {
    let kind = match q.kind.as_deref() {
        Some(k) => Kind::from_str(k)?,
        None => Kind::Expense,
    };
    let rows = sums(&state, auth.user_id, day("from", &q.from)?, day("to", &q.to)?, Some("category")).await?;
    let base = settings_of(&state, auth.user_id).await?.base_currency;
    let categories: BTreeMap<Uuid, Category> =
        categories_of(&state, auth.user_id, true).await?.into_iter().map(|c| (c.id, c)).collect();
    let mut per_category: BTreeMap<Uuid, (Decimal, u64)> = BTreeMap::new();
    for (by, g) in rows.iter().filter(|(_, g)| g.kind == kind && g.base_count > 0) {
        let e = per_category.entry(Uuid::parse_str(by).unwrap_or_default()).or_default();
        e.0 += g.base;
        e.1 += g.base_count;
    }
    let all: Decimal = per_category.values().map(|v| v.0).sum();
    let mut out: Vec<CategoryTotal> = per_category
        .into_iter()
        .map(|(id, (total, count))| CategoryTotal::new(id, categories.get(&id), base, total, all, count))
        .collect();
    CategoryTotal::sort(&mut out);
    Ok(Json(out))
}

// ---- export ----

const EXPORT_FORMAT: &str = "expensotrack-account-export";

/// Everything the server holds of an account that is the user's own: the profile and the
/// whole ledger.
#[derive(Serialize, utoipa::ToSchema)]
struct AccountExport {
    /// `expensotrack-account-export`.
    format: &'static str,
    exported_at: DateTime<Utc>,
    profile: Profile,
    /// The ledger as the core's backup (`expenso import` reads this part).
    ledger: Backup,
}

/// The account's data as one JSON file to download: the profile and the whole ledger.
#[utoipa::path(get, path = "/api/v1/account/export", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = AccountExport, content_type = "application/json",
               headers(("Content-Disposition" = String, description = "attachment; filename=\"expensotrack-export-YYYY-MM-DD.json\""))),
              (status = 401, body = ErrorBody)))]
async fn export_account(State(state): State<AppState>, auth: Auth) -> Result<Response> {
    let profile = crate::auth::load_profile(&state, auth.user_id).await?;
    let ledger = state.ledgers.read(auth.user_id, |store| store.export_backup()).await?;
    let exported_at = Utc::now();
    let disposition = format!("attachment; filename=\"expensotrack-export-{}.json\"", exported_at.format("%Y-%m-%d"));
    let body = AccountExport { format: EXPORT_FORMAT, exported_at, profile, ledger };
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_window_holds_the_whole_page_and_counts_what_comes_before_it() {
        let m = |s: &str| s.parse::<Month>().unwrap();
        // 10 in January, 5 in February, 20 in March.
        let months = [(m("2026-01"), 10), (m("2026-02"), 5), (m("2026-03"), 20)];
        let window = |offset, limit, newest| {
            page_window(&months, offset, limit, newest).map(|(a, b, before)| format!("{a}..{b} after {before}"))
        };
        // Newest first: March holds the first 20.
        assert_eq!(window(0, 6, true).as_deref(), Some("2026-03..2026-03 after 0"));
        assert_eq!(window(15, 5, true).as_deref(), Some("2026-03..2026-03 after 0"));
        assert_eq!(window(15, 6, true).as_deref(), Some("2026-03..2026-02 after 0"));
        assert_eq!(window(20, 5, true).as_deref(), Some("2026-02..2026-02 after 20"));
        assert_eq!(window(22, 100, true).as_deref(), Some("2026-02..2026-01 after 20"));
        assert_eq!(window(34, 1, true).as_deref(), Some("2026-01..2026-01 after 25"));
        assert_eq!(window(35, 1, true), None);
        // Oldest first: the same months the other way round.
        assert_eq!(window(0, 10, false).as_deref(), Some("2026-01..2026-01 after 0"));
        assert_eq!(window(0, 11, false).as_deref(), Some("2026-02..2026-01 after 0"));
        assert_eq!(window(12, 100, false).as_deref(), Some("2026-03..2026-02 after 10"));
        assert_eq!(window(35, 10, false), None);
        assert_eq!(page_window(&[], 0, 10, true), None);
    }
}
