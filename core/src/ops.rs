//! Writes: every user action that changes the ledger. Each validates its input against the
//! view first, then makes one automerge change that the store commits with its view rows.
//! Ids and the current time are passed in; nothing here reads a clock or draws randomness.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::doc;
use crate::error::{Error, Result};
use crate::model::{
    self, Category, CategoryPatch, Kind, NewCategory, NewTransaction, PaymentMethod, Transaction, TransactionPatch,
};
use crate::money::Currency;
use crate::query::{pick_category, pick_payment_method};
use crate::store::Store;
use crate::view::Touched;

impl Store {
    /// Books a new expense or income.
    pub fn add_transaction(&mut self, input: &NewTransaction, id: Uuid, now: DateTime<Utc>) -> Result<Transaction> {
        let t = self.lookup()?.validate_new(input, id, now)?;
        if self.transaction_exists(id)? {
            return Err(Error::invalid("id", format!("a transaction {id} already exists")));
        }
        self.commit(now, |tx, c| {
            doc::put_transaction(tx, &c.transactions, &t)?;
            Ok(((), Touched { created: vec![t.clone()], ..Touched::default() }))
        })?;
        self.stored_transaction(id)
    }

    /// Books many transactions in one change (imports, bulk entry). All or nothing.
    pub fn add_transactions(&mut self, inputs: &[(Uuid, NewTransaction)], now: DateTime<Utc>) -> Result<usize> {
        let lookup = self.lookup()?;
        let mut ids = std::collections::HashSet::with_capacity(inputs.len());
        for (i, (id, _)) in inputs.iter().enumerate() {
            if !ids.insert(*id) || self.transaction_exists(*id)? {
                return Err(Error::invalid(
                    format!("transaction #{}: id", i + 1),
                    format!("a transaction {id} already exists"),
                ));
            }
        }
        let mut txs = Vec::with_capacity(inputs.len());
        for (i, (id, input)) in inputs.iter().enumerate() {
            let t = lookup.validate_new(input, *id, now).map_err(|e| match e {
                Error::Invalid { field, message } => {
                    Error::invalid(format!("transaction #{}: {field}", i + 1), message)
                }
                other => other,
            })?;
            txs.push(t);
        }
        let count = txs.len();
        self.add_checked(txs, now)?;
        Ok(count)
    }

    /// Books transactions validated already (`Lookup::validate_new`) in one change. One whose
    /// id the document has meanwhile (another process booked it) is left as it is. Returns
    /// how many were booked.
    pub(crate) fn add_checked(&mut self, txs: Vec<Transaction>, now: DateTime<Utc>) -> Result<usize> {
        self.commit(now, |tx, c| {
            let mut created = Vec::with_capacity(txs.len());
            for t in txs {
                if doc::child_map(tx, &c.transactions, &t.id.to_string())?.is_none() {
                    doc::put_transaction(tx, &c.transactions, &t)?;
                    created.push(t);
                }
            }
            Ok((created.len(), Touched { created, ..Touched::default() }))
        })
    }

