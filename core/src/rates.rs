//! Exchange rates and conversion into the base currency.
//!
//! Rates live in the ledger document, so they sync and work offline. Two kinds:
//! - the European Central Bank's daily reference rates (units of a currency per euro), one
//!   document entry per day holding every currency of that day (`ecb:YYYY-MM-DD`);
//! - manual rates a user enters for a date, "1 FROM = rate TO" (`manual:FROM:TO:YYYY-MM-DD`).
//!
//! **Which rate.** A transaction converts with the rate of its own date: for each pair, the
//! latest rate on or before that date (the ECB publishes on working days only). The pair is
//! found directly (either direction) or through the euro; of the candidates the one whose
//! oldest rate is most recent wins, and on the same date a manual rate wins over the ECB's and
//! a direct pair over one through the euro. A currency with no rate on or before the date is
//! not converted: it is reported as such, never as zero.
//!
//! **Rounding.** `convert` is the one place a converted amount is rounded: the exact product
//! `amount × to-rate ÷ from-rate` (rust_decimal, multiplication first), rounded to the base
//! currency's minor unit, halves away from zero. Every total sums these per-transaction
//! amounts, so a report's total equals the sum of its rows.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::money::Currency;

#[cfg(feature = "fetch")]
pub mod fetch;
mod store;
pub use store::RatesOverview;

/// The ECB's reference rates are quoted against the euro.
pub fn euro() -> Currency {
    Currency::from_code("EUR").expect("EUR is known")
}

/// The largest and smallest rates accepted (a typing mistake beyond these is refused).
const MAX_RATE: i64 = 1_000_000_000;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateSource {
    /// Fetched from the European Central Bank.
    Ecb,
    /// Entered by the user; wins over the ECB's rate of the same date.
    Manual,
}

impl RateSource {
    pub(crate) fn as_i64(self) -> i64 {
        match self {
            RateSource::Ecb => 0,
            RateSource::Manual => 1,
        }
    }

    pub(crate) fn from_i64(v: i64) -> RateSource {
        if v == 1 {
            RateSource::Manual
        } else {
            RateSource::Ecb
        }
    }
}

/// "1 `from` = `rate` `to`" on `date`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub from: Currency,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub to: Currency,
    pub date: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub rate: Decimal,
    pub source: RateSource,
}

/// A manual rate as typed by a user.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewRate {
    /// ISO 4217 code of the currency one unit of which is priced.
    pub from: String,
    /// ISO 4217 code of the currency the price is in; defaults to the base currency.
    pub to: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// How many `to` one `from` is worth, e.g. `0.9215`.
    pub rate: String,
}

/// One day of the ECB's reference rates: units of each currency per euro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcbDay {
    pub date: NaiveDate,
    pub rates: Vec<(Currency, Decimal)>,
}

/// The ECB's three reference-rate files.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EcbFeed {
    /// Today's rates (about 2 KB).
    Daily,
    /// The last 90 days (about 100 KB).
    Last90Days,
    /// Every day since 1999 (about 7 MB).
    History,
}

impl EcbFeed {
    /// The file's name under the ECB's `stats/eurofxref/` address.
    pub fn file_name(self) -> &'static str {
        match self {
            EcbFeed::Daily => "eurofxref-daily.xml",
            EcbFeed::Last90Days => "eurofxref-hist-90d.xml",
            EcbFeed::History => "eurofxref-hist.xml",
        }
    }
}

/// Where the ECB publishes its reference rates.
pub const ECB_BASE_URL: &str = "https://www.ecb.europa.eu/stats/eurofxref/";

/// Checks a rate typed by a user or read from a feed: a plain positive decimal.
pub fn parse_rate(field: &str, input: &str) -> Result<Decimal> {
    let text = input.trim();
    if text.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    let valid = text.chars().all(|c| c.is_ascii_digit() || c == '.');
    let value = if valid { Decimal::from_str(text).ok() } else { None }
        .ok_or_else(|| Error::invalid(field, format!("{text:?} is not a number (e.g. 0.9215)")))?;
    if value <= Decimal::ZERO {
        return Err(Error::invalid(field, "must be greater than zero"));
    }
    if value > Decimal::from(MAX_RATE) {
        return Err(Error::invalid(field, format!("must be at most {MAX_RATE}")));
    }
    if value.normalize().scale() > 10 {
        return Err(Error::invalid(field, "has more than 10 decimals"));
    }
    Ok(value.normalize())
}

