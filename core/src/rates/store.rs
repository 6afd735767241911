//! The ledger's exchange rates: storing the ECB's days and the user's manual rates, reading
//! them back, and deciding which ECB file a device should fetch.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use rusqlite::{params, OptionalExtension};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{euro, parse_rate, Conversion, EcbDay, EcbFeed, NewRate, Rate, RateBook, RateKey, RateSource};
use crate::doc;
use crate::error::{Error, Result};
use crate::model::{self, parse_currency};
use crate::money::Currency;
use crate::query::Unconverted;
use crate::store::Store;
use crate::view::{date_key, Touched};

/// Days of ECB rates kept before a ledger's first transaction in another currency, so that
/// one dated on a holiday or a weekend still finds the working day before.
const LEAD_DAYS: i64 = 7;

/// What a screen of rates shows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatesOverview {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub base_currency: Currency,
    /// The newest day of ECB rates the ledger holds.
    pub ecb_latest: Option<NaiveDate>,
    /// The oldest one.
    pub ecb_first: Option<NaiveDate>,
    /// The ECB's rates of `ecb_latest`, as "1 EUR = rate X".
    pub ecb_rates: Vec<Rate>,
    /// Every manual rate, newest first.
    pub manual: Vec<Rate>,
    /// Currencies of transactions other than the base currency.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub currencies: Vec<Currency>,
    /// Transactions no rate converts, per currency (all time).
    pub unconverted: Vec<Unconverted>,
}

impl Store {
    /// Stores days of the ECB's reference rates, those a ledger can use: from a week before
    /// its first transaction in a currency other than the base currency. Days already held
    /// with the same rates change nothing. Returns the number of days added or changed.
    pub fn add_ecb_rates(&mut self, days: &[EcbDay], now: DateTime<Utc>) -> Result<usize> {
        let Some(first) = self.first_foreign_date()? else { return Ok(0) };
        let keep_from = first - Duration::days(LEAD_DAYS);
        let wanted: Vec<&EcbDay> = days.iter().filter(|d| d.date >= keep_from && !d.rates.is_empty()).collect();
        if wanted.is_empty() {
            return Ok(0);
        }
        self.commit(now, |tx, c| {
            let mut touched = Touched::default();
            for day in &wanted {
                if doc::put_ecb_day(tx, &c.rates, day)? {
                    touched.rates.push(RateKey::Ecb(day.date).to_string());
                }
            }
            Ok((touched.rates.len(), touched))
        })
    }

