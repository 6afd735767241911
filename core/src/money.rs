//! Exact money: ISO 4217 currencies with their minor units, and validated amounts.
//!
//! Amounts are `rust_decimal::Decimal`, never floats. The local view stores them as integers
//! in ten-thousandths (`AMOUNT_SCALE`), which holds every ISO 4217 minor unit exactly, so SQL
//! sums are exact integer sums.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Decimal places of the integer amounts in the materialized view.
pub const AMOUNT_SCALE: u32 = 4;

/// The largest amount one transaction may carry (a trillion in any currency).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// An ISO 4217 currency this build knows, with its number of minor-unit digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    minor_units: u8,
}

impl Currency {
    pub fn code(self) -> &'static str {
        self.code
    }

    pub fn minor_units(self) -> u32 {
        u32::from(self.minor_units)
    }

    /// Looks up an ISO 4217 code; case-insensitive.
    pub fn from_code(code: &str) -> Option<Currency> {
        let upper = code.trim().to_ascii_uppercase();
        CURRENCIES.iter().find(|(c, _)| *c == upper).map(|&(code, minor_units)| Currency { code, minor_units })
    }

    /// Every currency this build knows, sorted by code.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|&(code, minor_units)| Currency { code, minor_units })
    }

    /// Parses a user-entered amount for this currency: a plain decimal number (`12`, `12.5`,
    /// `12.50`), greater than zero, with no more decimals than the currency has.
    pub fn parse_amount(self, field: &str, input: &str) -> Result<Decimal> {
        let text = input.trim();
        if text.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        let valid_chars = text.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
        let value = if valid_chars { Decimal::from_str(text).ok() } else { None };
        let Some(value) = value else {
            return Err(Error::invalid(
                field,
                format!("{text:?} is not a number (use digits and a '.' for decimals, e.g. 12.50)"),
            ));
        };
        self.check_amount(field, value)
    }

    /// Checks an amount against the currency's rules and returns it at the currency's scale.
    pub fn check_amount(self, field: &str, value: Decimal) -> Result<Decimal> {
        if value <= Decimal::ZERO {
            return Err(Error::invalid(field, "must be greater than zero"));
        }
        if value > Decimal::from(MAX_AMOUNT) {
            return Err(Error::invalid(field, format!("must be at most {MAX_AMOUNT}")));
        }
        let normalized = value.normalize();
        if normalized.scale() > self.minor_units() {
            return Err(Error::invalid(
                field,
                match self.minor_units {
                    0 => format!("{} has no decimals", self.code),
                    1 => format!("{} allows 1 decimal", self.code),
                    n => format!("{} allows {n} decimals", self.code),
                },
            ));
        }
        let mut scaled = normalized;
        scaled.rescale(self.minor_units());
        Ok(scaled)
    }

    /// Rounds to the currency's minor unit, halves away from zero, with exactly that many
    /// decimals: the one rounding of converted amounts and budget figures (see `rates.rs`).
    pub fn round(self, value: Decimal) -> Decimal {
        let mut v =
            value.round_dp_with_strategy(self.minor_units(), rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        v.rescale(self.minor_units());
        v
    }

    /// Shows an amount with exactly the currency's number of decimals.
    pub fn format(self, value: Decimal) -> String {
        let mut v = value;
        v.rescale(self.minor_units());
        v.to_string()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Currency::from_code(s)
            .ok_or_else(|| Error::invalid("currency", format!("{:?} is not an ISO 4217 currency code", s.trim())))
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::from_code(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown currency {s:?}")))
    }
}

/// Converts an exact amount to the view's integer representation. Fails only for values that
/// validation rejects (more than four decimals, or out of range).
pub fn to_units(value: Decimal) -> Option<i64> {
    let normalized = value.normalize();
    if normalized.scale() > AMOUNT_SCALE {
        return None;
    }
    let mut v = normalized;
    v.rescale(AMOUNT_SCALE);
    i64::try_from(v.mantissa()).ok()
}

/// Active ISO 4217 codes and their minor units (ISO 4217 list, 2025 edition). Funds and
/// precious metals without minor units are left out.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::from_code("usd").unwrap()
    }

    #[test]
    fn parses_amounts_exactly() {
        assert_eq!(usd().parse_amount("amount", "12.5").unwrap().to_string(), "12.50");
        assert_eq!(usd().parse_amount("amount", "0.10").unwrap().to_string(), "0.10");
        assert_eq!(usd().parse_amount("amount", "12.500").unwrap().to_string(), "12.50");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(jpy.parse_amount("amount", "1500").unwrap().to_string(), "1500");
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(bhd.parse_amount("amount", "1.005").unwrap().to_string(), "1.005");
    }

    #[test]
    fn rejects_bad_amounts_naming_the_field() {
        for (input, expect) in [
            ("-5", "greater than zero"),
            ("0", "greater than zero"),
            ("0.00", "greater than zero"),
            ("abc", "not a number"),
            ("1,234.50", "not a number"),
            ("1e5", "not a number"),
            ("12.345", "allows 2 decimals"),
            ("", "required"),
            ("1000000000001", "at most"),
        ] {
            let err = usd().parse_amount("amount", input).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("amount: "), "{input}: {text}");
            assert!(text.contains(expect), "{input}: {text}");
        }
        let jpy = Currency::from_code("JPY").unwrap();
        assert!(jpy.parse_amount("amount", "10.5").unwrap_err().to_string().contains("no decimals"));
    }

    #[test]
    fn knows_currencies_and_rejects_unknown_ones() {
        assert_eq!(Currency::from_code("eur").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("KWD").unwrap().minor_units(), 3);
        assert!("XXY".parse::<Currency>().unwrap_err().to_string().starts_with("currency: "));
        let codes: Vec<_> = Currency::all().map(Currency::code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted, "the table is sorted and has no duplicates");
    }

    #[test]
    fn units_round_trip() {
        let v = Decimal::from_str("1234.56").unwrap();
        assert_eq!(to_units(v), Some(12_345_600));
        assert_eq!(Decimal::new(12_345_600, AMOUNT_SCALE).normalize(), v.normalize());
        assert_eq!(to_units(Decimal::from_str("0.00001").unwrap()), None);
    }
}