/// Reads one of the ECB's reference-rate files (`<Cube time=".."><Cube currency=".."
/// rate=".."/>…`). Currencies this build does not know are skipped; a file without a single
/// day of rates is an error.
pub fn parse_ecb_xml(text: &str) -> Result<Vec<EcbDay>> {
    let bad = |why: String| Error::invalid("rates", format!("the ECB file cannot be read: {why}"));
    let mut days: Vec<EcbDay> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<Cube") {
        rest = &rest[start + 5..];
        let end = rest.find('>').ok_or_else(|| bad("a <Cube> tag is not closed".into()))?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(time) = attribute(tag, "time") {
            let date =
                NaiveDate::parse_from_str(time, "%Y-%m-%d").map_err(|_| bad(format!("{time:?} is not a date")))?;
            days.push(EcbDay { date, rates: Vec::new() });
        } else if let (Some(code), Some(rate)) = (attribute(tag, "currency"), attribute(tag, "rate")) {
            let day = days.last_mut().ok_or_else(|| bad("a rate comes before any date".into()))?;
            let value = parse_rate("rate", rate).map_err(|_| bad(format!("{rate:?} is not a rate for {code}")))?;
            if let Some(currency) = Currency::from_code(code) {
                day.rates.push((currency, value));
            }
        }
    }
    days.retain(|d| !d.rates.is_empty());
    if days.is_empty() {
        return Err(bad("it holds no rates".into()));
    }
    days.sort_by_key(|d| d.date);
    days.dedup_by_key(|d| d.date);
    Ok(days)
}

/// The value of `name="…"` (or single quotes) in the inside of a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = tag[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at == 0 || tag.as_bytes()[at - 1].is_ascii_whitespace();
        let after = tag[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let quote = value.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let inner = &value[1..];
        return inner.find(quote).map(|end| &inner[..end]);
    }
    None
}

/// The text form of a day of ECB rates in the document: `USD=1.0921 JPY=157.12 …`.
pub(crate) fn ecb_day_text(rates: &[(Currency, Decimal)]) -> String {
    let mut sorted: Vec<&(Currency, Decimal)> = rates.iter().collect();
    sorted.sort_by_key(|(c, _)| *c);
    sorted.iter().map(|(c, r)| format!("{}={}", c.code(), r.normalize())).collect::<Vec<_>>().join(" ")
}

/// Reads [`ecb_day_text`]; entries that do not parse are skipped (a forged value).
pub(crate) fn parse_ecb_day_text(text: &str) -> Vec<(Currency, Decimal)> {
    text.split_whitespace()
        .filter_map(|pair| {
            let (code, rate) = pair.split_once('=')?;
            Some((Currency::from_code(code)?, parse_rate("rate", rate).ok()?))
        })
        .collect()
}

/// A document key of the `rates` map, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RateKey {
    Ecb(NaiveDate),
    Manual { from: Currency, to: Currency, date: NaiveDate },
}

impl RateKey {
    pub fn parse(key: &str) -> Option<RateKey> {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        // Only canonical keys count (upper-case codes), so one rate has one key.
        let code = |s: &str| Currency::from_code(s).filter(|c| c.code() == s);
        let parts: Vec<&str> = key.split(':').collect();
        match parts.as_slice() {
            ["ecb", date] => Some(RateKey::Ecb(day(date)?)),
            ["manual", from, to, date] => {
                let (from, to) = (code(from)?, code(to)?);
                (from != to).then_some(RateKey::Manual { from, to, date: day(date)? })
            }
            _ => None,
        }
    }

    pub fn date(&self) -> NaiveDate {
        match self {
            RateKey::Ecb(d) | RateKey::Manual { date: d, .. } => *d,
        }
    }
}

