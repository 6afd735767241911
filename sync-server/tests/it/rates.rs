//! Exchange rates on the server: fetched from an ECB file server into the account's ledger,
//! converting the dashboard's figures exactly as the devices' own ledgers do; manual rates;
//! an unreachable ECB; accounts apart.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{device, ecb_server, pull, TestServer};
use crate::web::{assert_dashboard_matches, fill, push_all, wait_for_records};

/// An ECB "last 90 days" file: every working day from 2026-01-19 to 2026-03-06, newest first
/// as the ECB writes it: 1 EUR = 1.08 USD = 0.333 KWD (and 158 JPY).
fn ecb_90_days() -> String {
    let mut days = String::new();
    let mut d = NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
    while d >= NaiveDate::from_ymd_opt(2026, 1, 19).unwrap() {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push_str(&format!(
                "<Cube time=\"{d}\"><Cube currency=\"USD\" rate=\"1.08\"/><Cube currency=\"JPY\" rate=\"158\"/>\
                 <Cube currency=\"KWD\" rate=\"0.333\"/></Cube>\n"
            ));
        }
        d -= Duration::days(1);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" \
         xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\"><gesmes:subject>Reference rates</gesmes:subject>\
         <Cube>{days}</Cube></gesmes:Envelope>"
    )
}

#[tokio::test]
async fn rates_fetched_on_the_web_convert_the_dashboard_as_devices_do() {
    let ecb = ecb_server(vec![("eurofxref-hist-90d.xml", ecb_90_days())]).await;
    let server = TestServer::start_with(|c| c.ecb_url = ecb.clone()).await;
    let web = server.account("rates@example.com").await;
    let phone = web.login("rates@example.com", "phone").await;
    let mut ledger = device(1);
    fill(&mut ledger);
    push_all(&phone, &mut ledger).await;
    wait_for_records(&web, 9).await;

    let (status, outcome) = web.send(Method::POST, "/api/v1/rates/refresh?today=2026-03-09", None).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["feed"], "last90_days");
    // From a week before the first transaction in another currency (2026-02-02).
    assert_eq!(outcome["days"], 30);
    let (status, again) = web.send(Method::POST, "/api/v1/rates/refresh?today=2026-03-09", None).await;
    assert_eq!((status, &again["feed"]), (StatusCode::OK, &json!(null)), "current rates fetch nothing: {again}");

    // The device receives the rates and its own view converts exactly as the dashboard does.
    pull(&phone, &mut ledger, 0).await;
    assert_dashboard_matches(&web, &ledger).await;
    let (_, balance) = web.send(Method::GET, "/api/v1/summaries/balance", None).await;
    // 19.995 KWD / 0.333 = 60.045… → 60.05 EUR; 150.25 USD / 1.08 = 139.120… → 139.12 EUR.
    assert_eq!(balance["base"]["expense"], "1357.37", "{balance}");
    assert_eq!(balance["base"]["income"], "2639.12", "{balance}");
    assert_eq!(balance["unconverted"], json!([]));
    let (_, overview) = web.send(Method::GET, "/api/v1/rates", None).await;
    assert_eq!(overview["ecb_latest"], "2026-03-06");
    assert_eq!(overview["currencies"], json!(["KWD", "USD"]));

    // A manual rate wins on its date; the device follows.
    let manual = json!({"from": "KWD", "date": "2026-02-02", "rate": "3.2"});
    let (status, rate) = web.send(Method::POST, "/api/v1/rates", Some(manual)).await;
    assert_eq!(status, StatusCode::CREATED, "{rate}");
    assert_eq!((rate["to"].as_str(), rate["source"].as_str()), (Some("EUR"), Some("manual")));
    pull(&phone, &mut ledger, 0).await;
    assert_dashboard_matches(&web, &ledger).await;
    let (_, balance) = web.send(Method::GET, "/api/v1/summaries/balance", None).await;
    // 19.995 × 3.2 = 63.984 → 63.98
    assert_eq!(balance["base"]["expense"], "1361.30", "{balance}");

    for (body, field) in [
        (json!({"from": "KWD", "date": "2026-02-02", "rate": "-1"}), "rate: "),
        (json!({"from": "EUR", "date": "2026-02-02", "rate": "1"}), "to: "),
        (json!({"from": "KWD", "date": "2026-02-31", "rate": "1"}), "date: "),
    ] {
        let (status, error) = web.send(Method::POST, "/api/v1/rates", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert!(error["message"].as_str().unwrap().starts_with(field), "{error}");
    }
    let (status, _) = web.send(Method::DELETE, "/api/v1/rates/KWD/EUR/2026-02-02", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = web.send(Method::DELETE, "/api/v1/rates/KWD/EUR/2026-02-02", None).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    // Another account sees none of it, and cannot remove it.
    let other = server.account("other@example.com").await;
    let (_, theirs) = other.send(Method::GET, "/api/v1/rates", None).await;
    assert_eq!((theirs["ecb_latest"].clone(), theirs["manual"].clone()), (json!(null), json!([])));
    let (status, _) = web
        .send(Method::POST, "/api/v1/rates", Some(json!({"from": "USD", "date": "2026-03-01", "rate": "0.9"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = other.send(Method::DELETE, "/api/v1/rates/USD/EUR/2026-03-01", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = web.send(Method::GET, "/api/v1/rates", None).await;
    assert_eq!(mine["manual"].as_array().unwrap().len(), 1);
    server.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_ecb_is_a_clear_503_and_changes_nothing() {
    let server = TestServer::start_with(|c| c.ecb_url = "http://127.0.0.1:9/".into()).await;
    let web = server.account("offline@example.com").await;
    let (status, error) = web.send(Method::POST, "/api/v1/rates/refresh?force=true", None).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{error}");
    let (_, overview) = web.send(Method::GET, "/api/v1/rates", None).await;
    assert_eq!(overview["ecb_latest"], json!(null));
    server.cleanup().await;
}
