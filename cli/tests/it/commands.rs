//! The commands a person or a script runs, and how errors look.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn expenso(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_expenso")).arg("--data-dir").arg(dir).args(args).output().expect("expenso runs")
}

/// Runs a command that must succeed and returns its standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = expenso(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(dir, &all)).expect("valid JSON")
}

/// Runs a command that must fail; returns its one line of standard error.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = expenso(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    err.trim_end().to_string()
}

#[test]
fn a_person_records_lists_edits_and_summarizes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        fails(d, &["list"]),
        format!("error: no ledger at {}; create one with `expenso init`", d.join("ledger.db").display())
    );
    ok(d, &["init", "--currency", "eur"]);
    assert!(fails(d, &["init"]).contains("already exists"));

    let t = json(d, &["add", "12.50", "-c", "groceries", "-d", "Weekly market", "--date", "2026-11-02", "-t", "food"]);
    assert_eq!(t["amount"], "12.50");
    assert_eq!(t["currency"], "EUR");
    json(d, &["add", "2500", "--income", "-c", "salary", "-d", "Salary", "--date", "2026-11-01"]);
    json(
        d,
        &[
            "add",
            "30",
            "--currency",
            "usd",
            "-c",
            "shopping",
            "-d",
            "Online order",
            "-p",
            "card",
            "--date",
            "2026-10-10",
        ],
    );

    let list = json(d, &["list", "--month", "2026-11"]);
    assert_eq!(list["total"], 2);
    let page = json(d, &["list", "--kind", "expense", "--sort", "amount", "--asc", "--limit", "1"]);
    assert_eq!(page["items"][0]["description"], "Weekly market");
    assert_eq!(json(d, &["list", "--search", "market"])["total"], 1);
    assert_eq!(json(d, &["list", "--tag", "food"])["total"], 1);
    assert_eq!(json(d, &["list", "-p", "card"])["total"], 1);
    assert_eq!(json(d, &["list", "--min", "20", "--max", "100"])["total"], 1);
    assert_eq!(json(d, &["list", "--from", "2026-10-01", "--to", "2026-10-31"])["total"], 1);

    // A short id is the end of the full id, as the table shows it.
    let id = t["id"].as_str().unwrap().replace('-', "");
    let short = &id[id.len() - 8..];
    let table = ok(d, &["list"]);
    assert!(table.contains(short), "{table}");
    let edited = json(d, &["edit", short, "--amount", "13", "--clear-tags"]);
    assert_eq!(edited["amount"], "13.00");
    assert!(edited.get("tags").is_none_or(|t| t.as_array().unwrap().is_empty()));

    let summary = json(d, &["summary", "--month", "2026-11", "--months", "3"]);
    assert_eq!(summary["totals"]["currencies"][0]["income"], "2500.00");
    assert_eq!(summary["totals"]["currencies"][0]["expense"], "13.00");
    assert_eq!(summary["totals"]["base"]["net"], "2487.00");
    assert_eq!(summary["trend"].as_array().unwrap().len(), 3);
    assert_eq!(summary["trend"][1]["totals"][0]["currency"], "USD");
    let text = ok(d, &["summary", "--month", "2026-11"]);
    assert!(text.contains("2487.00"), "{text}");

    json(d, &["delete", short]);
    assert_eq!(json(d, &["list"])["total"], 2);
    assert!(fails(d, &["delete", short]).contains("no transaction"));
}