impl std::fmt::Display for RateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateKey::Ecb(d) => write!(f, "ecb:{}", d.format("%Y-%m-%d")),
            RateKey::Manual { from, to, date } => write!(f, "manual:{from}:{to}:{}", date.format("%Y-%m-%d")),
        }
    }
}

/// A converted amount and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// In the target currency, rounded to its minor unit.
    pub amount: Decimal,
    /// Units of the target currency per unit of the source that day (shown, not used to
    /// compute `amount`: the product is computed from the exact rates).
    pub rate: Decimal,
    /// The date of the oldest rate used.
    pub rate_date: NaiveDate,
}

/// Rates by pair and date, for conversions. Small: built from the view for the currencies at
/// hand.
#[derive(Debug, Clone, Default)]
pub struct RateBook {
    /// (from, to) → date → (rate, source); only the winning source of a date is kept.
    pairs: HashMap<(Currency, Currency), BTreeMap<NaiveDate, (Decimal, RateSource)>>,
}

/// One way from a currency to another: a rate (or its inverse) with its date and source.
#[derive(Debug, Clone, Copy)]
struct Leg {
    /// Multiply by `num`, divide by `den`.
    num: Decimal,
    den: Decimal,
    date: NaiveDate,
    source: RateSource,
}

impl RateBook {
    pub fn new() -> RateBook {
        RateBook::default()
    }

    /// Adds a rate; on the same pair and date a manual rate wins over the ECB's.
    pub fn insert(&mut self, from: Currency, to: Currency, date: NaiveDate, rate: Decimal, source: RateSource) {
        let days = self.pairs.entry((from, to)).or_default();
        match days.get(&date) {
            Some((_, existing)) if *existing > source => {}
            _ => {
                days.insert(date, (rate, source));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The latest rate of `from`→`to` on or before `date`, stored either way round (the
    /// stored direction wins a tie).
    fn leg(&self, from: Currency, to: Currency, date: NaiveDate) -> Option<Leg> {
        let latest = |a: Currency, b: Currency| {
            self.pairs.get(&(a, b)).and_then(|days| days.range(..=date).next_back()).map(|(d, v)| (*d, *v))
        };
        let direct = latest(from, to).map(|(d, (r, s))| Leg { num: r, den: Decimal::ONE, date: d, source: s });
        let inverse = latest(to, from).map(|(d, (r, s))| Leg { num: Decimal::ONE, den: r, date: d, source: s });
        match (direct, inverse) {
            (Some(a), Some(b)) => Some(if (b.date, b.source) > (a.date, a.source) { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Converts `amount` of `from` into `to` with the rates of `date` (see the module's
    /// comment for which rate wins); `None` when there is none.
    pub fn convert(&self, amount: Decimal, from: Currency, to: Currency, date: NaiveDate) -> Option<Conversion> {
        if from == to {
            return Some(Conversion { amount: to.round(amount), rate: Decimal::ONE, rate_date: date });
        }
        let direct = self.leg(from, to, date).map(|l| (vec![l], l.date, l.source));
        let eur = euro();
        let via = if from != eur && to != eur {
            match (self.leg(from, eur, date), self.leg(eur, to, date)) {
                (Some(a), Some(b)) => {
                    let oldest = a.date.min(b.date);
                    let source = a.source.min(b.source);
                    Some((vec![a, b], oldest, source))
                }
                _ => None,
            }
        } else {
            None
        };
        let (legs, rate_date, _) = match (direct, via) {
            (Some(d), Some(v)) => {
                if (v.1, v.2) > (d.1, d.2) {
                    v
                } else {
                    d
                }
            }
            (d, v) => d.or(v)?,
        };
        let num = legs.iter().try_fold(Decimal::ONE, |acc, l| acc.checked_mul(l.num))?;
        let den = legs.iter().try_fold(Decimal::ONE, |acc, l| acc.checked_mul(l.den))?;
        let exact = amount.checked_mul(num)?.checked_div(den)?;
        let rate = num.checked_div(den)?.round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero).normalize();
        Some(Conversion { amount: to.round(exact), rate, rate_date })
    }
}

#[cfg(test)]
mod tests;