    /// Changes some fields of a transaction; fields left out stay as they are.
    pub fn edit_transaction(&mut self, id: Uuid, patch: &TransactionPatch, now: DateTime<Utc>) -> Result<Transaction> {
        let current =
            self.transaction(id)?.ok_or_else(|| Error::NotFound { entity: "transaction", id: id.to_string() })?;
        let kind = patch.kind.unwrap_or(current.kind);
        let currency = match &patch.currency {
            Some(code) => model::parse_currency("currency", code)?,
            None => current.currency,
        };
        let amount = match &patch.amount {
            Some(text) => currency.parse_amount("amount", text)?,
            None => currency.check_amount("amount", current.amount)?,
        };
        let date = match &patch.date {
            Some(text) => model::parse_date("date", text)?,
            None => current.date,
        };
        let category_id = match &patch.category {
            Some(text) => self.lookup()?.usable_category(kind, text)?.id,
            None if kind != current.kind => {
                return Err(Error::invalid("category", format!("choose a {kind} category when changing the kind")));
            }
            None => current.category_id,
        };
        let payment_method_id = match &patch.payment_method {
            Some(text) => self.find_payment_method(text)?.id,
            None => current.payment_method_id,
        };
        let description = match &patch.description {
            Some(text) => model::check_text("description", text, model::MAX_DESCRIPTION, false)?,
            None => current.description.clone(),
        };
        let notes = match &patch.notes {
            Some(text) => model::check_text("notes", text, model::MAX_NOTES, false)?,
            None => current.notes.clone(),
        };
        let tags = match &patch.tags {
            Some(tags) => model::check_tags(tags)?,
            None => current.tags.clone(),
        };
        let updated = Transaction {
            kind,
            amount,
            currency,
            date,
            category_id,
            payment_method_id,
            description,
            notes,
            tags,
            updated_at: now,
            ..current
        };
        self.commit(now, |tx, c| {
            // Compare with the document's record, not the view's: the view resolves deleted
            // categories, the document keeps the reference as written.
            let old = doc::read_transaction(tx, &c.transactions, id)
                .ok_or_else(|| Error::NotFound { entity: "transaction", id: id.to_string() })?;
            let new = Transaction { created_at: old.created_at, ..updated.clone() };
            doc::update_transaction(tx, &c.transactions, &old, &new)?;
            Ok(((), Touched { transactions: vec![id], ..Touched::default() }))
        })?;
        self.stored_transaction(id)
    }

