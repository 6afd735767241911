//! Ledger benchmarks on the reference workloads (10k and 100k transactions over 3 years,
//! 20 categories, 3 currencies, fixed seed). Prints a table; `cargo xtask bench` runs it.
//!
//! Peak memory of a full document load is measured in a child process (this same binary,
//! re-run with `EXPENSO_BENCH_LOAD=<file>`), so earlier work does not count.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use expenso_core::sample::Workload;
use expenso_core::{
    ActorId, Currency, Filter, Kind, Month, NewTransaction, PageRequest, Sort, Store, TransactionPatch,
};

const SEED: u64 = 20_261_121;

fn main() {
    if let Ok(path) = std::env::var("EXPENSO_BENCH_LOAD") {
        load_child(Path::new(&path));
        return;
    }
    let sizes: Vec<usize> = std::env::var("EXPENSO_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rows: Vec<[String; 4]> = Vec::new();
    for &n in &sizes {
        bench_size(dir.path(), n, &mut rows);
    }
    print_table(&rows);
}

fn bench_size(dir: &Path, n: usize, rows: &mut Vec<[String; 4]>) {
    let label = if n >= 1000 { format!("{}k", n / 1000) } else { n.to_string() };
    let path = dir.join(format!("ledger-{n}.db"));
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let eur = Currency::from_code("EUR").unwrap();

    let started = Instant::now();
    let mut store = Store::create(&path, ActorId::from(&[7u8; 16][..]), eur, now).unwrap();
    let mut workload = Workload::prepare(&mut store, SEED, end, now).unwrap();
    workload.fill(&mut store, n, 1_000, now).unwrap();
    store.compact().unwrap();
    let built = started.elapsed();
    drop(store);
    rows.push([label.clone(), "build ledger (1,000 per change)".into(), secs(built), String::new()]);

    let (disk, _) = file_size(&path);
    rows.push([label.clone(), "bytes on disk per transaction".into(), format!("{}", disk / n as u64), "≤ 400".into()]);

    // Open to first query (a fresh open each time; the OS cache is warm).
    let mut open_times = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let s = Store::open(&path).unwrap();
        let page = s.list_transactions(&Filter::default(), Sort::default(), PageRequest::default()).unwrap();
        assert_eq!(page.total as usize, n);
        open_times.push(t.elapsed());
    }
    rows.push([
        label.clone(),
        "open ledger to first query (median)".into(),
        ms(median(&mut open_times)),
        "≤ 300 ms".into(),
    ]);

    let mut store = Store::open(&path).unwrap();
    let month = Month::of(end);
    let mut dash = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let summary = store.balance(Some(month.first_day()), Some(month.last_day())).unwrap();
        let breakdown =
            store.category_breakdown(Some(month.first_day()), Some(month.last_day()), Kind::Expense).unwrap();
        let trend = store.trend(month, 12).unwrap();
        assert!(!summary.currencies.is_empty() && !breakdown.is_empty() && trend.len() == 12);
        dash.push(t.elapsed());
    }
    rows.push([
        label.clone(),
        "dashboard: month + categories + 12-month trend (p50)".into(),
        ms(pct(&mut dash, 50)),
        String::new(),
    ]);
    rows.push([
        label.clone(),
        "dashboard: month + categories + 12-month trend (p99)".into(),
        ms(pct(&mut dash, 99)),
        "≤ 20 ms".into(),
    ]);

    let groceries = store.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    let card = store.find_payment_method("card").unwrap().id;
    let year_ago = end - chrono::Duration::days(365);
    let filters = [
        Filter { from: Some(year_ago), to: Some(end), categories: vec![groceries], ..Filter::default() },
        Filter { text: Some("coffee".into()), ..Filter::default() },
        Filter {
            kind: Some(Kind::Expense),
            payment_methods: vec![card],
            min_amount: Some(50.into()),
            ..Filter::default()
        },
        Filter { tags: vec!["coffee".into()], from: Some(year_ago), ..Filter::default() },
        Filter::default(),
    ];
    let mut search = Vec::new();
    for i in 0..250 {
        let f = &filters[i % filters.len()];
        let t = Instant::now();
        let page = store.list_transactions(f, Sort::default(), PageRequest { offset: 0, limit: 50 }).unwrap();
        assert!(!page.items.is_empty());
        search.push(t.elapsed());
    }
    rows.push([
        label.clone(),
        "filtered search, page of 50 with total (p50)".into(),
        ms(pct(&mut search, 50)),
        String::new(),
    ]);
    rows.push([
        label.clone(),
        "filtered search, page of 50 with total (p99)".into(),
        ms(pct(&mut search, 99)),
        "≤ 10 ms".into(),
    ]);

    let t = Instant::now();
    store.load_document().unwrap();
    rows.push([label.clone(), "load document in-process (first write)".into(), ms(t.elapsed()), String::new()]);
    let t = Instant::now();
    store.rebuild_view().unwrap();
    rows.push([label.clone(), "rebuild the whole view from the document".into(), ms(t.elapsed()), String::new()]);
    // A fresh device starting from the server's compacted snapshot (what the sync client does
    // on its first sync): load it, rebuild the view, answer the first page.
    let snapshot = store.save_document().unwrap();
    let fresh_path = dir.join(format!("fresh-{n}.db"));
    let mut fresh = Store::create(&fresh_path, ActorId::from(&[8u8; 16][..]), eur, now).unwrap();
    let t = Instant::now();
    fresh.adopt_snapshot(&snapshot, 1).unwrap();
    let page = fresh.list_transactions(&Filter::default(), Sort::default(), PageRequest::default()).unwrap();
    assert_eq!(page.total as usize, n);
    rows.push([
        label.clone(),
        "fresh device: adopt the server's snapshot until a query answers".into(),
        ms(t.elapsed()),
        "≤ 5 s at 100k".into(),
    ]);
    // Another device's edits arriving one at a time, as a live sync brings them.
    let target = store.transactions_by_id(None, 1).unwrap()[0].id;
    let mut merges = Vec::new();
    for i in 0..100 {
        let heads = store.heads().unwrap();
        let patch = TransactionPatch { amount: Some(format!("{}.50", 10 + i)), ..TransactionPatch::default() };
        store.edit_transaction(target, &patch, now).unwrap();
        let change = store.changes_since(&heads).unwrap();
        let t = Instant::now();
        fresh.apply_changes(&change).unwrap();
        merges.push(t.elapsed());
    }
    assert_eq!(fresh.transaction(target).unwrap().unwrap().amount.to_string(), "109.50");
    rows.push([label.clone(), "merge another device's one edit (p50)".into(), ms(pct(&mut merges, 50)), String::new()]);
    rows.push([label.clone(), "merge another device's one edit (p99)".into(), ms(pct(&mut merges, 99)), String::new()]);
    drop(fresh);
    let mut adds = Vec::new();
    for i in 0..1_000u128 {
        let input = NewTransaction {
            kind: Some(Kind::Expense),
            amount: "4.20".into(),
            date: "2026-11-20".into(),
            category: groceries.to_string(),
            description: format!("bench coffee {i}"),
            ..NewTransaction::default()
        };
        let t = Instant::now();
        store.add_transaction(&input, uuid::Uuid::from_u128(0xbe00_0000 + i), now).unwrap();
        adds.push(t.elapsed());
    }
    rows.push([label.clone(), "add one transaction (p50)".into(), ms(pct(&mut adds, 50)), String::new()]);
    rows.push([label.clone(), "add one transaction (p99)".into(), ms(pct(&mut adds, 99)), "≤ 5 ms".into()]);
    bench_plans(&mut store, &label, end, now, rows);
    drop(store);

    let out = Command::new(std::env::current_exe().unwrap()).env("EXPENSO_BENCH_LOAD", &path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let load_ms: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    let peak_mb: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    rows.push([label.clone(), "full document load, fresh process".into(), format!("{load_ms:.0} ms"), String::new()]);
    rows.push([label, "full document load, peak RSS".into(), format!("{peak_mb:.0} MB"), String::new()]);
}