    /// Sets a manual rate, "1 from = rate to" on a date (`to` defaults to the base currency).
    /// It wins over the ECB's rate of that date.
    pub fn set_rate(&mut self, input: &NewRate, now: DateTime<Utc>) -> Result<Rate> {
        let from = parse_currency("from", &input.from)?;
        let to = match input.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(code) => parse_currency("to", code)?,
            None => self.settings()?.base_currency,
        };
        if from == to {
            return Err(Error::invalid("to", format!("a rate converts {from} into another currency")));
        }
        let date = model::parse_date("date", &input.date)?;
        let rate = Rate { from, to, date, rate: parse_rate("rate", &input.rate)?, source: RateSource::Manual };
        self.commit(now, |tx, c| {
            let key = doc::put_manual_rate(tx, &c.rates, &rate)?;
            Ok(((), Touched { rates: key.into_iter().collect(), ..Touched::default() }))
        })?;
        Ok(rate)
    }

    /// Removes a manual rate.
    pub fn delete_rate(&mut self, from: Currency, to: Currency, date: NaiveDate, now: DateTime<Utc>) -> Result<()> {
        let key = RateKey::Manual { from, to, date }.to_string();
        let exists = self.conn.prepare_cached("SELECT 1 FROM rates WHERE key = ?1")?.exists([&key])?;
        if !exists {
            return Err(Error::NotFound { entity: "rate", id: key });
        }
        self.commit(now, |tx, c| {
            automerge::transaction::Transactable::delete(tx, &c.rates, key.as_str())?;
            Ok(((), Touched { rates: vec![key.clone()], ..Touched::default() }))
        })
    }

    /// The rates a screen shows: the newest ECB day, the manual rates, the currencies in use
    /// and what no rate converts.
    pub fn rates_overview(&self) -> Result<RatesOverview> {
        let base_currency = self.settings()?.base_currency;
        let (ecb_first, ecb_latest): (Option<i64>, Option<i64>) =
            self.conn.query_row("SELECT min(date), max(date) FROM rates WHERE source = 0", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let ecb_rates = match ecb_latest {
            Some(day) => self.rate_rows("WHERE source = 0 AND date = ?1 ORDER BY quote", params![day])?,
            None => Vec::new(),
        };
        let manual = self.rate_rows("WHERE source = 1 ORDER BY date DESC, base, quote", [])?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT currency FROM month_totals WHERE currency <> ?1 ORDER BY currency")?;
        let currencies = stmt
            .query_map([base_currency.code()], |r| r.get::<_, String>(0))?
            .filter_map(|c| c.ok().and_then(|c| Currency::from_code(&c)))
            .collect();
        Ok(RatesOverview {
            base_currency,
            ecb_latest: ecb_latest.and_then(day_of),
            ecb_first: ecb_first.and_then(day_of),
            ecb_rates,
            manual,
            currencies,
            unconverted: self.balance(None, None)?.unconverted,
        })
    }

    fn rate_rows(&self, clause: &str, args: impl rusqlite::Params) -> Result<Vec<Rate>> {
        let mut stmt = self.conn.prepare(&format!("SELECT base, quote, date, source, rate FROM rates {clause}"))?;
        let rows = stmt.query_map(args, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get(3)?, r.get::<_, String>(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (from, to, date, source, rate) = row?;
            if let (Some(from), Some(to), Some(date), Ok(rate)) =
                (Currency::from_code(&from), Currency::from_code(&to), day_of(date), rate.parse::<Decimal>())
            {
                out.push(Rate { from, to, date, rate, source: RateSource::from_i64(source) });
            }
        }
        Ok(out)
    }

    /// Every day of ECB rates the ledger holds, oldest first.
    pub fn ecb_days(&self) -> Result<Vec<EcbDay>> {
        let mut days: Vec<EcbDay> = Vec::new();
        for r in self.rate_rows("WHERE source = 0 ORDER BY date, quote", [])? {
            match days.last_mut() {
                Some(day) if day.date == r.date => day.rates.push((r.to, r.rate)),
                _ => days.push(EcbDay { date: r.date, rates: vec![(r.to, r.rate)] }),
            }
        }
        Ok(days)
    }

    /// Converts an amount into the base currency with the rates of `date` (what a form shows
    /// beside an amount in another currency); `None` without a rate.
    pub fn convert_to_base(&self, amount: Decimal, from: Currency, date: NaiveDate) -> Result<Option<Conversion>> {
        let base = self.settings()?.base_currency;
        let mut book = RateBook::new();
        let codes = [from.code(), base.code(), euro().code()];
        let rows = self.rate_rows(
            "WHERE base IN (?1, ?2, ?3) AND quote IN (?1, ?2, ?3) AND date <= ?4",
            params![codes[0], codes[1], codes[2], date_key(date)],
        )?;
        for r in rows {
            book.insert(r.from, r.to, r.date, r.rate, r.source);
        }
        Ok(book.convert(amount, from, base, date))
    }

    /// Which of the ECB's files this ledger should fetch on `today`, if any: none while every
    /// transaction is in the base currency or the rates are current; the whole history when
    /// a transaction predates the rates held and the last 90 days do not reach it; otherwise
    /// the last 90 days (which also fill a gap of a few days offline).
    pub fn ecb_feed_needed(&self, today: NaiveDate) -> Result<Option<EcbFeed>> {
        let Some(first) = self.first_foreign_date()? else { return Ok(None) };
        let (held_first, held_last): (Option<i64>, Option<i64>) =
            self.conn.query_row("SELECT min(date), max(date) FROM rates WHERE source = 0", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let (held_first, held_last) = (held_first.and_then(day_of), held_last.and_then(day_of));
        // The held rates reach back far enough when they start within a few days (a weekend,
        // a holiday) of the first day needed, or at the ECB's own first day.
        let needed_from = first - Duration::days(LEAD_DAYS);
        let reaches = |f: NaiveDate| f <= needed_from + Duration::days(5) || f <= ecb_first_day();
        if !held_first.is_some_and(reaches) && needed_from < today - Duration::days(85) {
            return Ok(Some(EcbFeed::History));
        }
        let Some(last) = held_last else { return Ok(Some(EcbFeed::Last90Days)) };
        // The ECB publishes on working days, in the afternoon: Friday's rates are the newest
        // until Monday's arrive.
        let last_working = match today.weekday() {
            Weekday::Sat => today - Duration::days(1),
            Weekday::Sun => today - Duration::days(2),
            Weekday::Mon => today - Duration::days(3),
            _ => today - Duration::days(1),
        };
        Ok(if last >= last_working { None } else { Some(EcbFeed::Last90Days) })
    }

    /// The date of the first transaction not in the base currency.
    fn first_foreign_date(&self) -> Result<Option<NaiveDate>> {
        let base = self.settings()?.base_currency;
        let month: Option<i64> = self
            .conn
            .query_row("SELECT min(month) FROM month_totals WHERE currency <> ?1", [base.code()], |r| r.get(0))
            .optional()?
            .flatten();
        let Some(month) = month else { return Ok(None) };
        let day: Option<i64> = self.conn.query_row(
            "SELECT min(date) FROM transactions WHERE date BETWEEN ?1 AND ?2 AND currency <> ?3",
            params![month * 100, month * 100 + 99, base.code()],
            |r| r.get(0),
        )?;
        Ok(day.and_then(day_of))
    }
}

/// The first day of the ECB's reference rates.
fn ecb_first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1999, 1, 4).expect("a valid date")
}

fn day_of(key: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt((key / 10_000) as i32, (key / 100 % 100) as u32, (key % 100) as u32)
}
