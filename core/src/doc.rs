//! The ledger document: its shape in automerge, the frozen genesis change, and the mapping of
//! domain records to and from automerge maps (by hand; see ARCHITECTURE.md for why).
//!
//! Shape (every leaf is a last-writer-wins register):
//! ```text
//! schema: int
//! settings: { base_currency }
//! categories: { <uuid>: { name, kind, color, icon, archived, deleted, merged_into } }
//! payment_methods: { <uuid>: { name, archived } }
//! transactions: { <uuid>: { kind, amount, currency, date, category, payment_method,
//!                           description, notes, tags, created_at, updated_at } }
//! budgets: { <uuid>: { name, category?, period, amount, currency, start, rollover, thresholds,
//!                      created_at, updated_at,
//!                      alerts: { "<period start>:<threshold>": { spent, limit, at, dismissed? } } } }
//! recurring: { <uuid>: { kind, amount, currency, category, payment_method, description, notes?,
//!                        tags?, frequency, interval, day?, month?, start, end?, count?, auto,
//!                        remind_days, created_at, updated_at,
//!                        done: { "<due date>": "booked" | "skipped" } } }
//! rates: { "ecb:<date>": "USD=1.0921 JPY=158.08 …",            (units per euro)
//!          "manual:<from>:<to>:<date>": "0.92" }               (1 from = rate to)
//! ```
//! A budget's `alerts` and a rule's `done` map are made with the record, so no two devices
//! ever create them concurrently.
//! Amounts are decimal strings at the currency's scale, dates `YYYY-MM-DD`, ids UUID strings,
//! tags one comma-joined string, times milliseconds since the epoch.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::{CommitOptions, Transactable, Transaction as AmTx};
use automerge::{hydrate, ActorId, Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{Category, Kind, PaymentMethod, Transaction};
use crate::money::Currency;
use crate::plans::{Budget, BudgetPeriod, Done, Frequency, RecurringRule, StoredAlert};
use crate::rates::{Rate, RateKey, RateSource};

/// The document schema this build writes. A document with a higher `schema` is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// The actor of the genesis change on every device. Frozen forever.
const GENESIS_ACTOR: &[u8; 16] = b"expenso:genesis0";

/// Namespace of the deterministic ids of predefined records. Frozen forever.
const NAMESPACE: Uuid = Uuid::from_u128(0x5c1d_6f0e_8c1a_4f43_9d3e_2b7f_0a6c_9e11);

pub const SETTINGS: &str = "settings";
pub const CATEGORIES: &str = "categories";
pub const PAYMENT_METHODS: &str = "payment_methods";
pub const TRANSACTIONS: &str = "transactions";
pub const BUDGETS: &str = "budgets";
pub const RECURRING: &str = "recurring";
pub const RATES: &str = "rates";
/// Containers created in the genesis so that two devices never create them concurrently
/// (which would hide one side's contents).
const RESERVED: [&str; 3] = [BUDGETS, RECURRING, RATES];

/// Predefined categories: (kind, key, name, colour, icon). Frozen forever: the genesis holds
/// them, and their ids derive from `kind:key`.
pub const DEFAULT_CATEGORIES: &[(Kind, &str, &str, &str, &str)] = &[
    (Kind::Expense, "food", "Food & dining", "#ef6c00", "🍽️"),
    (Kind::Expense, "groceries", "Groceries", "#43a047", "🛒"),
    (Kind::Expense, "transport", "Transport", "#1e88e5", "🚌"),
    (Kind::Expense, "housing", "Housing", "#6d4c41", "🏠"),
    (Kind::Expense, "utilities", "Utilities", "#f9a825", "💡"),
    (Kind::Expense, "health", "Health", "#e53935", "🩺"),
    (Kind::Expense, "entertainment", "Entertainment", "#8e24aa", "🎬"),
    (Kind::Expense, "shopping", "Shopping", "#d81b60", "🛍️"),
    (Kind::Expense, "travel", "Travel", "#00acc1", "✈️"),
    (Kind::Expense, "education", "Education", "#3949ab", "🎓"),
    (Kind::Expense, "other", "Other", "#757575", "📦"),
    (Kind::Income, "salary", "Salary", "#2e7d32", "💼"),
    (Kind::Income, "freelance", "Freelance", "#00897b", "🧰"),
    (Kind::Income, "interest", "Interest", "#fbc02d", "🏦"),
    (Kind::Income, "gifts", "Gifts", "#c2185b", "🎁"),
    (Kind::Income, "other", "Other", "#616161", "💰"),
];

/// Predefined payment methods: (key, name). Frozen forever.
pub const DEFAULT_PAYMENT_METHODS: &[(&str, &str)] =
    &[("cash", "Cash"), ("card", "Card"), ("bank_transfer", "Bank transfer"), ("other", "Other")];

pub fn default_category_id(kind: Kind, key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("category:{}:{key}", kind.as_str()).as_bytes())
}

pub fn default_payment_method_id(key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("payment_method:{key}").as_bytes())
}

/// The category that catches transactions whose category vanished (see ARCHITECTURE.md).
pub fn fallback_category(kind: Kind) -> Uuid {
    default_category_id(kind, "other")
}

pub fn is_builtin_category(id: Uuid) -> bool {
    DEFAULT_CATEGORIES.iter().any(|(kind, key, ..)| default_category_id(*kind, key) == id)
}

pub fn is_builtin_payment_method(id: Uuid) -> bool {
    DEFAULT_PAYMENT_METHODS.iter().any(|(key, _)| default_payment_method_id(key) == id)
}