#[test]
fn bad_input_gets_one_clear_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["init"]);
    json(d, &["add", "5", "-c", "other", "--date", "2026-01-01"]);
    let before = ok(d, &["export"]);
    for (args, expect) in [
        (vec!["add", "-5", "-c", "other"], "error: amount: must be greater than zero"),
        (vec!["add", "0", "-c", "other"], "error: amount: must be greater than zero"),
        (vec!["add", "abc", "-c", "other"], "error: amount: \"abc\" is not a number"),
        (vec!["add", "1.234", "-c", "other"], "error: amount: EUR allows 2 decimals"),
        (
            vec!["add", "1", "-c", "other", "--currency", "EURO"],
            "error: currency: \"EURO\" is not an ISO 4217 currency code",
        ),
        (vec!["add", "1", "-c", "other", "--date", "2026-02-30"], "error: date: \"2026-02-30\" is not a valid date"),
        (vec!["add", "1", "-c", "nope"], "error: category: no category \"nope\" for expense"),
        (vec!["add", "1", "-c", "other", "-d", &"x".repeat(300)], "error: description: is 300 characters long"),
        (vec!["list", "--from", "yesterday"], "error: from: \"yesterday\" is not a valid date"),
        (
            vec!["categories", "delete", "other", "--kind", "expense"],
            "error: category: \"Other\" catches transactions whose category is gone",
        ),
    ] {
        let err = fails(d, &args);
        assert!(err.starts_with(expect), "{args:?}: {err}");
    }
    assert_eq!(ok(d, &["export"]), before, "nothing changed");
    // A mistyped command is a usage error (exit 2), not a refused operation.
    assert_eq!(expenso(d, &["frobnicate"]).status.code(), Some(2));
}

#[test]
fn categories_and_payment_methods() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["init"]);
    json(d, &["categories", "add", "Pets", "--kind", "expense", "--color", "#aa5500", "--icon", "🐶"]);
    json(d, &["add", "40", "-c", "pets", "--date", "2026-01-05"]);
    let renamed = json(d, &["categories", "edit", "pets", "--name", "Animals"]);
    assert_eq!(renamed["name"], "Animals");
    let err = fails(d, &["categories", "delete", "animals"]);
    assert!(err.contains("still has 1 transaction"), "{err}");
    let moved = json(d, &["categories", "delete", "animals", "--move-to", "health"]);
    assert_eq!(moved["moved"], 1);
    let list = json(d, &["categories", "list"]);
    let health = list.as_array().unwrap().iter().find(|c| c["name"] == "Health").unwrap();
    assert_eq!(health["transactions"], 1);
    json(d, &["categories", "edit", "health", "--archive"]);
    assert!(!json(d, &["categories", "list"]).as_array().unwrap().iter().any(|c| c["name"] == "Health"));
    assert!(json(d, &["categories", "list", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "Health" && c["archived"] == true));

    json(d, &["payment-methods", "add", "PayPal"]);
    json(d, &["add", "3", "-c", "other", "-p", "paypal"]);
    assert_eq!(json(d, &["list", "-p", "PayPal"])["total"], 1);
    json(d, &["settings", "--currency", "gbp"]);
    assert_eq!(json(d, &["settings"])["base_currency"], "GBP");
}

#[test]
fn export_and_import_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    ok(&a, &["init", "--currency", "CHF"]);
    ok(&a, &["sample-data", "--count", "150", "--batch", "50"]);
    let file = dir.path().join("backup.json");
    ok(&a, &["export", "--output", file.to_str().unwrap()]);
    ok(&b, &["init"]);
    let summary = json(&b, &["import", file.to_str().unwrap()]);
    assert_eq!(summary["transactions"], 150);
    assert_eq!(ok(&b, &["export"]), ok(&a, &["export"]));

    let broken = dir.path().join("broken.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&broken, &text[..text.len() / 2]).unwrap();
    let before = ok(&b, &["export"]);
    let err = fails(&b, &["import", broken.to_str().unwrap()]);
    assert!(err.contains("broken.json") && err.contains("invalid backup"), "{err}");
    assert_eq!(ok(&b, &["export"]), before);
}

#[test]
fn a_damaged_ledger_file_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ledger.db"), b"definitely not a database").unwrap();
    let err = fails(d, &["list"]);
    assert!(err.contains("damaged"), "{err}");
    assert_eq!(std::fs::read(d.join("ledger.db")).unwrap(), b"definitely not a database");
}

