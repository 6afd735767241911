//! Budgets, alerts and recurring rules through the REST API and through devices: the server
//! raises an alert after merging a device's expenses, a device that syncs learns of it and
//! raises nothing twice, an occurrence booked on the web is not booked again by a device, bad
//! input is refused whole, and one account never reaches another's.

use std::time::Duration;

use chrono::{Datelike, Months, Utc};
use expenso_core::sync::{PushRequest, WireChange};
use expenso_core::{Kind, NewTransaction, Store};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{device, pull, Client, TestServer};

async fn push_new(client: &Client, store: &mut Store, since: &[expenso_core::ChangeHash]) {
    let changes = store.changes_since(since).unwrap().into_iter().map(WireChange).collect();
    let (status, body) = client
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes }).unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn wait_for_alerts(client: &Client, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (status, body) = client.send(Method::GET, "/api/v1/alerts", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list = body.as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server raised no alert");
}

#[tokio::test]
async fn the_server_raises_a_budget_alert_after_merging_and_devices_raise_it_no_more() {
    let server = TestServer::start().await;
    let a = server.account("ana@example.com").await;
    let today = Utc::now().date_naive();
    let (status, budget) = a
        .send(
            Method::POST,
            &format!("/api/v1/budgets?today={today}"),
            Some(json!({"category": "groceries", "amount": "100"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{budget}");
    assert_eq!((budget["name"].as_str(), budget["amount"].as_str()), (Some("Groceries"), Some("100.00")));

    // Bad budgets are refused, naming the field, and store nothing.
    for (body, field) in [
        (json!({"category": "groceries", "amount": "0"}), "amount"),
        (json!({"category": "salary", "amount": "10"}), "category"),
        (json!({"amount": "10", "thresholds": [0]}), "thresholds"),
        (json!({"category": "groceries", "amount": "50"}), "category"),
    ] {
        let (status, err) = a.send(Method::POST, "/api/v1/budgets", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["message"].as_str().unwrap().starts_with(&format!("{field}: ")), "{err}");
    }
    let (_, raw) = a.raw(Method::POST, "/api/v1/budgets", "{\"amount\": 12").await;
    assert!(raw["code"].is_string(), "malformed JSON answers with the API's error: {raw}");
    let (_, list) = a.send(Method::GET, &format!("/api/v1/budgets?today={today}"), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A device, offline, spends 85 of 100; once it syncs, the server raises the 80% alert.
    let mut phone = device(1);
    let cursor = pull(&a, &mut phone, 0).await;
    assert_eq!(phone.budgets().unwrap().len(), 1, "the web's budget reached the device");
    let spend = NewTransaction {
        kind: Some(Kind::Expense),
        amount: "85".into(),
        // A budget counts expenses in its own currency (the ledger's base currency).
        currency: Some(budget["currency"].as_str().unwrap().to_string()),
        date: today.to_string(),
        category: "groceries".into(),
        description: "Big shop".into(),
        ..NewTransaction::default()
    };
    phone.add_transaction(&spend, Uuid::now_v7(), Utc::now()).unwrap();
    // Everything the phone has (its own start included: the expense depends on it).
    push_new(&a, &mut phone, &[]).await;
    let alerts = wait_for_alerts(&a, 1).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["threshold"].as_u64(), alerts[0]["spent"].as_str()), (Some(80), Some("85.00")));
    let (_, status_list) = a.send(Method::GET, &format!("/api/v1/budgets?today={today}"), None).await;
    let s = &status_list[0];
    assert_eq!(
        (s["spent"].as_str(), s["remaining"].as_str(), s["percent"].as_str()),
        (Some("85.00"), Some("15.00"), Some("85.0"))
    );
    assert_eq!(s["alerts"].as_array().unwrap().len(), 1);

    // The device learns of it and raises nothing again.
    pull(&a, &mut phone, cursor).await;
    assert_eq!(phone.alerts().unwrap().len(), 1);
    assert!(phone.run_plans(today, Utc::now()).unwrap().alerts.is_empty());

    // Budgets are projected into PostgreSQL.
    let rows: Vec<(String, String, Vec<i32>)> =
        sqlx::query_as("SELECT name, amount::text, thresholds FROM ledger_budgets")
            .fetch_all(&server.state.pg)
            .await
            .unwrap();
    assert_eq!(rows, [("Groceries".to_string(), "100.0000".to_string(), vec![80, 100])]);

    // Another account sees none of it and can change none of it.
    let b = server.account("bo@example.com").await;
    let (_, theirs) = b.send(Method::GET, "/api/v1/budgets", None).await;
    assert_eq!(theirs, json!([]));
    let (_, theirs) = b.send(Method::GET, "/api/v1/alerts", None).await;
    assert_eq!(theirs, json!([]));
    let id = budget["id"].as_str().unwrap();
    let (status, _) = b.send(Method::PATCH, &format!("/api/v1/budgets/{id}"), Some(json!({"amount": "1"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let alert_id = alerts[0]["id"].as_str().unwrap();
    let (status, _) = b.send(Method::POST, &format!("/api/v1/alerts/{alert_id}/dismiss"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b.send(Method::DELETE, &format!("/api/v1/budgets/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Dismissing on the web reaches the device.
    let (status, body) = a.send(Method::POST, &format!("/api/v1/alerts/{alert_id}/dismiss"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, after) = a.send(Method::GET, "/api/v1/alerts", None).await;
    assert_eq!(after[0]["dismissed"], json!(true));
    pull(&a, &mut phone, 0).await;
    assert!(phone.alerts().unwrap()[0].dismissed);
    let (status, _) = a.send(Method::GET, &format!("/api/v1/budgets/{id}/history?periods=3&today={today}"), None).await;
    assert_eq!(status, StatusCode::OK);
    server.cleanup().await;
}

#[tokio::test]
async fn recurring_rules_book_each_occurrence_once_between_the_web_and_a_device() {
    let server = TestServer::start().await;
    let a = server.account("ana@example.com").await;
    let today = chrono::NaiveDate::from_ymd_opt(2027, 5, 20).unwrap();
    let start = (today - Months::new(3)).with_day(1).unwrap();
    let rent = json!({"amount": "950", "category": "housing", "description": "Rent", "frequency": "monthly",
                      "day": 31, "start": start.to_string(), "remind_days": 5});
    let (status, rule) = a.send(Method::POST, "/api/v1/recurring", Some(rent)).await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert_eq!(rule["next_due"], json!("2027-02-28"));

    for (body, message) in [
        (
            json!({"amount": "5", "category": "other", "description": "x", "frequency": "yearly", "day": 30, "month": 2, "start": "2027-01-01"}),
            "day: 30 February never occurs",
        ),
        (
            json!({"amount": "5", "category": "other", "description": "x", "frequency": "weekly", "interval": 0, "start": "2027-01-01"}),
            "interval: must be between 1 and 999",
        ),
        (
            json!({"amount": "5", "category": "other", "description": "x", "frequency": "daily", "start": "2027-01-01", "end": "2026-01-01"}),
            "end: is before the start",
        ),
    ] {
        let (status, err) = a.send(Method::POST, "/api/v1/recurring", Some(body)).await;
        assert_eq!((status, err["message"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(message)));
    }
    let (_, rules) = a.send(Method::GET, "/api/v1/recurring", None).await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "nothing of the refused rules was stored");

    // The web runs the plans with the browser's date: February, March and April book.
    let (status, run) = a.send(Method::POST, "/api/v1/plans/run", Some(json!({"today": today.to_string()}))).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["booked"], json!(3));
    let (_, run) = a.send(Method::POST, "/api/v1/plans/run", Some(json!({"today": today.to_string()}))).await;
    assert_eq!(run["booked"], json!(0), "running again books nothing");
    assert_eq!(run["reminders"].as_array().unwrap().len(), 0, "May's reminder starts on the 26th");

    // A device that was offline runs its own plans on the same day: nothing is booked twice.
    let mut laptop = device(2);
    laptop
        .add_transaction(
            &NewTransaction {
                kind: Some(Kind::Expense),
                amount: "4".into(),
                date: "2027-05-02".into(),
                category: "food & dining".into(),
                ..NewTransaction::default()
            },
            Uuid::now_v7(),
            Utc::now(),
        )
        .unwrap();
    pull(&a, &mut laptop, 0).await;
    assert_eq!(laptop.run_plans(today, Utc::now()).unwrap().booked, 0);
    let (_, page) = a.send(Method::GET, "/api/v1/transactions?q=rent&limit=50", None).await;
    let dates: Vec<&str> = page["items"].as_array().unwrap().iter().map(|t| t["date"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2027-04-30", "2027-03-31", "2027-02-28"]);

    // Upcoming, skip and book one occurrence with another amount.
    let id = rule["id"].as_str().unwrap();
    let (_, upcoming) = a.send(Method::GET, &format!("/api/v1/recurring/upcoming?days=45&today={today}"), None).await;
    let dues: Vec<&str> = upcoming.as_array().unwrap().iter().map(|o| o["due"].as_str().unwrap()).collect();
    assert_eq!(dues, ["2027-05-31", "2027-06-30"]);
    assert_eq!(upcoming[0]["remind_on"], json!("2027-05-26"));
    let (status, _) = a.send(Method::POST, &format!("/api/v1/recurring/{id}/occurrences/2027-05-31/skip"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) =
        a.send(Method::POST, &format!("/api/v1/recurring/{id}/occurrences/2027-05-31/skip"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, booked) = a
        .send(
            Method::POST,
            &format!("/api/v1/recurring/{id}/occurrences/2027-06-30/book"),
            Some(json!({"amount": "975.50"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!((booked["amount"].as_str(), booked["date"].as_str()), (Some("975.50"), Some("2027-06-30")));
    let (status, _) =
        a.send(Method::POST, &format!("/api/v1/recurring/{id}/occurrences/2027-06-15/book"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not an occurrence");

    // Editing the series and deleting it; the device follows.
    let (status, edited) = a
        .send(
            Method::PATCH,
            &format!("/api/v1/recurring/{id}?today={today}"),
            Some(json!({"amount": "1000", "end": null})),
        )
        .await;
    assert_eq!((status, edited["amount"].as_str()), (StatusCode::OK, Some("1000.00")));
    pull(&a, &mut laptop, 0).await;
    assert_eq!(laptop.recurring_rules().unwrap()[0].amount.to_string(), "1000.00");

    let b = server.account("bo@example.com").await;
    let (status, _) = b.send(Method::POST, &format!("/api/v1/recurring/{id}/occurrences/2027-07-31/skip"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b.send(Method::DELETE, &format!("/api/v1/recurring/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = b.send(Method::GET, "/api/v1/recurring", None).await;
    assert_eq!(theirs, json!([]));

    let (status, _) = a.send(Method::DELETE, &format!("/api/v1/recurring/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = a.send(Method::GET, "/api/v1/transactions?q=rent&limit=50", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 4, "booked transactions stay");
    server.cleanup().await;
}