/// Makes the genesis change: identical bytes on every device, so ledgers started offline on
/// two devices merge into their union.
pub fn genesis() -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(&GENESIS_ACTOR[..]));
    let mut tx = doc.transaction();
    write_genesis(&mut tx).expect("writing the genesis into an empty document cannot fail");
    tx.commit_with(CommitOptions::default().with_time(0).with_message("genesis"));
    doc
}

fn write_genesis(tx: &mut AmTx<'_>) -> Result<()> {
    tx.put(ROOT, "schema", SCHEMA_VERSION)?;
    tx.put_object(ROOT, SETTINGS, ObjType::Map)?;
    let categories = tx.put_object(ROOT, CATEGORIES, ObjType::Map)?;
    for (kind, key, name, color, icon) in DEFAULT_CATEGORIES {
        let obj = tx.put_object(&categories, default_category_id(*kind, key).to_string(), ObjType::Map)?;
        tx.put(&obj, "name", *name)?;
        tx.put(&obj, "kind", kind.as_str())?;
        tx.put(&obj, "color", *color)?;
        tx.put(&obj, "icon", *icon)?;
        tx.put(&obj, "archived", false)?;
    }
    let methods = tx.put_object(ROOT, PAYMENT_METHODS, ObjType::Map)?;
    for (key, name) in DEFAULT_PAYMENT_METHODS {
        let obj = tx.put_object(&methods, default_payment_method_id(key).to_string(), ObjType::Map)?;
        tx.put(&obj, "name", *name)?;
        tx.put(&obj, "archived", false)?;
    }
    tx.put_object(ROOT, TRANSACTIONS, ObjType::Map)?;
    for name in RESERVED {
        tx.put_object(ROOT, name, ObjType::Map)?;
    }
    Ok(())
}

/// The id of a top-level container.
pub fn container(doc: &impl ReadDoc, name: &str) -> Result<ObjId> {
    match doc.get(ROOT, name)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(Error::BadChange(format!("the ledger document has no {name:?} map"))),
    }
}

/// The schema number the document declares.
pub fn schema_of(doc: &impl ReadDoc) -> Result<i64> {
    match doc.get(ROOT, "schema")? {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(v) => Ok(*v),
            ScalarValue::Uint(v) => Ok(i64::try_from(*v).unwrap_or(i64::MAX)),
            _ => Err(Error::BadChange("the ledger's schema is not a number".into())),
        },
        _ => Err(Error::BadChange("the ledger has no schema number".into())),
    }
}

/// The map object stored under `key` in `parent`, if any.
pub fn child_map(doc: &impl ReadDoc, parent: &ObjId, key: &str) -> Result<Option<ObjId>> {
    Ok(match doc.get(parent, key)? {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    })
}

// ---- reading ----

/// All values of a field, the winner last (automerge orders them by op id).
fn values(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Vec<ScalarValue> {
    doc.get_all(obj, key)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(v, _)| match v {
            Value::Scalar(s) => Some(s.into_owned()),
            Value::Object(_) => None,
        })
        .collect()
}

fn str_of(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Str(s) => Some(s.as_str()),
        _ => None,
    }
}