#[test]
fn budgets_alerts_and_recurring_bills_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["init", "--currency", "EUR"]);
    let today = chrono::Local::now().date_naive();
    let budget = json(d, &["budgets", "add", "100", "-c", "groceries", "--threshold", "50", "--threshold", "90"]);
    assert_eq!(
        (budget["name"].as_str(), budget["thresholds"].clone()),
        (Some("Groceries"), serde_json::json!([50, 90]))
    );
    assert_eq!(fails(d, &["budgets", "add", "0", "-c", "transport"]), "error: amount: must be greater than zero");
    json(d, &["add", "60", "-c", "groceries", "-d", "Market", "--date", &today.to_string()]);
    let run = json(d, &["due"]);
    assert_eq!(run["alerts"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(run["alerts"][0]["threshold"], 50);
    assert_eq!(json(d, &["due"])["alerts"], serde_json::json!([]), "raised once");
    let list = json(d, &["budgets", "list"]);
    assert_eq!((list[0]["spent"].as_str(), list[0]["percent"].as_str()), (Some("60.00"), Some("60.0")));
    let alerts = json(d, &["alerts"]);
    let id = alerts[0]["id"].as_str().unwrap();
    json(d, &["alerts", "--dismiss", id]);
    assert_eq!(json(d, &["alerts"])[0]["dismissed"], true);

    // A monthly bill since the first of last month: `due` books what came due, once.
    let first = (today - chrono::Months::new(1)).format("%Y-%m-01").to_string();
    assert_eq!(
        fails(
            d,
            &[
                "recurring",
                "add",
                "5",
                "-c",
                "other",
                "-d",
                "Bad",
                "--every",
                "yearly",
                "--day",
                "30",
                "--month",
                "2",
                "--start",
                &first
            ]
        ),
        "error: day: 30 February never occurs"
    );
    let rule = json(
        d,
        &[
            "recurring",
            "add",
            "9.99",
            "-c",
            "entertainment",
            "-d",
            "Streaming",
            "--every",
            "monthly",
            "--start",
            &first,
        ],
    );
    let booked = json(d, &["due"])["booked"].as_u64().unwrap();
    assert_eq!(booked, 2, "last month's and this month's");
    assert_eq!(json(d, &["due"])["booked"], 0);
    let page = json(d, &["list", "--search", "streaming"]);
    assert_eq!(page["total"], 2);
    let upcoming = json(d, &["recurring", "upcoming", "--days", "40"]);
    let next = upcoming[0]["due"].as_str().unwrap().to_string();
    let short = &rule["id"].as_str().unwrap()[..8];
    json(d, &["recurring", "skip", short, &next]);
    assert!(fails(d, &["recurring", "skip", short, &next]).starts_with("error: due: "));
    assert!(ok(d, &["recurring", "list"]).contains("Streaming"));
    ok(d, &["check"]);
}

/// Serves one ECB file over HTTP on a free port until the test ends; returns the address.
fn ecb_file_server(name: &'static str, body: String) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request);
            let found = request.contains(&format!("/{name} "));
            let (status, text) = if found { ("200 OK", body.as_str()) } else { ("404 Not Found", "") };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    url
}

#[test]
fn totals_convert_with_fetched_and_manual_rates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["init", "--currency", "EUR"]);
    ok(d, &["add", "100", "--category", "travel", "--currency", "USD", "--date", "2026-02-04", "-d", "Hotel"]);
    ok(d, &["add", "20", "--category", "travel", "--date", "2026-02-04", "-d", "Train"]);
    let text = ok(d, &["summary", "--month", "2026-02"]);
    assert!(text.contains("1 transaction(s) in USD have no exchange rate"), "{text}");

    // The ECB's history file (the transaction is older than the 90-day file reaches) from a
    // local server (EXPENSO_ECB_URL): 1 EUR = 1.25 USD.
    let xml = "<Cube><Cube time='2026-02-03'><Cube currency='USD' rate='1.25'/><Cube currency='GBP' rate='0.8'/></Cube></Cube>";
    let url = ecb_file_server("eurofxref-hist.xml", xml.to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_expenso"))
        .args(["--data-dir", d.to_str().unwrap(), "--json", "rates", "fetch"])
        .env("EXPENSO_ECB_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fetched: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((fetched["feed"].as_str(), fetched["days"].as_u64()), (Some("history"), Some(1)));
    let summary = json(d, &["summary", "--month", "2026-02"]);
    // 100 / 1.25 = 80.00 EUR, plus 20 EUR.
    assert_eq!(summary["totals"]["base"]["expense"], "100.00");
    assert_eq!(summary["totals"]["unconverted"], serde_json::json!([]));
    let shown = ok(d, &["show", json(d, &["list", "--search", "hotel"])["items"][0]["id"].as_str().unwrap()]);
    assert!(shown.contains("80.00 EUR"), "{shown}");

    // A manual rate wins on its date.
    let rate = json(d, &["rates", "set", "USD", "0.9", "--date", "2026-02-04"]);
    assert_eq!((rate["rate"].as_str(), rate["to"].as_str()), (Some("0.9"), Some("EUR")));
    assert_eq!(json(d, &["summary", "--month", "2026-02"])["totals"]["base"]["expense"], "110.00");
    let list = ok(d, &["rates", "list"]);
    assert!(list.contains("1 USD = 0.9 EUR") && list.contains("2026-02-03"), "{list}");
    assert!(fails(d, &["rates", "set", "USD", "0", "--date", "2026-02-04"]).contains("rate:"));
    ok(d, &["rates", "delete", "USD", "--date", "2026-02-04"]);
    assert_eq!(json(d, &["summary", "--month", "2026-02"])["totals"]["base"]["expense"], "100.00");
    assert!(fails(d, &["rates", "delete", "USD", "--date", "2026-02-04"]).contains("not found"));
    ok(d, &["check"]);
}

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/import").join(name).display().to_string()
}