    /// Deletes a transaction and returns it, so the caller can offer to undo.
    pub fn delete_transaction(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<Transaction> {
        let current =
            self.transaction(id)?.ok_or_else(|| Error::NotFound { entity: "transaction", id: id.to_string() })?;
        self.commit(now, |tx, c| {
            automerge::transaction::Transactable::delete(tx, &c.transactions, id.to_string())?;
            Ok(((), Touched { transactions: vec![id], ..Touched::default() }))
        })?;
        Ok(current)
    }

    /// Puts back a deleted transaction exactly as it was (undo).
    pub fn restore_transaction(&mut self, t: &Transaction, now: DateTime<Utc>) -> Result<Transaction> {
        if self.transaction(t.id)?.is_some() {
            return Err(Error::invalid("id", format!("transaction {} exists", t.id)));
        }
        let categories: Vec<Uuid> = self.all_categories()?.into_iter().map(|c| c.id).collect();
        let methods: Vec<Uuid> = self.payment_methods(true)?.into_iter().map(|m| m.id).collect();
        let t = model::check_record(t, "", |id| categories.contains(&id), |id| methods.contains(&id))?;
        self.commit(now, |tx, c| {
            doc::put_transaction(tx, &c.transactions, &t)?;
            Ok(((), Touched { created: vec![t.clone()], ..Touched::default() }))
        })?;
        self.stored_transaction(t.id)
    }

    pub fn add_category(&mut self, input: &NewCategory, id: Uuid, now: DateTime<Utc>) -> Result<Category> {
        let kind = input.kind.ok_or_else(|| Error::invalid("kind", "is required (expense or income)"))?;
        let name = model::check_text("name", &input.name, model::MAX_NAME, true)?;
        self.check_unique_name(kind, &name, None)?;
        let category = Category {
            id,
            name,
            kind,
            color: model::check_color(input.color.as_deref().unwrap_or("#607d8b"))?,
            icon: model::check_text("icon", input.icon.as_deref().unwrap_or(""), model::MAX_ICON, false)?,
            archived: false,
            builtin: false,
            deleted: false,
            merged_into: None,
        };
        if self.category(id)?.is_some() {
            return Err(Error::invalid("id", format!("a category {id} already exists")));
        }
        self.commit(now, |tx, c| {
            doc::put_category(tx, &c.categories, &category)?;
            Ok(((), Touched { categories: vec![id], ..Touched::default() }))
        })?;
        self.live_category(id)
    }

    /// Renames, recolours, changes the icon of, archives or unarchives a category.
    pub fn edit_category(&mut self, id: Uuid, patch: &CategoryPatch, now: DateTime<Utc>) -> Result<Category> {
        let old = self.live_category(id)?;
        let mut new = old.clone();
        if let Some(name) = &patch.name {
            new.name = model::check_text("name", name, model::MAX_NAME, true)?;
            self.check_unique_name(old.kind, &new.name, Some(id))?;
        }
        if let Some(color) = &patch.color {
            new.color = model::check_color(color)?;
        }
        if let Some(icon) = &patch.icon {
            new.icon = model::check_text("icon", icon, model::MAX_ICON, false)?;
        }
        if let Some(archived) = patch.archived {
            new.archived = archived;
        }
        self.commit(now, |tx, c| {
            doc::update_category(tx, &c.categories, &old, &new)?;
            Ok(((), Touched { categories: vec![id], ..Touched::default() }))
        })?;
        self.live_category(id)
    }

    /// Deletes a category. Its transactions move to `move_to` (a live category of the same
    /// kind); without one, deleting a category in use is refused. Returns how many moved.
    pub fn delete_category(&mut self, id: Uuid, move_to: Option<Uuid>, now: DateTime<Utc>) -> Result<u64> {
        let old = self.live_category(id)?;
        if old.id == doc::fallback_category(old.kind) {
            return Err(Error::invalid(
                "category",
                format!(
                    "\"{}\" catches transactions whose category is gone and cannot be deleted; archive it instead",
                    old.name
                ),
            ));
        }
        let count = self.category_usage(id)?;
        let target = match move_to {
            Some(target) if target == id => {
                return Err(Error::invalid("move_to", "cannot move transactions into the category being deleted"))
            }
            Some(target) => {
                let t = self
                    .live_category(target)
                    .map_err(|_| Error::invalid("move_to", format!("no category {target}")))?;
                if t.kind != old.kind {
                    return Err(Error::invalid("move_to", format!("\"{}\" is not an {} category", t.name, old.kind)));
                }
                Some(t.id)
            }
            None if count > 0 => return Err(Error::CategoryInUse { name: old.name.clone(), count }),
            None => None,
        };
        let moved = self.transaction_ids_in_category(id)?;
        let new = Category { deleted: true, merged_into: target, ..old.clone() };
        self.commit(now, |tx, c| {
            if let Some(target) = target {
                for tx_id in &moved {
                    doc::set_transaction_category(tx, &c.transactions, *tx_id, target, now)?;
                }
            }
            doc::update_category(tx, &c.categories, &old, &new)?;
            Ok(((), Touched { categories: vec![id], transactions: moved.clone(), ..Touched::default() }))
        })?;
        Ok(moved.len() as u64)
    }

    pub fn add_payment_method(&mut self, name: &str, id: Uuid, now: DateTime<Utc>) -> Result<PaymentMethod> {
        let name = model::check_text("name", name, model::MAX_NAME, true)?;
        if self.payment_methods(true)?.iter().any(|m| m.name.eq_ignore_ascii_case(&name)) {
            return Err(Error::invalid("name", format!("a payment method {name:?} already exists")));
        }
        let method = PaymentMethod { id, name, archived: false, builtin: false };
        self.commit(now, |tx, c| {
            doc::put_payment_method(tx, &c.payment_methods, &method)?;
            Ok(((), Touched { payment_methods: vec![id], ..Touched::default() }))
        })?;
        Ok(method)
    }

    pub fn edit_payment_method(
        &mut self,
        id: Uuid,
        name: Option<&str>,
        archived: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<PaymentMethod> {
        let all = self.payment_methods(true)?;
        let old = all
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::NotFound { entity: "payment method", id: id.to_string() })?;
        let mut new = old.clone();
        if let Some(name) = name {
            new.name = model::check_text("name", name, model::MAX_NAME, true)?;
            if all.iter().any(|m| m.id != id && m.name.eq_ignore_ascii_case(&new.name)) {
                return Err(Error::invalid("name", format!("a payment method {:?} already exists", new.name)));
            }
        }
        if let Some(archived) = archived {
            new.archived = archived;
        }
        self.commit(now, |tx, c| {
            doc::put_payment_method(tx, &c.payment_methods, &new)?;
            Ok(((), Touched { payment_methods: vec![id], ..Touched::default() }))
        })?;
        Ok(new)
    }

    pub fn set_base_currency(&mut self, code: &str, now: DateTime<Utc>) -> Result<()> {
        let currency = model::parse_currency("base_currency", code)?;
        self.commit(now, |tx, _| {
            doc::put_base_currency(tx, currency)?;
            Ok(((), Touched { settings: true, ..Touched::default() }))
        })
    }

    // ---- helpers ----

    /// What validating new transactions needs, read from the view once.
    pub(crate) fn lookup(&self) -> Result<Lookup> {
        Ok(Lookup {
            base_currency: self.settings()?.base_currency,
            categories: self.categories(true)?,
            payment_methods: self.payment_methods(true)?,
        })
    }

    fn live_category(&self, id: Uuid) -> Result<Category> {
        self.category(id)?
            .filter(|c| !c.deleted)
            .ok_or_else(|| Error::NotFound { entity: "category", id: id.to_string() })
    }

    fn check_unique_name(&self, kind: Kind, name: &str, except: Option<Uuid>) -> Result<()> {
        let taken = self
            .categories(true)?
            .iter()
            .any(|c| c.kind == kind && Some(c.id) != except && c.name.eq_ignore_ascii_case(name));
        if taken {
            return Err(Error::invalid("name", format!("an {kind} category named {name:?} already exists")));
        }
        Ok(())
    }

    fn stored_transaction(&self, id: Uuid) -> Result<Transaction> {
        self.transaction(id)?.ok_or_else(|| Error::NotFound { entity: "transaction", id: id.to_string() })
    }

    fn transaction_ids_in_category(&self, id: Uuid) -> Result<Vec<Uuid>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM transactions WHERE category = (SELECT no FROM categories WHERE id = ?1)")?;
        let rows = stmt.query_map([id.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(u) = Uuid::from_slice(&row?) {
                out.push(u);
            }
        }
        Ok(out)
    }
}

pub(crate) struct Lookup {
    base_currency: Currency,
    categories: Vec<Category>,
    payment_methods: Vec<PaymentMethod>,
}

impl Lookup {
    pub(crate) fn validate_new(&self, input: &NewTransaction, id: Uuid, now: DateTime<Utc>) -> Result<Transaction> {
        let kind = input.kind.ok_or_else(|| Error::invalid("kind", "is required (expense or income)"))?;
        let currency: Currency = match &input.currency {
            Some(code) if !code.trim().is_empty() => model::parse_currency("currency", code)?,
            _ => self.base_currency,
        };
        let amount = currency.parse_amount("amount", &input.amount)?;
        let date = model::parse_date("date", &input.date)?;
        if input.category.trim().is_empty() {
            return Err(Error::invalid("category", "is required"));
        }
        let category = self.usable_category(kind, &input.category)?;
        let payment_method = match &input.payment_method {
            Some(text) if !text.trim().is_empty() => pick_payment_method(&self.payment_methods, text)?,
            _ => pick_payment_method(&self.payment_methods, &doc::default_payment_method_id("other").to_string())?,
        };
        Ok(Transaction {
            id,
            kind,
            amount,
            currency,
            date,
            category_id: category.id,
            payment_method_id: payment_method.id,
            description: model::check_text("description", &input.description, model::MAX_DESCRIPTION, false)?,
            notes: model::check_text("notes", &input.notes, model::MAX_NOTES, false)?,
            tags: model::check_tags(&input.tags)?,
            created_at: now,
            updated_at: now,
            base_amount: None,
            conflicts: Default::default(),
        })
    }

    /// A category new transactions of `kind` may be filed under.
    fn usable_category(&self, kind: Kind, name_or_id: &str) -> Result<Category> {
        let category = pick_category(&self.categories, Some(kind), name_or_id)?;
        if category.kind != kind {
            return Err(Error::invalid(
                "category",
                format!("\"{}\" is an {} category, not an {kind} one", category.name, category.kind),
            ));
        }
        if category.archived {
            return Err(Error::invalid("category", format!("\"{}\" is archived; unarchive it first", category.name)));
        }
        Ok(category)
    }
}
