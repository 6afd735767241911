//! Reports, exports and statement imports on the reference workloads (10k and 100k
//! transactions over 3 years, 20 categories, 3 currencies, fixed seed), with ECB rates for
//! every working day so amounts in dollars and pounds convert. Prints a table; `cargo xtask
//! bench reports` runs it.
//!
//! - a one-year PDF report of the 10k ledger (computing the report, then rendering it);
//! - the CSV export of the 100k ledger (all its transactions);
//! - importing a 10,000-row bank CSV and a 10,000-transaction OFX file into the 10k ledger
//!   (reading, checking duplicates and categories against the ledger, writing).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Datelike, Duration as Days, NaiveDate, TimeZone, Utc, Weekday};
use expenso_core::import::{self, ImportOptions};
use expenso_core::rates::EcbDay;
use expenso_core::report::{csv, pdf, Paper};
use expenso_core::sample::Workload;
use expenso_core::{ActorId, Currency, Decimal, Store};

const SEED: u64 = 20_261_121;
const RUNS: usize = 5;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let mut rows: Vec<[String; 4]> = Vec::new();

    let small = build(dir.path(), 10_000, end, now);
    let store = Store::open(&small).unwrap();
    let (from, to) = (NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    let mut report_times = Vec::new();
    let mut render_times = Vec::new();
    let (mut size, mut rows_in_year) = (0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        let report = store.report(from, to, now).unwrap();
        report_times.push(t.elapsed());
        let t = Instant::now();
        let bytes = pdf::render(&report, Paper::A4);
        render_times.push(t.elapsed());
        size = bytes.len();
        rows_in_year = report.transactions.len();
    }
    let total: Vec<Duration> = report_times.iter().zip(&render_times).map(|(a, b)| *a + *b).collect();
    rows.push([
        "10k".into(),
        format!("one-year report, {rows_in_year} transactions: compute (median)"),
        ms(median(report_times)),
        String::new(),
    ]);
    rows.push(["10k".into(), "… render the PDF, A4 (median)".into(), ms(median(render_times)), String::new()]);
    rows.push(["10k".into(), "… in all (median)".into(), ms(median(total)), "≤ 1 s".into()]);
    rows.push(["10k".into(), "… PDF size".into(), format!("{:.2} MB", size as f64 / 1e6), String::new()]);
    drop(store);

    for (name, bytes) in [("bank.csv", bank_csv(10_000)), ("bank.ofx", bank_ofx(10_000))] {
        let (mut times, mut reads, mut previews) = (Vec::new(), Vec::new(), Vec::new());
        let mut added = 0;
        for run in 0..RUNS {
            let copy = dir.path().join(format!("import-{run}-{name}.db"));
            // The parts apart (a preview is what the import does before it writes)…
            std::fs::copy(&small, &copy).unwrap();
            let store = Store::open(&copy).unwrap();
            let options = ImportOptions::default();
            let t = Instant::now();
            let file = import::read(name, &bytes, &options).unwrap();
            reads.push(t.elapsed());
            let t = Instant::now();
            store.preview_import(name, &file, &options).unwrap();
            previews.push(t.elapsed());
            drop(store);
            // …and the whole import, from the bytes, on a fresh copy whose document is loaded
            // (as the apps have it, in the background after the first screen).
            std::fs::copy(&small, &copy).unwrap();
            let mut store = Store::open(&copy).unwrap();
            store.load_document().unwrap();
            let t = Instant::now();
            let file = import::read(name, &bytes, &options).unwrap();
            let done = store.import_statement(name, &file, &options, now, |_, _| {}).unwrap();
            times.push(t.elapsed());
            added = done.added;
        }
        assert_eq!(added, 10_000);
        let what = if name.ends_with("csv") {
            "import a 10,000-row CSV (median)"
        } else {
            "import a 10,000-transaction OFX (median)"
        };
        rows.push(["10k".into(), what.into(), ms(median(times)), "≤ 1 s".into()]);
        rows.push(["10k".into(), "… of which reading the file".into(), ms(median(reads)), String::new()]);
        rows.push([
            "10k".into(),
            "… of which checks (duplicates, categories)".into(),
            ms(median(previews)),
            String::new(),
        ]);
    }

    if std::env::var_os("EXPENSO_BENCH_SMALL_ONLY").is_some() {
        print_table(&rows);
        return;
    }
    let big = build(dir.path(), 100_000, end, now);
    let store = Store::open(&big).unwrap();
    let mut times = Vec::new();
    let (mut size, mut count) = (0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        let report = store.report(NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(), end, now).unwrap();
        let bytes = csv::to_bytes(&report);
        times.push(t.elapsed());
        size = bytes.len();
        count = report.transactions.len();
    }
    assert_eq!(count, 100_000);
    rows.push(["100k".into(), "CSV export of every transaction (median)".into(), ms(median(times)), "≤ 1 s".into()]);
    rows.push(["100k".into(), "… CSV size".into(), format!("{:.1} MB", size as f64 / 1e6), String::new()]);
    print_table(&rows);
}