fn int_of(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(*i),
        ScalarValue::Uint(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

fn bool_of(v: &ScalarValue) -> Option<bool> {
    match v {
        ScalarValue::Boolean(b) => Some(*b),
        _ => None,
    }
}

fn display(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Str(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Reads the fields of one record: every winning value in a single pass over the object, and
/// the losing values of a concurrent edit (recorded in `conflicts`) only where there is one.
struct FieldReader<'a, D> {
    doc: &'a D,
    obj: &'a ObjId,
    fields: Fields,
    conflicts: BTreeMap<String, Vec<String>>,
}

impl<'a, D: ReadDoc> FieldReader<'a, D> {
    fn new(doc: &'a D, obj: &'a ObjId) -> Self {
        let mut fields = HashMap::new();
        for item in doc.map_range(obj, ..) {
            collect_field(&mut fields, &item.key, &item.value, item.conflict);
        }
        Self::with_fields(doc, obj, fields)
    }

    fn with_fields(doc: &'a D, obj: &'a ObjId, fields: Fields) -> Self {
        FieldReader { doc, obj, fields, conflicts: BTreeMap::new() }
    }

    fn field<T>(&mut self, key: &str, parse: impl Fn(&ScalarValue) -> Option<T>) -> Option<T> {
        let (winner, conflict) = self.fields.get(key)?;
        if *conflict {
            let mut all = values(self.doc, self.obj, key);
            all.pop();
            if !all.is_empty() {
                self.conflicts.insert(key.to_string(), all.iter().map(display).collect());
            }
        }
        parse(winner)
    }
}

/// A record's fields: key → (winning value, whether other values conflict with it).
type Fields = HashMap<String, (ScalarValue, bool)>;

/// Adds a map entry to a record's fields; nested objects are not fields.
fn collect_field(fields: &mut Fields, key: &str, value: &automerge::ValueRef<'_>, conflict: bool) {
    if let automerge::ValueRef::Scalar(v) = value {
        fields.insert(key.to_string(), (ScalarValue::from(v), conflict));
    }
}

fn parse_uuid(v: &ScalarValue) -> Option<Uuid> {
    str_of(v).and_then(|s| Uuid::parse_str(s).ok())
}

fn parse_time(v: &ScalarValue) -> Option<DateTime<Utc>> {
    int_of(v).and_then(DateTime::from_timestamp_millis)
}

/// Reads a transaction. Its `category_id` is the raw reference in the document; the store
/// resolves deleted categories. `None` if the record is absent or malformed.
pub fn read_transaction(doc: &impl ReadDoc, txs: &ObjId, id: Uuid) -> Option<Transaction> {
    let obj = child_map(doc, txs, &id.to_string()).ok()??;
    transaction_from(FieldReader::new(doc, &obj), id)
}

/// Calls `found` with every transaction of the document, in one pass over the transactions
/// and their fields (several times faster than reading each record's map by its key: every
/// lookup seeks in the whole operation set). Keys that are not UUIDs, values that are not maps
/// and malformed records are skipped, as [`read_transaction`] skips them.
pub fn each_transaction(doc: &impl ReadDoc, txs: &ObjId, mut found: impl FnMut(Transaction)) {
    let mut ids: HashMap<ObjId, Uuid> = HashMap::new();
    // The record whose entries are being read: its object, id and fields so far.
    type Reading = Option<(std::sync::Arc<ObjId>, Uuid, Fields)>;
    let mut current: Reading = None;
    let mut finish = |current: Reading| {
        if let Some((obj, id, fields)) = current {
            if let Some(t) = transaction_from(FieldReader::with_fields(doc, obj.as_ref(), fields), id) {
                found(t);
            }
        }
    };
    // The map's own entries come first, then each record's entries together.
    for item in doc.iter_at(txs, None) {
        let automerge::iter::DocItem::Map(entry) = &item.item else { continue };
        if *item.obj == *txs {
            if matches!(entry.value, automerge::ValueRef::Object(ObjType::Map)) {
                if let Ok(id) = Uuid::parse_str(&entry.key) {
                    ids.insert(entry.id(), id);
                }
            }
            continue;
        }
        if current.as_ref().is_none_or(|(obj, _, _)| *obj != item.obj) {
            finish(current.take());
            // Objects nested in a record (only a forged change writes one) are not records.
            if let Some(id) = ids.get(&item.obj) {
                current = Some((item.obj.clone(), *id, HashMap::with_capacity(12)));
            }
        }
        if let Some((_, _, fields)) = current.as_mut() {
            collect_field(fields, &entry.key, &entry.value, entry.conflict);
        }
    }
    finish(current);
}

fn transaction_from<D: ReadDoc>(mut r: FieldReader<'_, D>, id: Uuid) -> Option<Transaction> {
    let kind = r.field("kind", |v| str_of(v).and_then(|s| s.parse::<Kind>().ok()))?;
    let currency = r.field("currency", |v| str_of(v).and_then(Currency::from_code))?;
    let amount = r.field("amount", |v| str_of(v).and_then(|s| s.parse::<Decimal>().ok()))?;
    let date = r.field("date", |v| str_of(v).and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()))?;
    let category_id = r.field("category", parse_uuid)?;
    let payment_method_id = r.field("payment_method", parse_uuid)?;
    let description = r.field("description", |v| str_of(v).map(str::to_string)).unwrap_or_default();
    let notes = r.field("notes", |v| str_of(v).map(str::to_string)).unwrap_or_default();
    let tags = r.field("tags", |v| str_of(v).map(split_tags)).unwrap_or_default();
    let created_at = r.field("created_at", parse_time)?;
    // Another replica's record must obey the rules typed input does; one that does not (only a
    // forged change can write it) is treated as absent.
    let amount = currency.check_amount("amount", amount).ok()?;
    crate::model::check_year("date", date).ok()?;
    let updated_at = r.field("updated_at", parse_time).unwrap_or(created_at);
    // Every edit writes `updated_at`, so concurrent edits always "conflict" on it; that is
    // bookkeeping, not a conflict worth showing.
    r.conflicts.remove("updated_at");
    Some(Transaction {
        id,
        kind,
        amount,
        currency,
        date,
        category_id,
        payment_method_id,
        description,
        notes,
        tags,
        created_at,
        updated_at,
        base_amount: None,
        conflicts: r.conflicts,
    })
}

pub fn read_category(doc: &impl ReadDoc, cats: &ObjId, id: Uuid) -> Option<Category> {
    let obj = child_map(doc, cats, &id.to_string()).ok()??;
    let mut r = FieldReader::new(doc, &obj);
    let kind = r.field("kind", |v| str_of(v).and_then(|s| s.parse::<Kind>().ok()))?;
    let name = r.field("name", |v| str_of(v).map(str::to_string))?;
    Some(Category {
        id,
        name,
        kind,
        color: r.field("color", |v| str_of(v).map(str::to_string)).unwrap_or_else(|| "#757575".into()),
        icon: r.field("icon", |v| str_of(v).map(str::to_string)).unwrap_or_default(),
        archived: r.field("archived", bool_of).unwrap_or(false),
        builtin: is_builtin_category(id),
        deleted: r.field("deleted", bool_of).unwrap_or(false),
        merged_into: r.field("merged_into", parse_uuid),
    })
}

pub fn read_payment_method(doc: &impl ReadDoc, methods: &ObjId, id: Uuid) -> Option<PaymentMethod> {
    let obj = child_map(doc, methods, &id.to_string()).ok()??;
    let mut r = FieldReader::new(doc, &obj);
    Some(PaymentMethod {
        id,
        name: r.field("name", |v| str_of(v).map(str::to_string))?,
        archived: r.field("archived", bool_of).unwrap_or(false),
        builtin: is_builtin_payment_method(id),
    })
}

/// The base currency, if one was ever set.
pub fn read_base_currency(doc: &impl ReadDoc) -> Option<Currency> {
    let settings = container(doc, SETTINGS).ok()?;
    values(doc, &settings, "base_currency").last().and_then(str_of).and_then(Currency::from_code)
}

/// The ids (keys) of a top-level map, skipping keys that are not UUIDs.
pub fn ids(doc: &impl ReadDoc, map: &ObjId) -> Vec<Uuid> {
    doc.keys(map).filter_map(|k| Uuid::parse_str(&k).ok()).collect()
}

pub fn split_tags(s: &str) -> Vec<String> {
    s.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect()
}

// ---- writing ----

/// Writes every field of a transaction into a new map object, in one batch (several times
/// faster than one `put` per field).
pub fn put_transaction(tx: &mut AmTx<'_>, txs: &ObjId, t: &Transaction) -> Result<()> {
    let mut fields: HashMap<String, hydrate::Value> = HashMap::with_capacity(11);
    let mut field = |key: &str, value: ScalarValue| {
        fields.insert(key.to_string(), hydrate::Value::Scalar(value));
    };
    field("kind", t.kind.as_str().into());
    field("amount", t.currency.format(t.amount).into());
    field("currency", t.currency.code().into());
    field("date", t.date.format("%Y-%m-%d").to_string().into());
    field("category", t.category_id.to_string().into());
    field("payment_method", t.payment_method_id.to_string().into());
    field("description", t.description.as_str().into());
    if !t.notes.is_empty() {
        field("notes", t.notes.as_str().into());
    }
    if !t.tags.is_empty() {
        field("tags", t.tags.join(",").into());
    }
    field("created_at", ScalarValue::Timestamp(t.created_at.timestamp_millis()));
    field("updated_at", ScalarValue::Timestamp(t.updated_at.timestamp_millis()));
    tx.batch_create_object(txs, t.id.to_string(), &hydrate::Value::Map(fields.into()), false)?;
    Ok(())
}

/// Writes only the fields of `new` that differ from `old`, so that concurrent edits of other
/// fields on other devices survive the merge.
pub fn update_transaction(tx: &mut AmTx<'_>, txs: &ObjId, old: &Transaction, new: &Transaction) -> Result<bool> {
    let obj = child_map(tx, txs, &old.id.to_string())?
        .ok_or_else(|| Error::NotFound { entity: "transaction", id: old.id.to_string() })?;
    let mut changed = false;
    let mut put = |key: &str, value: ScalarValue| -> Result<()> {
        changed = true;
        tx.put(&obj, key, value)?;
        Ok(())
    };
    if old.kind != new.kind {
        put("kind", new.kind.as_str().into())?;
    }
    if old.amount != new.amount || old.currency != new.currency {
        put("amount", new.currency.format(new.amount).into())?;
    }
    if old.currency != new.currency {
        put("currency", new.currency.code().into())?;
    }
    if old.date != new.date {
        put("date", new.date.format("%Y-%m-%d").to_string().into())?;
    }
    if old.category_id != new.category_id {
        put("category", new.category_id.to_string().into())?;
    }
    if old.payment_method_id != new.payment_method_id {
        put("payment_method", new.payment_method_id.to_string().into())?;
    }
    if old.description != new.description {
        put("description", new.description.as_str().into())?;
    }
    if old.notes != new.notes {
        put("notes", new.notes.as_str().into())?;
    }
    if old.tags != new.tags {
        put("tags", new.tags.join(",").into())?;
    }
    if changed {
        tx.put(&obj, "updated_at", ScalarValue::Timestamp(new.updated_at.timestamp_millis()))?;
    }
    Ok(changed)
}

/// Files a transaction under another category (when its category is deleted).
pub fn set_transaction_category(
    tx: &mut AmTx<'_>,
    txs: &ObjId,
    id: Uuid,
    category: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(obj) = child_map(tx, txs, &id.to_string())? {
        tx.put(&obj, "category", category.to_string())?;
        tx.put(&obj, "updated_at", ScalarValue::Timestamp(now.timestamp_millis()))?;
    }
    Ok(())
}

pub fn put_category(tx: &mut AmTx<'_>, cats: &ObjId, c: &Category) -> Result<()> {
    let obj = tx.put_object(cats, c.id.to_string(), ObjType::Map)?;
    tx.put(&obj, "name", c.name.as_str())?;
    tx.put(&obj, "kind", c.kind.as_str())?;
    tx.put(&obj, "color", c.color.as_str())?;
    tx.put(&obj, "icon", c.icon.as_str())?;
    tx.put(&obj, "archived", c.archived)?;
    if c.deleted {
        tx.put(&obj, "deleted", true)?;
    }
    if let Some(target) = c.merged_into {
        tx.put(&obj, "merged_into", target.to_string())?;
    }
    Ok(())
}

/// Writes the fields of a category that differ (the kind never changes).
pub fn update_category(tx: &mut AmTx<'_>, cats: &ObjId, old: &Category, new: &Category) -> Result<()> {
    let obj = child_map(tx, cats, &old.id.to_string())?
        .ok_or_else(|| Error::NotFound { entity: "category", id: old.id.to_string() })?;
    if old.name != new.name {
        tx.put(&obj, "name", new.name.as_str())?;
    }
    if old.color != new.color {
        tx.put(&obj, "color", new.color.as_str())?;
    }
    if old.icon != new.icon {
        tx.put(&obj, "icon", new.icon.as_str())?;
    }
    if old.archived != new.archived {
        tx.put(&obj, "archived", new.archived)?;
    }
    if old.deleted != new.deleted {
        tx.put(&obj, "deleted", new.deleted)?;
    }
    if old.merged_into != new.merged_into {
        tx.put(&obj, "merged_into", new.merged_into.map(|u| u.to_string()).unwrap_or_default())?;
    }
    Ok(())
}

pub fn put_payment_method(tx: &mut AmTx<'_>, methods: &ObjId, m: &PaymentMethod) -> Result<()> {
    match child_map(tx, methods, &m.id.to_string())? {
        Some(obj) => {
            let old = read_payment_method(tx, methods, m.id);
            if old.as_ref().map(|o| &o.name) != Some(&m.name) {
                tx.put(&obj, "name", m.name.as_str())?;
            }
            if old.as_ref().map(|o| o.archived) != Some(m.archived) {
                tx.put(&obj, "archived", m.archived)?;
            }
        }
        None => {
            let obj = tx.put_object(methods, m.id.to_string(), ObjType::Map)?;
            tx.put(&obj, "name", m.name.as_str())?;
            tx.put(&obj, "archived", m.archived)?;
        }
    }
    Ok(())
}

pub fn put_base_currency(tx: &mut AmTx<'_>, currency: Currency) -> Result<()> {
    let settings = container(tx, SETTINGS)?;
    tx.put(&settings, "base_currency", currency.code())?;
    Ok(())
}

// ---- exchange rates ----

/// The rates one entry of the `rates` map holds; empty if the key or value is malformed
/// (only a forged change writes one).
pub fn read_rate_entry(doc: &impl ReadDoc, rates: &ObjId, key: &str) -> Vec<Rate> {
    let Some(parsed) = RateKey::parse(key) else { return Vec::new() };
    let Some(text) = values(doc, rates, key).last().and_then(|v| str_of(v).map(str::to_string)) else {
        return Vec::new();
    };
    match parsed {
        RateKey::Ecb(date) => crate::rates::parse_ecb_day_text(&text)
            .into_iter()
            .filter(|(c, _)| *c != crate::rates::euro())
            .map(|(to, rate)| Rate { from: crate::rates::euro(), to, date, rate, source: RateSource::Ecb })
            .collect(),
        RateKey::Manual { from, to, date } => match crate::rates::parse_rate("rate", &text) {
            Ok(rate) => vec![Rate { from, to, date, rate, source: RateSource::Manual }],
            Err(_) => Vec::new(),
        },
    }
}

/// The keys of the `rates` map.
pub fn rate_keys(doc: &impl ReadDoc, rates: &ObjId) -> Vec<String> {
    doc.keys(rates).collect()
}

/// Writes one day of the ECB's rates; returns whether it changed anything.
pub fn put_ecb_day(tx: &mut AmTx<'_>, rates: &ObjId, day: &crate::rates::EcbDay) -> Result<bool> {
    let key = RateKey::Ecb(day.date).to_string();
    let text = crate::rates::ecb_day_text(&day.rates);
    if values(tx, rates, &key).last().and_then(str_of) == Some(text.as_str()) {
        return Ok(false);
    }
    tx.put(rates, key, text)?;
    Ok(true)
}

/// Writes a manual rate ("1 from = rate to" on its date); returns its key, or `None` when the
/// ledger holds that rate already.
pub fn put_manual_rate(tx: &mut AmTx<'_>, rates: &ObjId, rate: &Rate) -> Result<Option<String>> {
    let key = RateKey::Manual { from: rate.from, to: rate.to, date: rate.date }.to_string();
    let text = rate.rate.normalize().to_string();
    if values(tx, rates, &key).last().and_then(str_of) == Some(text.as_str()) {
        return Ok(None);
    }
    tx.put(rates, &key, text)?;
    Ok(Some(key))
}

// ---- budgets and recurring rules ----

fn date_of(v: &ScalarValue) -> Option<NaiveDate> {
    str_of(v).and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn u32_of(v: &ScalarValue) -> Option<u32> {
    int_of(v).and_then(|i| u32::try_from(i).ok())
}

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The key of one alert in a budget's `alerts` map.
pub fn alert_key(period_start: NaiveDate, threshold: u32) -> String {
    format!("{}:{threshold}", day_text(period_start))
}

/// Reads a budget and the alerts raised for it. `None` if absent or malformed.
pub fn read_budget(doc: &impl ReadDoc, budgets: &ObjId, id: Uuid) -> Option<(Budget, Vec<StoredAlert>)> {
    let obj = child_map(doc, budgets, &id.to_string()).ok()??;
    let mut r = FieldReader::new(doc, &obj);
    let currency = r.field("currency", |v| str_of(v).and_then(Currency::from_code))?;
    let amount = r.field("amount", |v| str_of(v).and_then(|s| s.parse::<Decimal>().ok()))?;
    let amount = currency.check_amount("amount", amount).ok()?;
    let period = r.field("period", |v| str_of(v).and_then(BudgetPeriod::parse))?;
    let start = r.field("start", date_of)?;
    crate::model::check_year("start", start).ok()?;
    let created_at = r.field("created_at", parse_time)?;
    let budget = Budget {
        id,
        name: r.field("name", |v| str_of(v).map(str::to_string)).unwrap_or_default(),
        category_id: r.field("category", parse_uuid),
        period,
        amount,
        currency,
        start: period.start_of(start),
        rollover: r.field("rollover", bool_of).unwrap_or(false),
        thresholds: r
            .field("thresholds", |v| str_of(v).map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect()))
            .unwrap_or_default(),
        created_at,
        updated_at: r.field("updated_at", parse_time).unwrap_or(created_at),
    };
    let mut alerts = Vec::new();
    if let Some(map) = child_map(doc, &obj, "alerts").ok().flatten() {
        for key in doc.keys(&map) {
            let Some((start, threshold)) = key.split_once(':') else { continue };
            let (Ok(period_start), Ok(threshold)) = (NaiveDate::parse_from_str(start, "%Y-%m-%d"), threshold.parse())
            else {
                continue;
            };
            // Only a forged change writes a period outside the years a ledger holds.
            if crate::model::check_year("period_start", period_start).is_err() {
                continue;
            }
            let Some(alert) = child_map(doc, &map, &key).ok().flatten() else { continue };
            let mut a = FieldReader::new(doc, &alert);
            let money = |v: &ScalarValue| str_of(v).and_then(|s| s.parse::<Decimal>().ok());
            let (Some(spent), Some(limit), Some(raised_at)) =
                (a.field("spent", money), a.field("limit", money), a.field("at", parse_time))
            else {
                continue;
            };
            alerts.push(StoredAlert {
                period_start,
                threshold,
                spent,
                limit,
                raised_at,
                dismissed: a.field("dismissed", bool_of).unwrap_or(false),
            });
        }
    }
    alerts.sort_by_key(|a| (a.period_start, a.threshold));
    Some((budget, alerts))
}

pub fn put_budget(tx: &mut AmTx<'_>, budgets: &ObjId, b: &Budget) -> Result<()> {
    let obj = tx.put_object(budgets, b.id.to_string(), ObjType::Map)?;
    tx.put(&obj, "name", b.name.as_str())?;
    if let Some(category) = b.category_id {
        tx.put(&obj, "category", category.to_string())?;
    }
    tx.put(&obj, "period", b.period.as_str())?;
    tx.put(&obj, "amount", b.currency.format(b.amount))?;
    tx.put(&obj, "currency", b.currency.code())?;
    tx.put(&obj, "start", day_text(b.start))?;
    tx.put(&obj, "rollover", b.rollover)?;
    tx.put(&obj, "thresholds", join_numbers(&b.thresholds))?;
    tx.put(&obj, "created_at", ScalarValue::Timestamp(b.created_at.timestamp_millis()))?;
    tx.put(&obj, "updated_at", ScalarValue::Timestamp(b.updated_at.timestamp_millis()))?;
    tx.put_object(&obj, "alerts", ObjType::Map)?;
    Ok(())
}

fn join_numbers(values: &[u32]) -> String {
    values.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Writes the fields of a budget that differ.
pub fn update_budget(tx: &mut AmTx<'_>, budgets: &ObjId, old: &Budget, new: &Budget) -> Result<()> {
    let obj = child_map(tx, budgets, &old.id.to_string())?
        .ok_or_else(|| Error::NotFound { entity: "budget", id: old.id.to_string() })?;
    if old.name != new.name {
        tx.put(&obj, "name", new.name.as_str())?;
    }
    if old.amount != new.amount {
        tx.put(&obj, "amount", new.currency.format(new.amount))?;
    }
    if old.rollover != new.rollover {
        tx.put(&obj, "rollover", new.rollover)?;
    }
    if old.thresholds != new.thresholds {
        tx.put(&obj, "thresholds", join_numbers(&new.thresholds))?;
    }
    tx.put(&obj, "updated_at", ScalarValue::Timestamp(new.updated_at.timestamp_millis()))?;
    Ok(())
}

/// Records an alert under its key; two devices raising the same one write the same key.
pub fn put_alert(
    tx: &mut AmTx<'_>,
    budgets: &ObjId,
    budget: Uuid,
    alert: &StoredAlert,
    currency: Currency,
) -> Result<bool> {
    let Some(obj) = child_map(tx, budgets, &budget.to_string())? else { return Ok(false) };
    let Some(alerts) = child_map(tx, &obj, "alerts")? else { return Ok(false) };
    let a = tx.put_object(&alerts, alert_key(alert.period_start, alert.threshold), ObjType::Map)?;
    tx.put(&a, "spent", currency.format(alert.spent))?;
    tx.put(&a, "limit", currency.format(alert.limit))?;
    tx.put(&a, "at", ScalarValue::Timestamp(alert.raised_at.timestamp_millis()))?;
    Ok(true)
}

pub fn dismiss_alert(tx: &mut AmTx<'_>, budgets: &ObjId, budget: Uuid, key: &str) -> Result<bool> {
    let Some(obj) = child_map(tx, budgets, &budget.to_string())? else { return Ok(false) };
    let Some(alerts) = child_map(tx, &obj, "alerts")? else { return Ok(false) };
    let Some(a) = child_map(tx, &alerts, key)? else { return Ok(false) };
    tx.put(&a, "dismissed", true)?;
    Ok(true)
}

/// Reads a recurring rule and what was done with its occurrences. `None` if absent or
/// malformed.
pub fn read_rule(doc: &impl ReadDoc, rules: &ObjId, id: Uuid) -> Option<(RecurringRule, BTreeMap<NaiveDate, Done>)> {
    let obj = child_map(doc, rules, &id.to_string()).ok()??;
    let mut r = FieldReader::new(doc, &obj);
    let kind = r.field("kind", |v| str_of(v).and_then(|s| s.parse::<Kind>().ok()))?;
    let currency = r.field("currency", |v| str_of(v).and_then(Currency::from_code))?;
    let amount = r.field("amount", |v| str_of(v).and_then(|s| s.parse::<Decimal>().ok()))?;
    let amount = currency.check_amount("amount", amount).ok()?;
    let start = r.field("start", date_of)?;
    crate::model::check_year("start", start).ok()?;
    let created_at = r.field("created_at", parse_time)?;
    let rule = RecurringRule {
        id,
        kind,
        amount,
        currency,
        category_id: r.field("category", parse_uuid)?,
        payment_method_id: r.field("payment_method", parse_uuid)?,
        description: r.field("description", |v| str_of(v).map(str::to_string)).unwrap_or_default(),
        notes: r.field("notes", |v| str_of(v).map(str::to_string)).unwrap_or_default(),
        tags: r.field("tags", |v| str_of(v).map(split_tags)).unwrap_or_default(),
        frequency: r.field("frequency", |v| str_of(v).and_then(Frequency::parse))?,
        interval: r.field("interval", u32_of).filter(|i| *i > 0)?,
        day: r.field("day", u32_of).filter(|d| *d > 0),
        month: r.field("month", u32_of).filter(|m| *m > 0),
        start,
        end: r.field("end", date_of),
        count: r.field("count", u32_of).filter(|c| *c > 0),
        auto: r.field("auto", bool_of).unwrap_or(true),
        remind_days: r.field("remind_days", u32_of).unwrap_or(0),
        next_due: None,
        created_at,
        updated_at: r.field("updated_at", parse_time).unwrap_or(created_at),
    };
    crate::plans::check_schedule(&rule).ok()?;
    let mut done = BTreeMap::new();
    if let Some(map) = child_map(doc, &obj, "done").ok().flatten() {
        for item in doc.map_range(&map, ..) {
            let Ok(date) = NaiveDate::parse_from_str(&item.key, "%Y-%m-%d") else { continue };
            let what = match &item.value {
                automerge::ValueRef::Scalar(v) => str_of(&ScalarValue::from(v)).and_then(Done::parse),
                automerge::ValueRef::Object(_) => None,
            };
            if let Some(what) = what {
                done.insert(date, what);
            }
        }
    }
    Some((rule, done))
}

/// Writes every field of a new rule, and its empty `done` map.
pub fn put_rule(tx: &mut AmTx<'_>, rules: &ObjId, rule: &RecurringRule) -> Result<()> {
    let obj = tx.put_object(rules, rule.id.to_string(), ObjType::Map)?;
    for (key, value) in rule_fields(rule) {
        if let Some(value) = value {
            tx.put(&obj, key, value)?;
        }
    }
    tx.put(&obj, "created_at", ScalarValue::Timestamp(rule.created_at.timestamp_millis()))?;
    tx.put(&obj, "updated_at", ScalarValue::Timestamp(rule.updated_at.timestamp_millis()))?;
    tx.put_object(&obj, "done", ObjType::Map)?;
    Ok(())
}

/// Every editable field of a rule as the document stores it (`None`: absent).
fn rule_fields(r: &RecurringRule) -> Vec<(&'static str, Option<ScalarValue>)> {
    vec![
        ("kind", Some(r.kind.as_str().into())),
        ("amount", Some(r.currency.format(r.amount).into())),
        ("currency", Some(r.currency.code().into())),
        ("category", Some(r.category_id.to_string().into())),
        ("payment_method", Some(r.payment_method_id.to_string().into())),
        ("description", Some(r.description.as_str().into())),
        ("notes", (!r.notes.is_empty()).then(|| r.notes.as_str().into())),
        ("tags", (!r.tags.is_empty()).then(|| r.tags.join(",").into())),
        ("frequency", Some(r.frequency.as_str().into())),
        ("interval", Some(ScalarValue::Uint(r.interval.into()))),
        ("day", r.day.map(|d| ScalarValue::Uint(d.into()))),
        ("month", r.month.map(|m| ScalarValue::Uint(m.into()))),
        ("start", Some(day_text(r.start).into())),
        ("end", r.end.map(|d| day_text(d).into())),
        ("count", r.count.map(|c| ScalarValue::Uint(c.into()))),
        ("auto", Some(r.auto.into())),
        ("remind_days", Some(ScalarValue::Uint(r.remind_days.into()))),
    ]
}

/// Writes the fields of a rule that differ; a field that became empty is removed.
pub fn update_rule(tx: &mut AmTx<'_>, rules: &ObjId, old: &RecurringRule, new: &RecurringRule) -> Result<()> {
    let obj = child_map(tx, rules, &old.id.to_string())?
        .ok_or_else(|| Error::NotFound { entity: "recurring rule", id: old.id.to_string() })?;
    for ((key, before), (_, after)) in rule_fields(old).into_iter().zip(rule_fields(new)) {
        if before == after {
            continue;
        }
        match after {
            Some(value) => tx.put(&obj, key, value)?,
            None => tx.delete(&obj, key)?,
        }
    }
    tx.put(&obj, "updated_at", ScalarValue::Timestamp(new.updated_at.timestamp_millis()))?;
    Ok(())
}

/// Records that an occurrence was booked or skipped.
pub fn put_done(tx: &mut AmTx<'_>, rules: &ObjId, rule: Uuid, due: NaiveDate, what: Done) -> Result<()> {
    let obj = child_map(tx, rules, &rule.to_string())?
        .ok_or_else(|| Error::NotFound { entity: "recurring rule", id: rule.to_string() })?;
    let done = match child_map(tx, &obj, "done")? {
        Some(done) => done,
        None => return Err(Error::BadChange(format!("recurring rule {rule} has no \"done\" map"))),
    };
    tx.put(&done, day_text(due), what.as_str())?;
    Ok(())
}

/// The id of the transaction an occurrence books: the same on every device, so two devices
/// booking one occurrence offline write one transaction.
pub fn occurrence_id(rule: Uuid, due: NaiveDate) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("occurrence:{rule}:{}", day_text(due)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_byte_identical_and_frozen() {
        let a = genesis();
        let b = genesis();
        assert_eq!(a.get_heads(), b.get_heads());
        assert_eq!(a.save(), b.save());
        // The genesis may never change: ledgers created by every past version must merge.
        assert_eq!(
            a.get_heads()[0].to_string(),
            "a62fd883082acaecb59aa65dfe933b6374de32896a407b82369728e95e848124",
            "the genesis change changed; it is frozen forever"
        );
    }

    #[test]
    fn default_ids_are_stable() {
        assert_eq!(default_category_id(Kind::Expense, "food").to_string(), "5215f721-d9ba-56e6-acc8-c32be58adcd4");
        assert_ne!(default_category_id(Kind::Expense, "other"), default_category_id(Kind::Income, "other"));
    }

    /// Device `a` and a second device forked from it write `key` of `obj` at once; `a` merges.
    fn concurrent_puts(a: &mut Automerge, obj: &ObjId, key: &str, mine: &str, theirs: &str) {
        let mut b = a.fork().with_actor(ActorId::from(&[2u8; 16][..]));
        let mut tx = a.transaction();
        tx.put(obj, key, mine).unwrap();
        tx.commit();
        let mut tx = b.transaction();
        tx.put(obj, key, theirs).unwrap();
        tx.commit();
        a.merge(&mut b).unwrap();
    }

    #[test]
    fn conflict_winner_is_the_last_value() {
        let mut a = genesis();
        a.set_actor(ActorId::from(&[1u8; 16][..]));
        let settings = container(&a, SETTINGS).unwrap();
        concurrent_puts(&mut a, &settings, "base_currency", "EUR", "USD");
        let winner = a.get(&settings, "base_currency").unwrap().unwrap().0.into_string().unwrap();
        let all = values(&a, &settings, "base_currency");
        assert_eq!(all.len(), 2);
        assert_eq!(str_of(all.last().unwrap()).unwrap(), winner);
    }

    fn record(n: u8) -> Transaction {
        let at = DateTime::from_timestamp_millis(1_700_000_000_000 + i64::from(n)).unwrap();
        Transaction {
            id: Uuid::from_bytes([n; 16]),
            kind: Kind::Expense,
            amount: Decimal::new(1250, 2),
            currency: Currency::from_code("EUR").unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 11, u32::from(n)).unwrap(),
            category_id: default_category_id(Kind::Expense, "food"),
            payment_method_id: Uuid::from_bytes([9; 16]),
            description: format!("record {n}"),
            notes: if n == 2 { "with notes".into() } else { String::new() },
            tags: if n == 3 { vec!["a".into(), "b".into()] } else { Vec::new() },
            created_at: at,
            updated_at: at,
            base_amount: None,
            conflicts: BTreeMap::new(),
        }
    }

    #[test]
    fn one_pass_over_the_transactions_reads_what_reading_each_record_reads() {
        let mut a = genesis();
        a.set_actor(ActorId::from(&[1u8; 16][..]));
        let txs = container(&a, TRANSACTIONS).unwrap();
        let mut tx = a.transaction();
        for n in 1..=5 {
            put_transaction(&mut tx, &txs, &record(n)).unwrap();
        }
        // What only a forged change writes: a key that is no id, an id that is no map, an
        // object inside a record, a record without its amount.
        let junk = tx.put_object(&txs, "not-an-id", ObjType::Map).unwrap();
        tx.put(&junk, "amount", "1.00").unwrap();
        tx.put(&txs, Uuid::from_bytes([7; 16]).to_string(), "a scalar").unwrap();
        let second = child_map(&tx, &txs, &Uuid::from_bytes([2; 16]).to_string()).unwrap().unwrap();
        let nested = tx.put_object(&second, "extra", ObjType::Map).unwrap();
        tx.put(&nested, "amount", "99.00").unwrap();
        let fourth = child_map(&tx, &txs, &Uuid::from_bytes([4; 16]).to_string()).unwrap().unwrap();
        tx.delete(&fourth, "amount").unwrap();
        tx.commit();
        // Two devices edit the first record's amount at once: a conflict.
        let first = child_map(&a, &txs, &Uuid::from_bytes([1; 16]).to_string()).unwrap().unwrap();
        concurrent_puts(&mut a, &first, "amount", "13.00", "14.00");

        let mut one_pass = Vec::new();
        each_transaction(&a, &txs, |t| one_pass.push(t));
        one_pass.sort_by_key(|t| t.id);
        let each: Vec<Transaction> =
            ids(&a, &txs).into_iter().filter_map(|id| read_transaction(&a, &txs, id)).collect();
        assert_eq!(one_pass, each);
        let found: Vec<u8> = one_pass.iter().map(|t| t.id.as_bytes()[0]).collect();
        assert_eq!(found, [1, 2, 3, 5]);
        assert_eq!(one_pass[0].conflicts.get("amount").map(Vec::len), Some(1));
        assert_eq!(one_pass[2].tags, ["a", "b"]);
    }
}
