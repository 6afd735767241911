//! The whole ledger as one JSON file, and restoring from it exactly.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::doc;
use crate::error::{Error, Result};
use crate::model::{self, Category, PaymentMethod, Settings, Transaction};
use crate::query::{Filter, PageRequest, Sort, SortBy, MAX_PAGE};
use crate::rates::{self, EcbDay, Rate, RateKey, RateSource};
use crate::store::Store;
use crate::view::Touched;

pub const BACKUP_FORMAT: &str = "expenso-backup";
pub const BACKUP_VERSION: u32 = 1;

/// The whole ledger: what `expenso export` writes and `expenso import` reads.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// `expenso-backup`.
    pub format: String,
    pub version: u32,
    pub settings: Settings,
    /// Deleted categories are included so that a restore resolves references identically.
    pub categories: Vec<Category>,
    pub payment_methods: Vec<PaymentMethod>,
    pub transactions: Vec<Transaction>,
    /// Manual exchange rates.
    #[serde(default)]
    pub rates: Vec<Rate>,
    /// The days of ECB reference rates the ledger holds: date → `USD=1.0921 JPY=158.08 …`
    /// (units per euro).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, String>))]
    pub ecb_rates: BTreeMap<NaiveDate, String>,
}

/// What a restore read: the records of each kind in the backup (those already in the ledger
/// with the same values included; they change nothing).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestoreSummary {
    pub categories: usize,
    pub payment_methods: usize,
    pub transactions: usize,
    /// Manual rates and days of ECB rates.
    #[serde(default)]
    pub rates: usize,
}

impl Backup {
    pub fn from_json(text: &str) -> Result<Backup> {
        let backup: Backup = serde_json::from_str(text).map_err(|e| Error::BadBackup(e.to_string()))?;
        backup.check_format()?;
        Ok(backup)
    }

    /// Whether this build reads the backup (its `format` and `version`), for a backup that
    /// came inside another file (the server's account export).
    pub fn check_format(&self) -> Result<()> {
        if self.format != BACKUP_FORMAT {
            return Err(Error::BadBackup(format!("format is {:?}, expected {BACKUP_FORMAT:?}", self.format)));
        }
        if self.version != BACKUP_VERSION {
            return Err(Error::BadBackup(format!(
                "version {} is not supported (this build reads {BACKUP_VERSION})",
                self.version
            )));
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a backup always serializes")
    }
}

impl Store {
    pub fn export_backup(&self) -> Result<Backup> {
        let mut transactions = Vec::with_capacity(self.transaction_count()? as usize);
        let sort = Sort { by: SortBy::Created, descending: false };
        let mut offset = 0;
        loop {
            let page = self.list_transactions(&Filter::default(), sort, PageRequest { offset, limit: MAX_PAGE })?;
            let n = page.items.len();
            transactions.extend(page.items.into_iter().map(|t| Transaction {
                conflicts: Default::default(),
                base_amount: None,
                ..t
            }));
            if n < MAX_PAGE as usize {
                break;
            }
            offset += n as u64;
        }
        Ok(Backup {
            format: BACKUP_FORMAT.into(),
            version: BACKUP_VERSION,
            settings: self.settings()?,
            categories: self.all_categories()?,
            payment_methods: self.payment_methods(true)?,
            transactions,
            rates: self.rates_overview()?.manual,
            ecb_rates: self.ecb_days()?.into_iter().map(|d| (d.date, rates::ecb_day_text(&d.rates))).collect(),
        })
    }

