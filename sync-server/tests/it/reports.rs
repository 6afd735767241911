//! Reports and bank statement imports through the web API: the report equals a device's own,
//! downloads as CSV and PDF; a statement is inspected, previewed and imported once, its rows
//! reach devices, a bad file changes nothing, and accounts stay apart.

use base64::Engine;
use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{device, pull, Client, TestServer};
use crate::web::{fill, push_all, uuid_of, wait_for_records};

fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/import").join(name);
    let bytes = std::fs::read(path).unwrap();
    json!({ "file_name": name, "content": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

async fn download(client: &Client, path: &str) -> (StatusCode, String, String, Vec<u8>) {
    let resp = client.download(path).await;
    let status = resp.status();
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    (status, kind, disposition, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_web_report_is_the_devices_own_and_downloads_as_csv_and_pdf() {
    let server = TestServer::start().await;
    let web = server.account("report@example.com").await;
    let mut ledger = device(1);
    fill(&mut ledger);
    push_all(&web, &mut ledger).await;
    wait_for_records(&web, 9).await;

    let (status, mut report) = web.send(Method::GET, "/api/v1/reports?from=2026-01-01&to=2026-03-31", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let at = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
    let mut local = serde_json::to_value(ledger.report(from, to, at).unwrap()).unwrap();
    report["generated_at"] = Value::Null;
    local["generated_at"] = Value::Null;
    assert_eq!(report, local, "the server's report is the device's");
    assert_eq!(report["period"]["label"], "Q1 2026");

    let (status, kind, disposition, csv) =
        download(&web, "/api/v1/reports?from=2026-01-01&to=2026-03-31&format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        kind.starts_with("text/csv") && disposition.contains("expensotrack-report-2026-01-01-2026-03-31.csv"),
        "{kind} {disposition}"
    );
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 1 + 9);
    let (status, kind, _, pdf) =
        download(&web, "/api/v1/reports?from=2026-01-01&to=2026-03-31&format=pdf&paper=letter").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 10_000);
    for bad in [
        "from=2026-03-01&to=2026-01-01",
        "from=2026-01-01&to=2026-01-31&format=xls",
        "from=x&to=2026-01-01",
        "from=2026-01-01&to=2026-02-01&paper=a5",
    ] {
        let (status, error) = web.send(Method::GET, &format!("/api/v1/reports?{bad}"), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {error}");
    }
    // Another account's report holds none of it.
    let other = server.account("someone@example.com").await;
    let (_, theirs) = other.send(Method::GET, "/api/v1/reports?from=2026-01-01&to=2026-03-31", None).await;
    assert_eq!(theirs["transactions"], json!([]));
    server.cleanup().await;
}

#[tokio::test]
async fn a_statement_is_previewed_imported_once_and_reaches_devices() {
    let server = TestServer::start().await;
    let web = server.account("import@example.com").await;
    let phone = web.login("import@example.com", "phone").await;
    let (status, inspection) = web.send(Method::POST, "/api/v1/import/inspect", Some(sample("de_girokonto.csv"))).await;
    assert_eq!(status, StatusCode::OK, "{inspection}");
    assert_eq!(inspection["format"], "csv");
    assert_eq!(inspection["csv"]["mapping"]["skip_rows"], 4, "{inspection}");

    let mut body = sample("de_girokonto.csv");
    body["options"] = json!({ "mapping": inspection["csv"]["mapping"], "tags": ["bank"] });
    let (status, preview) = web.send(Method::POST, "/api/v1/import/preview", Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!((preview["new"].as_u64(), preview["skipped"].as_u64()), (Some(8), Some(1)));
    let account = uuid_of(&server, "import@example.com").await;
    let before = server.state.log.latest(account).await.unwrap();
    assert_eq!(before, server.state.log.latest(account).await.unwrap(), "a preview writes nothing");

    let (status, done) = web.send(Method::POST, "/api/v1/import", Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["added"], 8);
    let (_, again) = web.send(Method::POST, "/api/v1/import", Some(body.clone())).await;
    assert_eq!((again["added"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(8)));
    let page = wait_for_records(&web, 8).await;
    assert!(page["items"].as_array().unwrap().iter().all(|t| t["tags"] == json!(["bank"])));
    let (_, balance) = web.send(Method::GET, "/api/v1/summaries/balance", None).await;
    assert_eq!(
        (balance["base"]["income"].as_str(), balance["base"]["expense"].as_str()),
        (Some("2869.99"), Some("1519.98"))
    );
    // A device pulls the imported transactions.
    let mut ledger = device(2);
    pull(&phone, &mut ledger, 0).await;
    assert_eq!(ledger.transaction_count().unwrap(), 8);

    // Bad files and bodies: a clear 4xx, nothing written.
    let latest = server.state.log.latest(account).await.unwrap();
    let (status, error) = web.send(Method::POST, "/api/v1/import", Some(sample("bad_truncated.ofx"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().starts_with("bad_truncated.ofx, line "), "{error}");
    let (status, error) =
        web.send(Method::POST, "/api/v1/import", Some(json!({"file_name": "x.csv", "content": "%%%"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().starts_with("content: not base64"), "{error}");
    let (status, _) = web.send(Method::POST, "/api/v1/import", Some(json!({"file_name": 3}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut wrong_line = body.clone();
    wrong_line["options"]["skip_lines"] = json!([1000]);
    let (status, error) = web.send(Method::POST, "/api/v1/import", Some(wrong_line)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let huge = json!({"file_name": "big.csv", "content": "A".repeat(17 * 1024 * 1024)});
    let (status, _) = web.send(Method::POST, "/api/v1/import/preview", Some(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.state.log.latest(account).await.unwrap(), latest, "nothing was written");

    // Another account's ledger is its own: the same file is new there, and its import does
    // not touch the first account.
    let other = server.account("other-import@example.com").await;
    let (_, theirs) = other.send(Method::POST, "/api/v1/import/preview", Some(body)).await;
    assert_eq!(theirs["new"], 8);
    let (status, _) = other.send(Method::POST, "/api/v1/import/inspect", Some(sample("bank_sgml.ofx"))).await;
    assert_eq!(status, StatusCode::OK);
    let client = server.client();
    let (status, _) = client.send(Method::POST, "/api/v1/import/preview", Some(sample("bank_sgml.ofx"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.cleanup().await;
}
