//! Unit tests of rate parsing, the choice of a rate and the one rounding of conversions.

use super::*;

fn cur(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

const ECB_SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2024-01-05'>
			<Cube currency='USD' rate='1.0921'/>
			<Cube currency='JPY' rate='158.08'/>
			<Cube currency='GBP' rate='0.86053'/>
			<Cube currency='XYZ' rate='2.5'/>
		</Cube>
		<Cube time="2024-01-04">
			<Cube currency="USD" rate="1.0953"/>
			<Cube currency="JPY" rate="157.84"/>
		</Cube>
	</Cube>
</gesmes:Envelope>"#;

#[test]
fn reads_the_ecb_file_oldest_first_skipping_unknown_currencies() {
    let days = parse_ecb_xml(ECB_SAMPLE).unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].date, day("2024-01-04"));
    assert_eq!(days[1].date, day("2024-01-05"));
    assert_eq!(
        days[1].rates,
        vec![(cur("USD"), dec("1.0921")), (cur("JPY"), dec("158.08")), (cur("GBP"), dec("0.86053"))]
    );
    let text = ecb_day_text(&days[1].rates);
    assert_eq!(text, "GBP=0.86053 JPY=158.08 USD=1.0921");
    assert_eq!(parse_ecb_day_text(&text).len(), 3);
}

#[test]
fn refuses_ecb_files_without_rates_or_with_bad_values() {
    for bad in [
        "",
        "<html>Service unavailable</html>",
        "<Cube time='2024-13-01'><Cube currency='USD' rate='1'/>",
        "<Cube time='2024-01-02'><Cube currency='USD' rate='-1'/></Cube>",
        "<Cube time='2024-01-02'",
    ] {
        let err = parse_ecb_xml(bad).unwrap_err().to_string();
        assert!(err.starts_with("rates: the ECB file cannot be read"), "{bad}: {err}");
    }
}

#[test]
fn rate_keys_round_trip_and_refuse_non_canonical_ones() {
    for key in ["ecb:2024-01-05", "manual:USD:ARS:2024-02-29"] {
        assert_eq!(RateKey::parse(key).unwrap().to_string(), key);
    }
    for key in
        ["manual:usd:ARS:2024-01-01", "manual:USD:USD:2024-01-01", "ecb:2024-02-30", "ecb", "x:1", "manual:USD:ARS"]
    {
        assert_eq!(RateKey::parse(key), None, "{key}");
    }
}

#[test]
fn parses_typed_rates() {
    assert_eq!(parse_rate("rate", " 0.9215 ").unwrap(), dec("0.9215"));
    for (bad, why) in [
        ("", "required"),
        ("0", "greater than zero"),
        ("1,5", "not a number"),
        ("-2", "not a number"),
        ("1e3", "not a number"),
        ("0.00000000001", "more than 10 decimals"),
        ("2000000000", "at most"),
    ] {
        let err = parse_rate("rate", bad).unwrap_err().to_string();
        assert!(err.starts_with("rate: ") && err.contains(why), "{bad}: {err}");
    }
}

fn book() -> RateBook {
    let mut b = RateBook::new();
    for d in parse_ecb_xml(ECB_SAMPLE).unwrap() {
        for (c, r) in d.rates {
            b.insert(euro(), c, d.date, r, RateSource::Ecb);
        }
    }
    b
}