    /// Restores a backup into this ledger: records are matched by id, so restoring into the
    /// ledger it came from changes nothing, and into a new ledger reproduces it exactly.
    /// Everything is checked before anything is written; a bad backup changes nothing.
    pub fn restore_backup(&mut self, backup: &Backup, now: DateTime<Utc>) -> Result<RestoreSummary> {
        let mut category_ids = HashSet::new();
        for (i, c) in backup.categories.iter().enumerate() {
            let at = |field: &str| format!("categories[{i}].{field}");
            if !category_ids.insert(c.id) {
                return Err(Error::invalid(at("id"), format!("{} appears twice", c.id)));
            }
            model::check_text(&at("name"), &c.name, model::MAX_NAME, true)?;
            model::check_color(&c.color)
                .map_err(|_| Error::invalid(at("color"), format!("{:?} is not a colour like #1e88e5", c.color)))?;
            model::check_text(&at("icon"), &c.icon, model::MAX_ICON, false)?;
        }
        let existing: Vec<Category> = self.all_categories()?;
        let existing_categories: HashSet<_> = existing.iter().map(|c| c.id).collect();
        let kind_of =
            |id: uuid::Uuid| backup.categories.iter().chain(existing.iter()).find(|c| c.id == id).map(|c| c.kind);
        for (i, c) in backup.categories.iter().enumerate() {
            let at = |field: &str| format!("categories[{i}].{field}");
            if c.deleted && c.id == doc::fallback_category(c.kind) {
                return Err(Error::invalid(
                    at("deleted"),
                    format!("\"{}\" catches orphaned transactions and cannot be deleted", c.name),
                ));
            }
            if let Some(target) = c.merged_into {
                if target == c.id || kind_of(target) != Some(c.kind) {
                    return Err(Error::invalid(
                        at("merged_into"),
                        format!("{target} is not another {} category", c.kind),
                    ));
                }
            }
        }
        let mut method_ids = HashSet::new();
        for (i, m) in backup.payment_methods.iter().enumerate() {
            if !method_ids.insert(m.id) {
                return Err(Error::invalid(format!("payment_methods[{i}].id"), format!("{} appears twice", m.id)));
            }
            model::check_text(&format!("payment_methods[{i}].name"), &m.name, model::MAX_NAME, true)?;
        }
        let existing_methods: HashSet<_> = self.payment_methods(true)?.into_iter().map(|m| m.id).collect();
        let mut tx_ids = HashSet::new();
        let mut transactions = Vec::with_capacity(backup.transactions.len());
        for (i, t) in backup.transactions.iter().enumerate() {
            let at = |field: &str| format!("transactions[{i}].{field}");
            if !tx_ids.insert(t.id) {
                return Err(Error::invalid(at("id"), format!("{} appears twice", t.id)));
            }
            transactions.push(model::check_record(
                t,
                &format!("transactions[{i}]."),
                |id| category_ids.contains(&id) || existing_categories.contains(&id),
                |id| method_ids.contains(&id) || existing_methods.contains(&id),
            )?);
        }
        for (i, r) in backup.rates.iter().enumerate() {
            let at = |field: &str| format!("rates[{i}].{field}");
            if r.source != RateSource::Manual {
                return Err(Error::invalid(at("source"), "only manual rates are listed here"));
            }
            if r.from == r.to {
                return Err(Error::invalid(at("to"), "a rate converts into another currency"));
            }
            rates::parse_rate(&at("rate"), &r.rate.to_string())?;
            model::check_year(&at("date"), r.date)?;
        }
        let mut ecb_days = Vec::with_capacity(backup.ecb_rates.len());
        for (date, text) in &backup.ecb_rates {
            let day = EcbDay { date: *date, rates: rates::parse_ecb_day_text(text) };
            if day.rates.is_empty() || day.rates.len() != text.split_whitespace().count() {
                return Err(Error::invalid(
                    format!("ecb_rates.{date}"),
                    format!("{text:?} is not a list like USD=1.0921"),
                ));
            }
            model::check_year(&format!("ecb_rates.{date}"), *date)?;
            ecb_days.push(day);
        }
        let categories: Vec<_> = backup.categories.iter().map(|c| c.id).collect();
        let payment_methods: Vec<_> = backup.payment_methods.iter().map(|m| m.id).collect();
        self.commit(now, |tx, c| {
            let mut touched = Touched { settings: true, categories, payment_methods, ..Touched::default() };
            if doc::read_base_currency(tx) != Some(backup.settings.base_currency) {
                doc::put_base_currency(tx, backup.settings.base_currency)?;
            }
            for cat in &backup.categories {
                match doc::read_category(tx, &c.categories, cat.id) {
                    Some(old) => doc::update_category(tx, &c.categories, &old, cat)?,
                    None => doc::put_category(tx, &c.categories, cat)?,
                }
            }
            for m in &backup.payment_methods {
                doc::put_payment_method(tx, &c.payment_methods, m)?;
            }
            for t in &transactions {
                match doc::read_transaction(tx, &c.transactions, t.id) {
                    Some(old) => {
                        doc::update_transaction(tx, &c.transactions, &old, t)?;
                        touched.transactions.push(t.id);
                    }
                    None => {
                        doc::put_transaction(tx, &c.transactions, t)?;
                        touched.created.push(t.clone());
                    }
                }
            }
            for r in &backup.rates {
                touched.rates.extend(doc::put_manual_rate(tx, &c.rates, r)?);
            }
            for day in &ecb_days {
                if doc::put_ecb_day(tx, &c.rates, day)? {
                    touched.rates.push(RateKey::Ecb(day.date).to_string());
                }
            }
            Ok(((), touched))
        })?;
        Ok(RestoreSummary {
            categories: backup.categories.len(),
            payment_methods: backup.payment_methods.len(),
            transactions: transactions.len(),
            rates: backup.rates.len() + ecb_days.len(),
        })
    }
}