/// Evaluating 200 rules — 40 budgets (each expense category monthly and annually, with
/// rollover for half) and 160 recurring rules (daily, weekly, monthly, yearly since two years)
/// — after a sync: what `run_plans` costs when nothing is due, and on a day that books
/// every monthly rule and raises alerts.
fn bench_plans(
    store: &mut Store,
    label: &str,
    end: NaiveDate,
    now: chrono::DateTime<Utc>,
    rows: &mut Vec<[String; 4]>,
) {
    use expenso_core::{BudgetPeriod, Frequency, NewBudget, NewRecurring};
    let categories: Vec<_> = store.categories(false).unwrap().into_iter().filter(|c| c.kind == Kind::Expense).collect();
    let start = end - chrono::Duration::days(3 * 365);
    let mut budgets = 0;
    'outer: for period in [BudgetPeriod::Monthly, BudgetPeriod::Annual] {
        for (i, c) in categories.iter().enumerate() {
            if budgets == 40 {
                break 'outer;
            }
            let amount = if period == BudgetPeriod::Monthly { "150" } else { "1800" };
            let input = NewBudget {
                category: Some(c.id.to_string()),
                period: Some(period),
                amount: amount.into(),
                start: Some(start.to_string()),
                rollover: Some(i % 2 == 0),
                thresholds: Some(vec![50, 80, 100]),
                ..NewBudget::default()
            };
            store.add_budget(&input, uuid::Uuid::from_u128(0xb0d6_0000 + budgets), end, now).unwrap();
            budgets += 1;
        }
    }
    let rule_start = end - chrono::Duration::days(2 * 365);
    let frequencies = [Frequency::Daily, Frequency::Weekly, Frequency::Monthly, Frequency::Yearly];
    let rules = 200 - budgets;
    for i in 0..rules {
        let frequency = frequencies[i as usize % 4];
        let input = NewRecurring {
            amount: "9.99".into(),
            category: categories[i as usize % categories.len()].id.to_string(),
            description: format!("bench bill {i}"),
            frequency: Some(frequency),
            interval: Some(if frequency == Frequency::Daily { 7 } else { 1 }),
            start: rule_start.to_string(),
            auto: Some(i % 5 != 0),
            ..NewRecurring::default()
        };
        store.add_recurring(&input, uuid::Uuid::from_u128(0x7ec0_0000 + i), now).unwrap();
    }
    // The first run catches up on two years of bookings; then each run is what follows a sync.
    store.run_plans(end, now).unwrap();
    let mut idle = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let run = store.run_plans(end, now).unwrap();
        assert_eq!(run.booked, 0);
        idle.push(t.elapsed());
    }
    rows.push([
        label.to_string(),
        "run plans, 200 rules, nothing due (p50)".into(),
        ms(pct(&mut idle, 50)),
        String::new(),
    ]);
    rows.push([
        label.to_string(),
        "run plans, 200 rules, nothing due (p99)".into(),
        ms(pct(&mut idle, 99)),
        "≤ 20 ms".into(),
    ]);
    // The next day: bookings due (weekly and daily rules), alerts from what they book.
    let mut busy = Vec::new();
    let mut day = end;
    for _ in 0..20 {
        day += chrono::Duration::days(1);
        let t = Instant::now();
        store.run_plans(day, now).unwrap();
        busy.push(t.elapsed());
    }
    rows.push([
        label.to_string(),
        "run plans, 200 rules, a day's bookings (p50)".into(),
        ms(pct(&mut busy, 50)),
        String::new(),
    ]);
    rows.push([
        label.to_string(),
        "run plans, 200 rules, a day's bookings (p99)".into(),
        ms(pct(&mut busy, 99)),
        "≤ 20 ms".into(),
    ]);
}

/// Child: load the whole document and report time and peak resident memory.
fn load_child(path: &Path) {
    let t = Instant::now();
    let mut store = Store::open(path).unwrap();
    store.load_document().unwrap();
    let elapsed = t.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    println!("{} {}", elapsed.as_secs_f64() * 1000.0, hwm_kb / 1024.0);
}

fn file_size(path: &Path) -> (u64, u64) {
    let main = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let wal = std::fs::metadata(format!("{}-wal", path.display())).map(|m| m.len()).unwrap_or(0);
    (main + wal, wal)
}

fn median(v: &mut [Duration]) -> Duration {
    pct(v, 50)
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    let i = ((v.len() * p).div_ceil(100)).saturating_sub(1).min(v.len() - 1);
    v[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn print_table(rows: &[[String; 4]]) {
    let widths: Vec<usize> =
        (0..4).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(6)).collect();
    let header = ["ledger", "measure", "result", "target"];
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header);
    println!("|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|"));
    for r in rows {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }
}