#[test]
fn a_bank_statement_is_previewed_imported_once_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["init", "--currency", "EUR"]);
    let csv = sample("de_girokonto.csv");
    let preview = ok(d, &["import", &csv, "--preview"]);
    assert!(preview.contains("8 new") && preview.contains("Nothing was written"), "{preview}");
    assert!(preview.contains("Bäckerei Schröder GmbH"), "decoded from Windows-1252: {preview}");
    assert_eq!(json(d, &["list"])["total"], 0);
    let done = json(d, &["import", &csv]);
    assert_eq!((done["added"].as_u64(), done["skipped"].as_u64()), (Some(8), Some(1)));
    let again = json(d, &["import", &csv]);
    assert_eq!((again["added"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(8)));
    // A bad file: one line naming file, line and column; nothing written.
    let err = fails(d, &["import", &sample("bad_date.csv")]);
    assert!(err.contains("bad_date.csv, line "), "{err}");
    assert_eq!(json(d, &["list"])["total"], 8);
    // Columns named by hand.
    let own = d.join("own.csv");
    std::fs::write(&own, "when;what;how much\n03.04.2024;Kiosk;-2,50\n").unwrap();
    let err = fails(d, &["import", own.to_str().unwrap(), "--columns", "date=when,amount=nope,description=what"]);
    assert!(err.contains("nope"), "{err}");
    let done = json(
        d,
        &[
            "import",
            own.to_str().unwrap(),
            "--columns",
            "date=when,amount=how much,description=what",
            "--decimal-comma",
            "--tag",
            "cash",
        ],
    );
    assert_eq!(done["added"], 1);

    // The March report: CSV rows sum to the totals, the PDF is written.
    let report = json(d, &["report", "--month", "2024-03"]);
    assert_eq!(
        (report["summary"]["income"].as_str(), report["summary"]["expense"].as_str()),
        (Some("2869.99"), Some("1519.98"))
    );
    let text = ok(d, &["report", "--month", "2024-03", "--format", "csv"]);
    assert!(text.starts_with('\u{feff}'), "UTF-8 with a byte-order mark");
    assert_eq!(text.lines().count(), 1 + 8);
    assert!(text.contains("Bäckerei Schröder GmbH"));
    let pdf = d.join("march.pdf");
    let written = json(
        d,
        &[
            "report",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--format",
            "pdf",
            "-o",
            pdf.to_str().unwrap(),
            "--paper",
            "letter",
        ],
    );
    assert_eq!(written["period"]["label"], "March 2024");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let table = ok(d, &["report", "--quarter", "2024-Q1"]);
    assert!(table.contains("Q1 2024") && table.contains("By category"), "{table}");
    assert!(fails(d, &["report", "--quarter", "2024-Q5"]).contains("quarter"));
    ok(d, &["check"]);
}