/// A reference ledger with ECB rates for its three years.
fn build(dir: &Path, n: usize, end: NaiveDate, now: chrono::DateTime<Utc>) -> std::path::PathBuf {
    let path = dir.join(format!("ledger-{n}.db"));
    let t = Instant::now();
    let eur = Currency::from_code("EUR").unwrap();
    let mut store = Store::create(&path, ActorId::from(&[7u8; 16][..]), eur, now).unwrap();
    let mut workload = Workload::prepare(&mut store, SEED, end, now).unwrap();
    workload.fill(&mut store, n, 1_000, now).unwrap();
    store.add_ecb_rates(&ecb_days(end - Days::days(3 * 366 + 10), end), now).unwrap();
    store.compact().unwrap();
    let unconverted = store.balance(None, None).unwrap().unconverted;
    assert!(unconverted.is_empty(), "every transaction converts: {unconverted:?}");
    eprintln!("built the {n}-transaction ledger in {:.1} s", t.elapsed().as_secs_f64());
    path
}

/// Made-up ECB rates for every working day: 1 EUR ≈ 1.08 USD, 0.86 GBP, drifting a little.
fn ecb_days(from: NaiveDate, to: NaiveDate) -> Vec<EcbDay> {
    let (usd, gbp) = (Currency::from_code("USD").unwrap(), Currency::from_code("GBP").unwrap());
    let mut out = Vec::new();
    let mut d = from;
    let mut i = 0i64;
    while d <= to {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(EcbDay {
                date: d,
                rates: vec![(usd, Decimal::new(10_800 + i % 97, 4)), (gbp, Decimal::new(8_600 + i % 53, 4))],
            });
            i += 1;
        }
        d += Days::days(1);
    }
    out
}

const PAYEES: [&str; 12] = [
    "REWE Markt",
    "Lidl sagt Danke",
    "Stadtwerke",
    "Deutsche Bahn",
    "Café Größenwahn",
    "Amazon EU",
    "Apotheke am Markt",
    "Shell Tankstelle",
    "Netflix",
    "Miete",
    "Gehalt ACME GmbH",
    "Zalando",
];

/// A German bank's CSV export: `;`, decimal commas, day-first dates, a preamble.
fn bank_csv(n: usize) -> Vec<u8> {
    let mut s = String::from("\"Kontoinhaber:\";\"Jürgen Müller\"\n\n\"Buchungstag\";\"Auftraggeber/Empfänger\";\"Verwendungszweck\";\"Betrag (EUR)\"\n");
    for i in 0..n {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Days::days((i / 40) as i64);
        let payee = PAYEES[i % PAYEES.len()];
        let (sign, euros) = if i % 25 == 0 { ("", 2_000 + i % 500) } else { ("-", 1 + i % 180) };
        s.push_str(&format!(
            "\"{}\";\"{payee}\";\"Ref {i:06}\";\"{sign}{},{:02}\"\n",
            date.format("%d.%m.%Y"),
            euros,
            i % 100
        ));
    }
    s.into_bytes()
}

/// An OFX 1.x (SGML) statement.
fn bank_ofx(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1>\n\
         <BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR<BANKACCTFROM><BANKID>50010517<ACCTID>0648489890<ACCTTYPE>CHECKING</BANKACCTFROM>\n<BANKTRANLIST>\n",
    );
    for i in 0..n {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Days::days((i / 40) as i64);
        let payee = PAYEES[i % PAYEES.len()];
        let amount = if i % 25 == 0 {
            format!("{}.{:02}", 2_000 + i % 500, i % 100)
        } else {
            format!("-{}.{:02}", 1 + i % 180, i % 100)
        };
        s.push_str(&format!(
            "<STMTTRN>\n<TRNTYPE>POS\n<DTPOSTED>{}\n<TRNAMT>{amount}\n<FITID>{i:010}\n<NAME>{payee}\n<MEMO>Ref {i:06}\n</STMTTRN>\n",
            date.format("%Y%m%d")
        ));
    }
    s.push_str("</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n");
    s.into_bytes()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn print_table(rows: &[[String; 4]]) {
    let widths: Vec<usize> =
        (0..4).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(6)).collect();
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(["ledger", "measure", "result", "target"]);
    println!("|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
    for r in rows {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }
}