#[test]
fn converts_with_the_latest_rate_on_or_before_the_date() {
    let b = book();
    // 100 USD on Friday 5 Jan: 100 / 1.0921 = 91.566706... EUR.
    let c = b.convert(dec("100.00"), cur("USD"), cur("EUR"), day("2024-01-05")).unwrap();
    assert_eq!(c.amount.to_string(), "91.57");
    assert_eq!(c.rate_date, day("2024-01-05"));
    // The weekend uses Friday's rate.
    let c = b.convert(dec("100.00"), cur("USD"), cur("EUR"), day("2024-01-07")).unwrap();
    assert_eq!((c.amount.to_string(), c.rate_date), ("91.57".to_string(), day("2024-01-05")));
    // Thursday's own rate: 100 / 1.0953 = 91.29918...
    assert_eq!(b.convert(dec("100"), cur("USD"), cur("EUR"), day("2024-01-04")).unwrap().amount.to_string(), "91.30");
    // Before the first rate: none, never zero.
    assert_eq!(b.convert(dec("100"), cur("USD"), cur("EUR"), day("2024-01-03")), None);
    // Euro to dollars, and dollars to yen through the euro: 10 USD × 158.08 / 1.0921 = 1447.4865 → 1447 JPY.
    assert_eq!(b.convert(dec("10"), cur("EUR"), cur("USD"), day("2024-01-05")).unwrap().amount.to_string(), "10.92");
    let c = b.convert(dec("10.00"), cur("USD"), cur("JPY"), day("2024-01-05")).unwrap();
    assert_eq!(c.amount.to_string(), "1447");
    assert_eq!(c.rate.to_string(), "144.74864939");
    // A currency the book does not have.
    assert_eq!(b.convert(dec("10"), cur("ARS"), cur("EUR"), day("2024-01-05")), None);
    // The same currency converts to itself, rounded to its unit.
    assert_eq!(b.convert(dec("12.5"), cur("EUR"), cur("EUR"), day("1999-01-01")).unwrap().amount.to_string(), "12.50");
}

#[test]
fn a_manual_rate_wins_on_its_date_and_the_freshest_path_wins() {
    let mut b = book();
    b.insert(cur("USD"), cur("EUR"), day("2024-01-05"), dec("0.9"), RateSource::Manual);
    assert_eq!(b.convert(dec("100"), cur("USD"), cur("EUR"), day("2024-01-05")).unwrap().amount.to_string(), "90.00");
    // The ECB rate arriving after the manual one for the same date does not replace it.
    b.insert(euro(), cur("USD"), day("2024-01-05"), dec("1.2"), RateSource::Ecb);
    b.insert(cur("USD"), cur("EUR"), day("2024-01-05"), dec("0.95"), RateSource::Ecb);
    assert_eq!(b.convert(dec("100"), cur("USD"), cur("EUR"), day("2024-01-06")).unwrap().amount.to_string(), "90.00");
    // A direct manual pair from long ago loses to fresher rates through the euro.
    let mut b = book();
    b.insert(cur("USD"), cur("GBP"), day("2023-06-01"), dec("0.5"), RateSource::Manual);
    let c = b.convert(dec("100"), cur("USD"), cur("GBP"), day("2024-01-05")).unwrap();
    assert_eq!((c.amount.to_string(), c.rate_date), ("78.80".to_string(), day("2024-01-05")));
    // ... and is used before the euro rates begin.
    assert_eq!(b.convert(dec("100"), cur("USD"), cur("GBP"), day("2023-12-01")).unwrap().amount.to_string(), "50.00");
    // A manual rate for a currency the ECB does not publish, typed the other way round.
    b.insert(cur("USD"), cur("ARS"), day("2024-01-01"), dec("808.45"), RateSource::Manual);
    assert_eq!(b.convert(dec("1000"), cur("ARS"), cur("USD"), day("2024-01-02")).unwrap().amount.to_string(), "1.24");
}

#[test]
fn rounds_once_halves_away_from_zero() {
    let mut b = RateBook::new();
    b.insert(cur("USD"), cur("EUR"), day("2024-01-01"), dec("0.5"), RateSource::Manual);
    // 0.25 × 0.5 = 0.125 → 0.13 (not banker's 0.12).
    assert_eq!(b.convert(dec("0.25"), cur("USD"), cur("EUR"), day("2024-01-01")).unwrap().amount.to_string(), "0.13");
    assert_eq!(cur("KWD").round(dec("1.0005")).to_string(), "1.001");
    assert_eq!(cur("JPY").round(dec("2.5")).to_string(), "3");
}
