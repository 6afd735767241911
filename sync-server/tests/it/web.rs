//! The web dashboard's API: records and summaries follow what devices sync, edits made on
//! the web reach devices, fresh devices start from a snapshot, and accounts stay apart.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use expenso_core::sync::{PushRequest, WireChange};
use expenso_core::{
    ActorId, CategoryPatch, Filter, Kind, Month, NewCategory, NewTransaction, PageRequest, Sort, SortBy, Store,
    TransactionPatch,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{device, pull, Client, TestServer};

fn input(kind: Kind, amount: &str, currency: &str, date: &str, category: &str, description: &str) -> NewTransaction {
    NewTransaction {
        kind: Some(kind),
        amount: amount.into(),
        currency: Some(currency.into()),
        date: date.into(),
        category: category.into(),
        description: description.into(),
        ..NewTransaction::default()
    }
}

/// A transaction's JSON without its converted amount.
fn without_base(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("base_amount");
    }
    v
}

/// A varied ledger: two currencies, both kinds, several categories and months, tags.
pub(crate) fn fill(store: &mut Store) {
    let rows = [
        (Kind::Expense, "12.50", "EUR", "2026-01-03", "groceries", "Market day"),
        (Kind::Expense, "3.20", "EUR", "2026-01-04", "groceries", "Bakery bread"),
        (Kind::Expense, "40.00", "EUR", "2026-01-20", "transport", "Fuel"),
        (Kind::Income, "2500", "EUR", "2026-01-31", "salary", "January salary"),
        (Kind::Expense, "19.995", "KWD", "2026-02-02", "entertainment", "Streaming"),
        (Kind::Expense, "7.05", "EUR", "2026-02-14", "food & dining", "Coffee and cake"),
        (Kind::Expense, "0.01", "EUR", "2026-02-28", "other", "Rounding test"),
        (Kind::Income, "150.25", "USD", "2026-03-01", "freelance", "Logo design"),
        (Kind::Expense, "1234.56", "EUR", "2026-03-05", "housing", "Rent share"),
    ];
    for (i, (kind, amount, currency, date, category, description)) in rows.into_iter().enumerate() {
        let mut t = input(kind, amount, currency, date, category, description);
        if i % 3 == 0 {
            t.tags = vec!["trip".into()];
        }
        t.payment_method = Some(if i % 2 == 0 { "card" } else { "cash" }.into());
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, i as u32).unwrap();
        store.add_transaction(&t, Uuid::now_v7(), at).unwrap();
    }
}

pub(crate) async fn push_all(client: &Client, store: &mut Store) {
    let changes = store.changes_since(&[]).unwrap().into_iter().map(WireChange).collect();
    let (status, body) = client
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes }).unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until the dashboard lists `count` transactions (the materializer runs beside the
/// relay, so a device's push shows up shortly after it is acknowledged).
pub(crate) async fn wait_for_records(client: &Client, count: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = client.send(Method::GET, "/api/v1/transactions?limit=500", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["total"] == json!(count) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "the records did not reach {count}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything the dashboard shows equals what a device's own ledger computes (once the
/// materializer, which runs beside the relay, has caught up).
pub(crate) async fn assert_dashboard_matches(client: &Client, store: &Store) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let difference = dashboard_difference(client, store).await;
        match difference {
            None => return,
            Some(d) if tokio::time::Instant::now() > deadline => panic!("the dashboard differs from the ledger: {d}"),
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn dashboard_difference(client: &Client, store: &Store) -> Option<String> {
    fn differ(what: &str, web: &Value, local: &Value) -> Option<String> {
        (web != local).then(|| format!("{what}: the dashboard says {web}, the ledger {local}"))
    }
    let all = store
        .list_transactions(
            &Filter::default(),
            Sort { by: SortBy::Date, descending: true },
            PageRequest { offset: 0, limit: 500 },
        )
        .unwrap();
    let (status, body) = client.send(Method::GET, "/api/v1/transactions?limit=500", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut web: Vec<Value> = body["items"].as_array().unwrap().clone();
    let mut local: Vec<Value> = all.items.iter().map(|t| serde_json::to_value(t).unwrap()).collect();
    let key = |v: &Value| v["id"].as_str().unwrap().to_string();
    web.sort_by_key(key);
    local.sort_by_key(key);
    if let Some(d) = differ("records", &Value::Array(web), &Value::Array(local)) {
        return Some(d);
    }
    // Whole months come from the monthly totals, the days of partial months from the records.
    let (from, to) = (chrono::NaiveDate::from_ymd_opt(2026, 1, 15), chrono::NaiveDate::from_ymd_opt(2026, 3, 2));
    let partial = Filter { from, to, ..Filter::default() };
    let counted =
        store.list_transactions(&partial, Sort::default(), PageRequest { offset: 0, limit: 1 }).unwrap().total;
    let (_, page) = client.send(Method::GET, "/api/v1/transactions?from=2026-01-15&to=2026-03-02&limit=1", None).await;
    if let Some(d) = differ("a period's count", &page["total"], &json!(counted)) {
        return Some(d);
    }
    let checks = [
        ("/api/v1/summaries/balance".to_string(), serde_json::to_value(store.balance(None, None).unwrap()).unwrap()),
        (
            "/api/v1/summaries/balance?from=2026-01-15&to=2026-03-02".to_string(),
            serde_json::to_value(store.balance(from, to).unwrap()).unwrap(),
        ),
        (
            "/api/v1/summaries/months?from=2025-12&to=2026-04".into(),
            serde_json::to_value(
                store.monthly_summaries(Month { year: 2025, month: 12 }, Month { year: 2026, month: 4 }).unwrap(),
            )
            .unwrap(),
        ),
        (
            "/api/v1/summaries/trend?last=2026-03&months=3".into(),
            serde_json::to_value(store.trend(Month { year: 2026, month: 3 }, 3).unwrap()).unwrap(),
        ),
    ];
    for (path, local) in checks {
        let (_, web) = client.send(Method::GET, &path, None).await;
        if let Some(d) = differ(&path, &web, &local) {
            return Some(d);
        }
    }
    for kind in [Kind::Expense, Kind::Income] {
        let path = format!("/api/v1/summaries/categories?kind={kind}&from=2026-01-01&to=2026-12-31");
        let (_, web) = client.send(Method::GET, &path, None).await;
        let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1);
        let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 31);
        let local = serde_json::to_value(store.category_breakdown(from, to, kind).unwrap()).unwrap();
        if let Some(d) = differ(&path, &web, &local) {
            return Some(d);
        }
    }
    let (_, categories) = client.send(Method::GET, "/api/v1/categories?include_archived=true", None).await;
    let mut web: Vec<Value> = categories.as_array().unwrap().clone();
    let mut local: Vec<Value> =
        store.categories(true).unwrap().iter().map(|c| serde_json::to_value(c).unwrap()).collect();
    web.sort_by_key(key);
    local.sort_by_key(key);
    differ("categories", &Value::Array(web), &Value::Array(local))
}

#[tokio::test]
async fn the_dashboard_shows_what_devices_synced_and_its_edits_reach_them() {
    let server = TestServer::start().await;
    let web = server.account("web@example.com").await;
    let phone = web.login("web@example.com", "phone").await;
    let mut device = device(1);
    fill(&mut device);
    push_all(&phone, &mut device).await;
    assert_dashboard_matches(&web, &device).await;

    // Exact sums: 12.50 + 3.20 + 40.00 + 7.05 + 0.01 + 1234.56 EUR of expenses.
    let (_, balance) = web.send(Method::GET, "/api/v1/summaries/balance", None).await;
    let currencies = balance["currencies"].as_array().unwrap();
    let eur = currencies.iter().find(|t| t["currency"] == "EUR").unwrap();
    assert_eq!(eur["expense"], "1297.32");
    let kwd = currencies.iter().find(|t| t["currency"] == "KWD").unwrap();
    assert_eq!(kwd["expense"], "19.995");
    assert_eq!(eur["income"], "2500.00");
    // No rates yet: the base-currency figures hold the euros, and the rest is listed apart.
    assert_eq!(
        (balance["base"]["currency"].as_str(), balance["base"]["expense"].as_str()),
        (Some("EUR"), Some("1297.32"))
    );
    let missing: Vec<&str> =
        balance["unconverted"].as_array().unwrap().iter().map(|u| u["currency"].as_str().unwrap()).collect();
    assert_eq!(missing, ["KWD", "USD"]);

    // A transaction booked on the web reaches the device.
    let (status, created) = web
        .send(
            Method::POST,
            "/api/v1/transactions",
            Some(json!({"kind": "expense", "amount": "9.99", "date": "2026-03-10", "category": "Food & dining",
                        "description": "Lunch on the web", "tags": ["work"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
    let (status, one) = web.send(Method::GET, &format!("/api/v1/transactions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "the dashboard reads its own write: {one}");
    assert_eq!(one, created);
    let cursor = pull(&phone, &mut device, 0).await;
    let there = device.transaction(id).unwrap().expect("the web's transaction reached the device");
    assert_eq!(serde_json::to_value(&there).unwrap(), created);

    // Edited and deleted on the web: the device follows.
    let (status, edited) =
        web.send(Method::PATCH, &format!("/api/v1/transactions/{id}"), Some(json!({"amount": "11.49"}))).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["amount"], "11.49");
    let cursor = pull(&phone, &mut device, cursor).await;
    assert_eq!(device.transaction(id).unwrap().unwrap().amount.to_string(), "11.49");

    // The device edits, deletes a category (moving its transactions) and books more.
    let market = device
        .list_transactions(
            &Filter { text: Some("market".into()), ..Filter::default() },
            Sort::default(),
            PageRequest { offset: 0, limit: 10 },
        )
        .unwrap()
        .items[0]
        .id;
    let before = device.heads().unwrap();
    device
        .edit_transaction(
            market,
            &TransactionPatch { amount: Some("13.75".into()), ..TransactionPatch::default() },
            Utc::now(),
        )
        .unwrap();
    let dining = device.find_category(Some(Kind::Expense), "food & dining").unwrap().id;
    let groceries = device.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    assert!(device.delete_category(dining, Some(groceries), Utc::now()).unwrap() >= 2);
    let trips = device
        .add_category(
            &NewCategory { name: "Trips".into(), kind: Some(Kind::Expense), ..NewCategory::default() },
            Uuid::new_v4(),
            Utc::now(),
        )
        .unwrap();
    device
        .edit_category(
            trips.id,
            &CategoryPatch { color: Some("#123456".into()), ..CategoryPatch::default() },
            Utc::now(),
        )
        .unwrap();
    let changes = device.changes_since(&before).unwrap().into_iter().map(WireChange).collect();
    let (status, _) = phone
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes }).unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Wait for the category's move to be published, then compare everything again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, page) = web.send(Method::GET, &format!("/api/v1/transactions?categories={dining}"), None).await;
        if page["total"] == json!(0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the moved transactions stayed in the deleted category");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_dashboard_matches(&web, &device).await;

    // Deleted on the web.
    let (status, deleted) = web.send(Method::DELETE, &format!("/api/v1/transactions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    pull(&phone, &mut device, cursor).await;
    assert!(device.transaction(id).unwrap().is_none());
    assert_dashboard_matches(&web, &device).await;
    server.cleanup().await;
}

#[tokio::test]
async fn the_dashboard_filters_like_the_core() {
    let server = TestServer::start().await;
    let web = server.account("filters@example.com").await;
    let mut device = device(2);
    fill(&mut device);
    push_all(&web, &mut device).await;
    wait_for_records(&web, 9).await;
    let groceries = device.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    let card = device.find_payment_method("card").unwrap().id;
    let cases: Vec<(String, Filter, Sort)> = vec![
        ("kind=income".into(), Filter { kind: Some(Kind::Income), ..Filter::default() }, Sort::default()),
        (
            format!("categories={groceries}&sort=amount&order=asc"),
            Filter { categories: vec![groceries], ..Filter::default() },
            Sort { by: SortBy::Amount, descending: false },
        ),
        (
            format!("payment_methods={card}&from=2026-01-15&to=2026-02-28"),
            Filter {
                payment_methods: vec![card],
                from: chrono::NaiveDate::from_ymd_opt(2026, 1, 15),
                to: chrono::NaiveDate::from_ymd_opt(2026, 2, 28),
                ..Filter::default()
            },
            Sort::default(),
        ),
        (
            "min_amount=5&max_amount=40&sort=amount".into(),
            Filter {
                min_amount: Some("5".parse().unwrap()),
                max_amount: Some("40".parse().unwrap()),
                ..Filter::default()
            },
            Sort { by: SortBy::Amount, descending: true },
        ),
        ("tags=trip".into(), Filter { tags: vec!["trip".into()], ..Filter::default() }, Sort::default()),
        ("q=bak".into(), Filter { text: Some("bak".into()), ..Filter::default() }, Sort::default()),
        ("q=coffee%20cake".into(), Filter { text: Some("coffee cake".into()), ..Filter::default() }, Sort::default()),
        (
            "month=2026-02&sort=description&order=asc".into(),
            Filter {
                from: chrono::NaiveDate::from_ymd_opt(2026, 2, 1),
                to: chrono::NaiveDate::from_ymd_opt(2026, 2, 28),
                ..Filter::default()
            },
            Sort { by: SortBy::Description, descending: false },
        ),
    ];
    for (query, filter, sort) in cases {
        let (status, body) = web.send(Method::GET, &format!("/api/v1/transactions?{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        let local = device.list_transactions(&filter, sort, PageRequest { offset: 0, limit: 100 }).unwrap();
        let web_ids: Vec<&str> = body["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        let local_ids: Vec<String> = local.items.iter().map(|t| t.id.to_string()).collect();
        assert!(!local_ids.is_empty(), "{query} matches something");
        assert_eq!(web_ids, local_ids, "{query}");
        assert_eq!(body["total"], json!(local.total), "{query}");
    }
    // Paging.
    let (_, page) = web.send(Method::GET, "/api/v1/transactions?offset=8&limit=5", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["total"], json!(9));
    // Bad filters are refused, naming the parameter.
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("kind=gift", "kind"),
        ("categories=nope", "categories"),
        ("min_amount=lots", "min_amount"),
        ("sort=colour", "sort"),
        ("limit=0", "limit"),
        ("month=2026-1x", "month"),
    ] {
        let (status, body) = web.send(Method::GET, &format!("/api/v1/transactions?{query}"), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["code"], "invalid");
        assert!(body["message"].as_str().unwrap().starts_with(field), "{query}: {body}");
    }
    server.cleanup().await;
}

#[tokio::test]
async fn bad_web_edits_change_nothing() {
    let server = TestServer::start().await;
    let web = server.account("careful@example.com").await;
    let mut device = device(3);
    fill(&mut device);
    push_all(&web, &mut device).await;
    wait_for_records(&web, 9).await;
    let latest = server.state.log.latest(uuid_of(&server, "careful@example.com").await).await.unwrap();
    let cases = [
        (
            Method::POST,
            "/api/v1/transactions".to_string(),
            json!({"kind": "expense", "amount": "-3", "date": "2026-01-01", "category": "food & dining"}),
            "amount",
        ),
        (
            Method::POST,
            "/api/v1/transactions".to_string(),
            json!({"kind": "expense", "amount": "3", "date": "2026-02-30", "category": "food & dining"}),
            "date",
        ),
        (
            Method::POST,
            "/api/v1/transactions".to_string(),
            json!({"kind": "expense", "amount": "3", "date": "2026-02-03", "category": "no such"}),
            "category",
        ),
        (
            Method::POST,
            "/api/v1/transactions".to_string(),
            json!({"kind": "expense", "amount": "3.001", "currency": "JPY", "date": "2026-02-03", "category": "food & dining"}),
            "amount",
        ),
        (Method::POST, "/api/v1/categories".to_string(), json!({"name": "", "kind": "expense"}), "name"),
        (Method::PATCH, "/api/v1/ledger/settings".to_string(), json!({"base_currency": "XYZ"}), "currency"),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = web.send(method, &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["code"], "invalid");
        assert!(answer["message"].as_str().unwrap().contains(field), "{body}: {answer}");
    }
    let (status, _) = web.raw(Method::POST, "/api/v1/transactions", "{\"amount\": 12").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = web
        .send(Method::PATCH, &format!("/api/v1/transactions/{}", Uuid::new_v4()), Some(json!({"amount": "1"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let groceries = device.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    let (status, answer) = web.send(Method::DELETE, &format!("/api/v1/categories/{groceries}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "category_in_use");
    // Nothing reached the change log, and the dashboard is as it was.
    assert_eq!(server.state.log.latest(uuid_of(&server, "careful@example.com").await).await.unwrap(), latest);
    assert_dashboard_matches(&web, &device).await;
    server.cleanup().await;
}

pub(crate) async fn uuid_of(server: &TestServer, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&server.state.pg).await.unwrap()
}

#[tokio::test]
async fn one_account_cannot_see_or_change_another_ones_ledger() {
    let server = TestServer::start().await;
    let alice = server.account("alice@example.com").await;
    let mallory = server.account("mallory@example.com").await;
    let mut device = device(4);
    fill(&mut device);
    push_all(&alice, &mut device).await;
    let page = wait_for_records(&alice, 9).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let groceries = device.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    let (_, list) = mallory.send(Method::GET, "/api/v1/transactions", None).await;
    assert_eq!(list["total"], json!(0));
    let (status, _) = mallory.send(Method::GET, &format!("/api/v1/transactions/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        mallory.send(Method::PATCH, &format!("/api/v1/transactions/{id}"), Some(json!({"amount": "1"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = mallory.send(Method::DELETE, &format!("/api/v1/transactions/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, balance) = mallory.send(Method::GET, "/api/v1/summaries/balance", None).await;
    assert_eq!((&balance["currencies"], &balance["base"]["count"]), (&json!([]), &json!(0)), "{balance}");
    let (status, _) = mallory
        .send(Method::PATCH, &format!("/api/v1/categories/{groceries}"), Some(json!({"name": "Mine now"})))
        .await;
    // Mallory has a Groceries category of her own (every ledger does): renaming it leaves
    // Alice's alone.
    assert_eq!(status, StatusCode::OK);
    let (_, cats) = alice.send(Method::GET, "/api/v1/categories", None).await;
    assert!(cats.as_array().unwrap().iter().any(|c| c["id"] == json!(groceries) && c["name"] == "Groceries"));
    let (_, bytes) = fetch_snapshot(&mallory).await;
    let fresh = Store::replica_in_memory(ActorId::random(), Some(&bytes)).unwrap();
    assert_eq!(fresh.transaction_count().unwrap(), 0, "Mallory's snapshot holds none of Alice's ledger");
    assert_dashboard_matches(&alice, &device).await;
    server.cleanup().await;
}

#[tokio::test]
async fn a_fresh_device_starts_from_a_snapshot_and_the_later_changes() {
    let server = TestServer::start().await;
    let laptop = server.account("fresh@example.com").await;
    let mut device = device(5);
    // More changes than the snapshot interval, one per transaction.
    for i in 0..(expenso_server::ledger::SNAPSHOT_EVERY + 20) {
        let t = input(
            Kind::Expense,
            &format!("{}.{:02}", i % 97 + 1, i % 100),
            "EUR",
            "2026-02-03",
            "groceries",
            &format!("item {i}"),
        );
        device.add_transaction(&t, Uuid::now_v7(), Utc::now()).unwrap();
    }
    push_all(&laptop, &mut device).await;
    let total = device.transaction_count().unwrap();
    wait_for_records(&laptop, total).await;
    // Then a few more, after the snapshot.
    let before = device.heads().unwrap();
    for i in 0..3 {
        let t = input(Kind::Income, &format!("{}00", i + 1), "EUR", "2026-02-04", "salary", "bonus");
        device.add_transaction(&t, Uuid::now_v7(), Utc::now()).unwrap();
    }
    let changes = device.changes_since(&before).unwrap().into_iter().map(WireChange).collect();
    laptop
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes }).unwrap()))
        .await;

    let phone = laptop.login("fresh@example.com", "phone").await;
    let (upto, bytes) = fetch_snapshot(&phone).await;
    assert!(upto > 0);
    let mut fresh = Store::replica_in_memory(ActorId::random(), Some(&bytes)).unwrap();
    let cursor = pull(&phone, &mut fresh, upto).await;
    assert_eq!(cursor, server.state.log.latest(uuid_of(&server, "fresh@example.com").await).await.unwrap());
    assert_eq!(fresh.view_dump().unwrap(), device.view_dump().unwrap(), "snapshot + later changes = the whole ledger");
    assert_eq!(fresh.verify().unwrap(), Ok(()));
    // A forged snapshot is refused by the device, not half-adopted.
    assert!(Store::replica_in_memory(ActorId::random(), Some(b"not a document")).is_err());
    server.cleanup().await;
}

async fn fetch_snapshot(client: &Client) -> (i64, Vec<u8>) {
    let resp = client.download("/api/v1/sync/snapshot").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let upto: i64 = resp.headers()["expenso-seq"].to_str().unwrap().parse().unwrap();
    (upto, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_large_import_after_the_stored_snapshot_is_covered_by_a_new_one() {
    let server = TestServer::start().await;
    let laptop = server.account("import@example.com").await;
    let account = uuid_of(&server, "import@example.com").await;
    let mut device = device(7);
    fill(&mut device);
    push_all(&laptop, &mut device).await;
    let (first, _) = fetch_snapshot(&laptop).await;
    assert!(first > 0);

    // An import: a few changes, megabytes of them (long, varied notes).
    let before = device.heads().unwrap();
    let mut rng = expenso_core::sample::Rng::new(7);
    for batch in 0..3u128 {
        let items: Vec<(Uuid, NewTransaction)> = (0..800u128)
            .map(|i| {
                let notes: String = (0..2_000).map(|_| char::from(b'a' + rng.below(26) as u8)).collect();
                let mut t = input(Kind::Expense, "4.20", "EUR", "2026-03-05", "groceries", "Imported");
                t.notes = notes;
                (Uuid::from_u128(0x1_0000 + batch * 1_000 + i), t)
            })
            .collect();
        device.add_transactions(&items, Utc::now()).unwrap();
    }
    let changes: Vec<WireChange> = device.changes_since(&before).unwrap().into_iter().map(WireChange).collect();
    assert!(changes.len() <= 4, "{} changes", changes.len());
    let (status, body) = laptop
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes }).unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (latest, log_bytes) = server.state.log.size(account).await.unwrap();
    assert!(latest - first < expenso_server::ledger::SNAPSHOT_EVERY);
    assert!(log_bytes.unwrap() > expenso_core::sync::SNAPSHOT_MIN_BYTES, "{log_bytes:?}");

    // Few changes came after the stored snapshot, but megabytes: a fresh device gets a new
    // snapshot holding the import, not the old one and megabytes of log to apply.
    let phone = laptop.login("import@example.com", "phone").await;
    let (upto, bytes) = fetch_snapshot(&phone).await;
    assert_eq!(upto, latest);
    let fresh = Store::replica_in_memory(ActorId::random(), Some(&bytes)).unwrap();
    assert_eq!(fresh.transaction_count().unwrap(), device.transaction_count().unwrap());
    server.cleanup().await;
}

/// `PUT /api/v1/sync/snapshot`: a device's document offered as the snapshot of the log up to
/// `upto` (no header when `None`).
async fn offer(client: &Client, upto: Option<i64>, document: Vec<u8>) -> (StatusCode, Value) {
    let mut req = client
        .http
        .put(format!("{}/api/v1/sync/snapshot", client.base))
        .bearer_auth(client.token.as_deref().unwrap())
        .header("content-type", "application/octet-stream")
        .body(document);
    if let Some(upto) = upto {
        req = req.header("expenso-seq", upto.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_snapshot_a_device_offers_is_kept_only_when_it_holds_exactly_the_log() {
    let server = TestServer::start().await;
    let alice = server.account("offer@example.com").await;
    let mallory = server.account("offer-mallory@example.com").await;
    let account = uuid_of(&server, "offer@example.com").await;
    let mut laptop = device(8);
    fill(&mut laptop);
    push_all(&alice, &mut laptop).await;
    let latest = server.state.log.latest(account).await.unwrap();
    let exact = laptop.save_document().unwrap();
    // One change more than the log: booked here, never pushed.
    laptop
        .add_transaction(
            &input(Kind::Expense, "1.00", "EUR", "2026-01-09", "groceries", "unsent"),
            Uuid::now_v7(),
            Utc::now(),
        )
        .unwrap();
    let ahead = laptop.save_document().unwrap();
    // Another ledger altogether: it lacks the log's changes.
    let mut other = device(9);
    fill(&mut other);
    let elsewhere = other.save_document().unwrap();
    push_all(&mallory, &mut other).await;
    let mallory_latest = server.state.log.latest(uuid_of(&server, "offer-mallory@example.com").await).await.unwrap();

    let refusals = [
        (&alice, Some(latest), b"not a document".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        (&alice, None, exact.clone(), StatusCode::UNPROCESSABLE_ENTITY),
        (&alice, Some(0), exact.clone(), StatusCode::UNPROCESSABLE_ENTITY),
        (&alice, Some(latest + 1), exact.clone(), StatusCode::UNPROCESSABLE_ENTITY),
        (&alice, Some(latest), ahead, StatusCode::CONFLICT),
        (&alice, Some(latest), elsewhere, StatusCode::CONFLICT),
        (&alice, Some(latest - 1), exact.clone(), StatusCode::CONFLICT),
        // Alice's ledger offered as Mallory's: it holds none of Mallory's log.
        (&mallory, Some(mallory_latest), exact.clone(), StatusCode::CONFLICT),
    ];
    for (i, (client, upto, document, expected)) in refusals.into_iter().enumerate() {
        let (status, body) = offer(client, upto, document).await;
        assert_eq!(status, expected, "offer #{i}: {body}");
        assert!(!body["message"].as_str().unwrap_or_default().is_empty(), "offer #{i}: {body}");
    }
    let stored = || async { server.state.ledgers.snapshots().count_documents(mongodb::bson::doc! {}).await.unwrap() };
    assert_eq!(stored().await, 0, "nothing refused was stored");

    // The exact document is kept and handed to the next fresh device as it is.
    let (status, body) = offer(&alice, Some(latest), exact.clone()).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"kept": true})));
    assert!(stored().await > 0);
    let phone = alice.login("offer@example.com", "phone").await;
    assert_eq!(fetch_snapshot(&phone).await, (latest, exact.clone()));
    // Offered again, it changes nothing.
    let (status, body) = offer(&alice, Some(latest), exact).await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"kept": false})));
    server.cleanup().await;
}

#[tokio::test]
async fn two_instances_keep_one_set_of_records() {
    let server = TestServer::start().await;
    let other = server.another_instance().await;
    let laptop = server.account("twice@example.com").await;
    let mut on_other = laptop.clone();
    on_other.base = other.url.clone();
    let mut device = device(6);
    fill(&mut device);
    push_all(&laptop, &mut device).await;
    wait_for_records(&on_other, 9).await;
    // Edits through both instances, alternating, each on its own replica of the ledger.
    for (i, client) in [&laptop, &on_other, &laptop, &on_other].into_iter().enumerate() {
        let (status, body) = client
            .send(
                Method::POST,
                "/api/v1/transactions",
                Some(json!({"kind": "expense", "amount": format!("{i}.50"), "date": "2026-03-15", "category": "food & dining"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    pull(&laptop, &mut device, 0).await;
    assert_eq!(device.transaction_count().unwrap(), 13);
    assert_dashboard_matches(&on_other, &device).await;
    assert_dashboard_matches(&laptop, &device).await;
    other.cleanup().await;
    server.cleanup().await;
}

/// Random work on two devices, synced through the server in varying order: afterwards the
/// records and rows equal each device's view.
#[tokio::test]
async fn projections_follow_random_edits_on_two_devices() {
    use expenso_core::sample::Rng;
    let server = TestServer::start().await;
    let laptop = server.account("random@example.com").await;
    let phone = laptop.login("random@example.com", "phone").await;
    let mut devices = [(device(7), laptop.clone(), Vec::new(), 0i64), (device(8), phone, Vec::new(), 0i64)];
    let mut rng = Rng::new(20261121);
    for round in 0..4 {
        for (store, _, _, _) in devices.iter_mut() {
            for _ in 0..6 {
                let ids: Vec<Uuid> = store
                    .list_transactions(&Filter::default(), Sort::default(), PageRequest { offset: 0, limit: 500 })
                    .unwrap()
                    .items
                    .iter()
                    .map(|t| t.id)
                    .collect();
                let customs: Vec<Uuid> =
                    store.categories(true).unwrap().into_iter().filter(|c| !c.builtin).map(|c| c.id).collect();
                match rng.below(10) {
                    0..=3 => {
                        let category = if !customs.is_empty() && rng.below(2) == 0 {
                            customs[rng.below(customs.len() as u64) as usize].to_string()
                        } else {
                            "groceries".into()
                        };
                        let t = input(
                            Kind::Expense,
                            &format!("{}.{:02}", 1 + rng.below(90), rng.below(100)),
                            "EUR",
                            "2026-02-10",
                            &category,
                            "random",
                        );
                        store.add_transaction(&t, Uuid::now_v7(), Utc::now()).unwrap();
                    }
                    4 | 5 if !ids.is_empty() => {
                        let id = ids[rng.below(ids.len() as u64) as usize];
                        let patch = TransactionPatch {
                            amount: Some(format!("{}.25", 1 + rng.below(50))),
                            description: (rng.below(2) == 0).then(|| format!("edited in round {round}")),
                            ..TransactionPatch::default()
                        };
                        store.edit_transaction(id, &patch, Utc::now()).unwrap();
                    }
                    6 if !ids.is_empty() => {
                        store.delete_transaction(ids[rng.below(ids.len() as u64) as usize], Utc::now()).unwrap();
                    }
                    7 => {
                        let name = format!("Custom {}", rng.below(1000));
                        let c = NewCategory { name, kind: Some(Kind::Expense), ..NewCategory::default() };
                        let _ = store.add_category(&c, Uuid::new_v4(), Utc::now());
                    }
                    8 if !customs.is_empty() => {
                        let victim = customs[rng.below(customs.len() as u64) as usize];
                        let groceries = store.find_category(Some(Kind::Expense), "groceries").unwrap().id;
                        store.delete_category(victim, Some(groceries), Utc::now()).unwrap();
                    }
                    _ if !customs.is_empty() => {
                        let id = customs[rng.below(customs.len() as u64) as usize];
                        let patch = CategoryPatch {
                            name: Some(format!("Renamed {}", rng.below(1000))),
                            ..CategoryPatch::default()
                        };
                        let _ = store.edit_category(id, &patch, Utc::now());
                    }
                    _ => {}
                }
            }
        }
        // Push and pull in an order that changes from round to round.
        let order: Vec<usize> = if rng.below(2) == 0 { vec![0, 1] } else { vec![1, 0] };
        for &i in &order {
            let (store, client, pushed, _) = &mut devices[i];
            let changes: Vec<WireChange> = store.changes_since(pushed).unwrap().into_iter().map(WireChange).collect();
            *pushed = store.heads().unwrap();
            let (status, body) = client
                .send(
                    Method::POST,
                    "/api/v1/sync/changes",
                    Some(serde_json::to_value(PushRequest { changes }).unwrap()),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for &i in order.iter().rev() {
            let (store, client, _, cursor) = &mut devices[i];
            *cursor = pull(client, store, *cursor).await;
        }
    }
    let [(a, ..), (b, ..)] = &devices;
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap(), "the devices converged");
    assert_dashboard_matches(&laptop, a).await;
    server.cleanup().await;
}

#[tokio::test]
async fn a_deleted_transaction_comes_back_with_its_id() {
    let server = TestServer::start().await;
    let web = server.account("undo@example.com").await;
    let phone = web.login("undo@example.com", "phone").await;
    let mut device = device(9);
    let (status, created) = web
        .send(
            Method::POST,
            "/api/v1/transactions",
            Some(json!({"kind": "expense", "amount": "23.40", "currency": "EUR", "date": "2026-03-12",
                        "category": "Food & dining", "payment_method": "card", "description": "Dinner",
                        "notes": "with the team", "tags": ["work", "team"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let cursor = pull(&phone, &mut device, 0).await;
    assert_eq!(device.transaction_count().unwrap(), 1);

    let (status, deleted) = web.send(Method::DELETE, &format!("/api/v1/transactions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let cursor = pull(&phone, &mut device, cursor).await;
    assert_eq!(device.transaction_count().unwrap(), 0);
    let (_, list) = web.send(Method::GET, "/api/v1/transactions", None).await;
    assert_eq!(list["total"], json!(0));

    // Undo: the body the deletion answered.
    let (status, restored) =
        web.send(Method::POST, &format!("/api/v1/transactions/{id}/restore"), Some(deleted.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{restored}");
    for field in [
        "id",
        "kind",
        "amount",
        "currency",
        "date",
        "category_id",
        "payment_method_id",
        "description",
        "notes",
        "tags",
        "created_at",
    ] {
        assert_eq!(restored[field], created[field], "{field}");
    }
    assert_eq!(restored["tags"], json!(["team", "work"]));
    let (_, list) = web.send(Method::GET, "/api/v1/transactions", None).await;
    assert_eq!(list["total"], json!(1));
    assert_eq!(list["items"][0], restored, "the list shows it again");
    let (status, one) = web.send(Method::GET, &format!("/api/v1/transactions/{id}"), None).await;
    assert_eq!((status, &one), (StatusCode::OK, &restored));
    // A device that pulls has it again, with the same id.
    let cursor = pull(&phone, &mut device, cursor).await;
    let there = device.transaction(Uuid::parse_str(&id).unwrap()).unwrap().expect("the restored transaction");
    // The converted amount is each ledger's own (this device's base currency is not the
    // account's yet: it never pushed its settings).
    assert_eq!(without_base(&serde_json::to_value(&there).unwrap()), without_base(&restored));

    // A transaction that exists cannot be restored over, and the path must name the body's.
    let account = uuid_of(&server, "undo@example.com").await;
    let latest = server.state.log.latest(account).await.unwrap();
    let (status, answer) =
        web.send(Method::POST, &format!("/api/v1/transactions/{id}/restore"), Some(deleted.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "invalid");
    assert!(answer["message"].as_str().unwrap().starts_with("id"), "{answer}");
    let mut other = deleted.clone();
    other["id"] = json!(Uuid::new_v4());
    for path in [format!("/api/v1/transactions/{id}/restore"), "/api/v1/transactions/nope/restore".into()] {
        let (status, answer) = web.send(Method::POST, &path, Some(other.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
        assert!(answer["message"].as_str().unwrap().starts_with("id"), "{path}: {answer}");
    }
    assert_eq!(server.state.log.latest(account).await.unwrap(), latest, "refused restores change nothing");
    pull(&phone, &mut device, cursor).await;
    assert_eq!(device.transaction_count().unwrap(), 1);
    server.cleanup().await;
}

async fn book(client: &Client, amount: &str, description: &str, tags: &[&str]) -> Value {
    let (status, created) = client
        .send(
            Method::POST,
            "/api/v1/transactions",
            Some(json!({"kind": "expense", "amount": amount, "date": "2026-03-02", "category": "groceries",
                        "description": description, "tags": tags})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

#[tokio::test]
async fn the_tags_in_use_come_most_used_first() {
    let server = TestServer::start().await;
    let alice = server.account("tags@example.com").await;
    let bob = server.account("other-tags@example.com").await;
    book(&alice, "1.00", "one", &["trip", "food"]).await;
    book(&alice, "2.00", "two", &["trip"]).await;
    let third = book(&alice, "3.00", "three", &["trip", "work"]).await;
    book(&alice, "4.00", "four", &["coffee"]).await;
    book(&alice, "5.00", "five", &[]).await;
    book(&bob, "6.00", "bob's", &["secret"]).await;
    let (status, tags) = alice.send(Method::GET, "/api/v1/tags", None).await;
    assert_eq!(status, StatusCode::OK, "{tags}");
    assert_eq!(
        tags,
        json!([{"tag": "trip", "count": 3}, {"tag": "coffee", "count": 1}, {"tag": "food", "count": 1},
               {"tag": "work", "count": 1}])
    );
    // They follow edits and deletions.
    let (status, _) =
        alice.send(Method::DELETE, &format!("/api/v1/transactions/{}", third["id"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, tags) = alice.send(Method::GET, "/api/v1/tags", None).await;
    let after_delete = json!([{"tag": "trip", "count": 2}, {"tag": "coffee", "count": 1}, {"tag": "food", "count": 1}]);
    assert_eq!(tags, after_delete);
    // An account whose tags were never projected (published by an older server) is answered
    // from its records, and its next pass on an instance that loads the ledger writes them.
    let alice_row =
        "SELECT count(*) FROM ledger_tags WHERE user_id = (SELECT id FROM users WHERE email = 'tags@example.com')";
    let rows = || async { sqlx::query_scalar::<_, i64>(alice_row).fetch_one(server.state.ledgers.pg()).await.unwrap() };
    assert_eq!(rows().await, 1);
    sqlx::query("DELETE FROM ledger_tags WHERE user_id = (SELECT id FROM users WHERE email = 'tags@example.com')")
        .execute(server.state.ledgers.pg())
        .await
        .unwrap();
    let second = server.another_instance().await;
    let on_second = Client { base: second.url.clone(), ..alice.clone() };
    let (_, tags) = on_second.send(Method::GET, "/api/v1/tags", None).await;
    assert_eq!(tags, after_delete);
    for _ in 0..100 {
        if rows().await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows().await, 1, "the pass wrote the row again");
    let (_, tags) = alice.send(Method::GET, "/api/v1/tags", None).await;
    assert_eq!(tags, after_delete);
    // Each account sees its own.
    let (_, tags) = bob.send(Method::GET, "/api/v1/tags", None).await;
    assert_eq!(tags, json!([{"tag": "secret", "count": 1}]));
    let carol = server.account("no-tags@example.com").await;
    let (status, tags) = carol.send(Method::GET, "/api/v1/tags", None).await;
    assert_eq!((status, tags), (StatusCode::OK, json!([])));
    let (status, _) = server.client().send(Method::GET, "/api/v1/tags", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.cleanup().await;
}

/// The export's headers and body.
async fn export(client: &Client) -> (reqwest::header::HeaderMap, String) {
    let resp = client.download("/api/v1/account/export").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    (headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_export_holds_the_profile_and_the_whole_ledger() {
    let server = TestServer::start().await;
    let alice = server.account("export@example.com").await;
    let bob = server.account("export-other@example.com").await;
    let phone = alice.login("export@example.com", "phone").await;
    let mut device = device(10);
    fill(&mut device);
    push_all(&phone, &mut device).await;
    let web_one = book(&alice, "8.80", "Booked on the web", &["web"]).await;
    let web_two = book(&alice, "9.90", "Also on the web", &[]).await;
    let (status, _) =
        alice.send(Method::PATCH, "/api/v1/account", Some(json!({"display_name": "Alice Example"}))).await;
    assert_eq!(status, StatusCode::OK);

    let (headers, text) = export(&alice).await;
    assert_eq!(headers["content-type"], "application/json");
    let disposition = headers["content-disposition"].to_str().unwrap();
    let date = disposition
        .strip_prefix("attachment; filename=\"expensotrack-export-")
        .and_then(|d| d.strip_suffix(".json\""))
        .unwrap_or_else(|| panic!("{disposition}"));
    let today = Utc::now().date_naive();
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    assert!(day == today || day.succ_opt() == Some(today), "{disposition}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["format"], "expensotrack-account-export");
    let exported_at: chrono::DateTime<Utc> = serde_json::from_value(body["exported_at"].clone()).unwrap();
    assert!((Utc::now() - exported_at).num_seconds().abs() < 60, "{exported_at}");
    assert_eq!(body["profile"]["email"], "export@example.com");
    assert_eq!(body["profile"]["display_name"], "Alice Example");

    // The ledger part is the core's backup of the whole ledger: the device's transactions and
    // the web's, each as the ledger holds it.
    let backup = expenso_core::Backup::from_json(&body["ledger"].to_string()).unwrap();
    assert_eq!(backup.transactions.len(), 11);
    for created in [&web_one, &web_two] {
        let there = backup.transactions.iter().find(|t| t.id.to_string() == created["id"].as_str().unwrap());
        // A backup holds the records as the document has them: without the converted amount,
        // which each ledger derives with its own rates.
        assert_eq!(
            serde_json::to_value(there.expect("the web's transaction is exported")).unwrap(),
            without_base(created)
        );
    }
    pull(&phone, &mut device, 0).await;
    assert_eq!(backup, device.export_backup().unwrap(), "the export equals a device's own backup");
    // And it restores: a new ledger made from it shows the same.
    let mut fresh = crate::support::device(11);
    fresh.restore_backup(&backup, Utc::now()).unwrap();
    assert_eq!(fresh.transaction_count().unwrap(), 11);
    assert_eq!(fresh.balance(None, None).unwrap(), device.balance(None, None).unwrap());

    // Another account's export holds none of it.
    let (_, text) = export(&bob).await;
    let other: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(other["profile"]["email"], "export-other@example.com");
    assert_eq!(other["ledger"]["transactions"], json!([]));
    for leak in ["export@example.com", "Alice Example", "Booked on the web", web_one["id"].as_str().unwrap()] {
        assert!(!text.contains(leak), "Bob's export mentions {leak}");
    }
    let (status, _) = server.client().send(Method::GET, "/api/v1/account/export", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.cleanup().await;
}

/// Imports `body` as the file's text.
async fn import(client: &Client, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    let mut req = client
        .http
        .post(format!("{}/api/v1/ledger/import", client.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = &client.token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The dashboard's transactions and categories, in id order.
async fn dashboard_records(client: &Client) -> (Vec<Value>, Vec<Value>) {
    let by_id = |list: &Value| {
        let mut items = list.as_array().unwrap().clone();
        items.sort_by_key(|v| v["id"].as_str().unwrap().to_string());
        items
    };
    let (_, page) = client.send(Method::GET, "/api/v1/transactions?limit=500", None).await;
    let (_, categories) = client.send(Method::GET, "/api/v1/categories?include_archived=true", None).await;
    (by_id(&page["items"]), by_id(&categories))
}

#[tokio::test]
async fn an_export_imported_into_another_account_reproduces_the_ledger_there_once() {
    let server = TestServer::start().await;
    let alice = server.account("import-from@example.com").await;
    let phone = alice.login("import-from@example.com", "phone").await;
    let mut device_a = device(20);
    fill(&mut device_a);
    push_all(&phone, &mut device_a).await;
    book(&alice, "8.80", "Booked on the web", &["web"]).await;
    let (status, trips) =
        alice.send(Method::POST, "/api/v1/categories", Some(json!({"name": "Trips", "kind": "expense"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{trips}");
    let groceries = device_a.find_category(Some(Kind::Expense), "groceries").unwrap().id;
    let (status, _) = alice
        .send(Method::PATCH, &format!("/api/v1/categories/{groceries}"), Some(json!({"name": "Food shopping"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_for_records(&alice, 10).await;
    let (_, text) = export(&alice).await;
    let alice_id = uuid_of(&server, "import-from@example.com").await;
    let alice_latest = server.state.log.latest(alice_id).await.unwrap();

    // Bob imports Alice's export.
    let bob = server.account("import-to@example.com").await;
    let bob_phone = bob.login("import-to@example.com", "phone").await;
    let bob_id = uuid_of(&server, "import-to@example.com").await;
    let before = server.state.log.latest(bob_id).await.unwrap();
    let (status, summary) = import(&bob, text.clone()).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let exported: Value = serde_json::from_str(&text).unwrap();
    let backup = expenso_core::Backup::from_json(&exported["ledger"].to_string()).unwrap();
    assert_eq!(
        summary,
        json!({"categories": backup.categories.len(), "payment_methods": backup.payment_methods.len(),
               "transactions": 10, "rates": 0})
    );
    assert_eq!(server.state.log.latest(bob_id).await.unwrap(), before + 1, "the restore is one change");
    assert_eq!(server.state.log.latest(alice_id).await.unwrap(), alice_latest, "Alice's log is untouched");

    // Bob's dashboard shows Alice's transactions and categories, exactly.
    let (alice_transactions, alice_categories) = dashboard_records(&alice).await;
    let (bob_transactions, bob_categories) = dashboard_records(&bob).await;
    assert_eq!(bob_transactions.len(), 10);
    assert_eq!(bob_transactions, alice_transactions);
    assert_eq!(bob_categories, alice_categories);
    assert!(
        bob_categories.iter().any(|c| c["name"] == "Trips")
            && bob_categories.iter().any(|c| c["name"] == "Food shopping")
    );
    let (_, alice_balance) = alice.send(Method::GET, "/api/v1/summaries/balance", None).await;
    let (_, bob_balance) = bob.send(Method::GET, "/api/v1/summaries/balance", None).await;
    assert_eq!(bob_balance, alice_balance);

    // A device of Bob's receives it: the same ledger as Alice's, and the dashboard agrees.
    let mut device_b = device(21);
    let cursor = pull(&bob_phone, &mut device_b, 0).await;
    assert_eq!(device_b.export_backup().unwrap(), backup);
    assert_dashboard_matches(&bob, &device_b).await;

    // The same file again, or only its ledger part (a backup as `expenso export` writes it),
    // adds nothing: not one change.
    for again in [text.clone(), exported["ledger"].to_string()] {
        let (status, repeat) = import(&bob, again).await;
        assert_eq!((status, &repeat), (StatusCode::OK, &summary));
        assert_eq!(server.state.log.latest(bob_id).await.unwrap(), before + 1);
    }
    assert_eq!(pull(&bob_phone, &mut device_b, cursor).await, cursor);
    assert_eq!(dashboard_records(&bob).await, (alice_transactions, alice_categories));
    server.cleanup().await;
}

#[tokio::test]
async fn a_bad_import_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let bob = server.account("careful-import@example.com").await;
    book(&bob, "5.00", "Mine", &[]).await;
    let bob_id = uuid_of(&server, "careful-import@example.com").await;
    let latest = server.state.log.latest(bob_id).await.unwrap();
    let before = dashboard_records(&bob).await;
    let mut source = device(30);
    source
        .add_transaction(
            &input(Kind::Expense, "1.00", "EUR", "2026-01-05", "groceries", "x"),
            Uuid::now_v7(),
            Utc::now(),
        )
        .unwrap();
    let good = serde_json::to_value(source.export_backup().unwrap()).unwrap();
    let with = |path: &str, value: Value| {
        let mut v = good.clone();
        *v.pointer_mut(path).unwrap() = value;
        v.to_string()
    };
    let mut twice = good.clone();
    let first = twice["transactions"][0].clone();
    twice["transactions"].as_array_mut().unwrap().push(first);
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{\"format\": \"expenso-backup\", \"vers".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "EOF while parsing"),
        (vec![0xff, 0xfe, 0x00], StatusCode::UNPROCESSABLE_ENTITY, "not JSON text"),
        (b"[1, 2]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "not a JSON object"),
        (b"{\"version\": 1}".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "format: missing"),
        (
            br#"{"format": "expensotrack-backup"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"format: "expensotrack-backup" is not a file this reads; expected "expenso-backup" (a backup) or "expensotrack-account-export""#,
        ),
        (br#"{"format": 7}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "format: 7 is not"),
        (
            br#"{"format": "expenso-backup"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid backup: missing field",
        ),
        (
            br#"{"format": "expensotrack-account-export", "profile": {}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid backup: missing field `ledger`",
        ),
        (with("/version", json!(2)).into_bytes(), StatusCode::UNPROCESSABLE_ENTITY, "version 2 is not supported"),
        (
            with("/transactions/0/amount", json!("1.005")).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "transactions[0].amount: ",
        ),
        (
            with("/transactions/0/category_id", json!(Uuid::new_v4())).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "transactions[0].category_id: no category",
        ),
        // An account export whose ledger breaks a rule.
        (
            json!({"format": "expensotrack-account-export", "ledger": twice}).to_string().into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "transactions[1].id: ",
        ),
        (
            json!({"format": "expensotrack-account-export", "ledger": {"format": "other", "version": 1}})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid backup: ",
        ),
        // Past the body limit (16 MB here).
        (vec![b' '; 17 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "too large"),
    ];
    for (body, status, expect) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).to_string();
        let (got, answer) = import(&bob, body).await;
        assert_eq!(got, status, "{shown}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(expect), "{shown}: expected {expect:?} in {answer}");
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid" };
        assert_eq!(answer["code"], code, "{shown}: {answer}");
        assert_eq!(server.state.log.latest(bob_id).await.unwrap(), latest, "{shown}: the log got a change");
    }
    assert_eq!(dashboard_records(&bob).await, before);
    // The good file goes in after all that.
    let (status, summary) = import(&bob, good.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["transactions"], 1);
    assert_eq!(server.state.log.latest(bob_id).await.unwrap(), latest + 1);
    server.cleanup().await;
}

#[tokio::test]
async fn an_import_goes_into_the_signed_in_account_only() {
    let server = TestServer::start().await;
    let alice = server.account("import-alice@example.com").await;
    let mallory = server.account("import-mallory@example.com").await;
    book(&alice, "5.00", "Alice's own", &[]).await;
    let alice_id = uuid_of(&server, "import-alice@example.com").await;
    let mallory_id = uuid_of(&server, "import-mallory@example.com").await;
    let alice_latest = server.state.log.latest(alice_id).await.unwrap();
    let alice_before = dashboard_records(&alice).await;

    // A file that names Alice's account everywhere a request could: the account is the
    // session's, whatever the file or the address says.
    let mut source = device(31);
    source
        .add_transaction(
            &input(Kind::Expense, "66.60", "EUR", "2026-01-05", "groceries", "Planted"),
            Uuid::now_v7(),
            Utc::now(),
        )
        .unwrap();
    let (_, exported) = export(&alice).await;
    let mut file: Value = serde_json::from_str(&exported).unwrap();
    file["ledger"] = serde_json::to_value(source.export_backup().unwrap()).unwrap();
    file["account"] = json!(alice_id);
    let resp = mallory
        .http
        .post(format!("{}/api/v1/ledger/import?account={alice_id}&user_id={alice_id}", mallory.base))
        .bearer_auth(mallory.token.clone().unwrap())
        .json(&file)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(server.state.log.latest(alice_id).await.unwrap(), alice_latest, "nothing reached Alice's log");
    assert_eq!(dashboard_records(&alice).await, alice_before);
    let (_, mallorys) = mallory.send(Method::GET, "/api/v1/transactions", None).await;
    assert_eq!(mallorys["total"], json!(1));
    assert_eq!(mallorys["items"][0]["description"], "Planted");
    assert!(server.state.log.latest(mallory_id).await.unwrap() > 0);

    // Without a session, or with an ended one, nothing is imported anywhere.
    let (status, _) = import(&server.client(), file.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = mallory.send(Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mallory_latest = server.state.log.latest(mallory_id).await.unwrap();
    let (status, _) = import(&mallory, file.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.state.log.latest(alice_id).await.unwrap(), alice_latest);
    assert_eq!(server.state.log.latest(mallory_id).await.unwrap(), mallory_latest);
    server.cleanup().await;
}

#[tokio::test]
async fn a_backup_of_five_thousand_transactions_fits_and_arrives_as_one_change() {
    let server = TestServer::start().await;
    let bulk = server.account("import-bulk@example.com").await;
    let phone = bulk.login("import-bulk@example.com", "phone").await;
    let bulk_id = uuid_of(&server, "import-bulk@example.com").await;
    let mut source = device(32);
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut workload = expenso_core::sample::Workload::prepare(
        &mut source,
        7,
        chrono::NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
        now,
    )
    .unwrap();
    workload.fill(&mut source, 5_000, 1_000, now).unwrap();
    let backup = source.export_backup().unwrap();
    let text = backup.to_json();
    assert!(text.len() < server.state.config.max_body, "{} bytes", text.len());

    let before = server.state.log.latest(bulk_id).await.unwrap();
    let started = std::time::Instant::now();
    let (status, summary) = import(&bulk, text.clone()).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["transactions"], 5_000);
    assert_eq!(server.state.log.latest(bulk_id).await.unwrap(), before + 1, "one change");
    let (_, page) = phone.send(Method::GET, &format!("/api/v1/sync/changes?after={before}"), None).await;
    let page: expenso_core::sync::PullResponse = serde_json::from_value(page).unwrap();
    let size = page.changes[0].change.0.len();
    eprintln!("a {} byte backup of 5,000 transactions: one change of {size} bytes, imported in {took:?}", text.len());
    assert!(size < expenso_server::sync::MAX_CHANGE_BYTES / 4, "{size} bytes");

    // The dashboard reads its own write, and a device receives the same ledger.
    let (_, listed) = bulk.send(Method::GET, "/api/v1/transactions?limit=1", None).await;
    assert_eq!(listed["total"], json!(5_000));
    let mut device = device(33);
    pull(&phone, &mut device, 0).await;
    // All were booked at one moment, so only the order within that moment may differ.
    let by_id = |mut b: expenso_core::Backup| {
        b.transactions.sort_by_key(|t| t.id);
        b
    };
    assert_eq!(by_id(device.export_backup().unwrap()), by_id(backup));
    assert_eq!(device.balance(None, None).unwrap(), source.balance(None, None).unwrap());
    let (_, balance) = bulk.send(Method::GET, "/api/v1/summaries/balance", None).await;
    assert_eq!(balance, serde_json::to_value(source.balance(None, None).unwrap()).unwrap());
    server.cleanup().await;
}

#[tokio::test]
async fn pages_of_the_whole_list_read_only_their_months_and_match_plain_skipping() {
    let server = TestServer::start().await;
    let web = server.account("deep@example.com").await;
    let mut ledger = device(7);
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut workload = expenso_core::sample::Workload::prepare(
        &mut ledger,
        11,
        chrono::NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
        at,
    )
    .unwrap();
    workload.fill(&mut ledger, 1_300, 500, at).unwrap();
    push_all(&web, &mut ledger).await;
    wait_for_records(&web, 1_300).await;
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    };
    for order in ["desc", "asc"] {
        // The first pages (the dashboard's latest), pages across a month's end, deep pages, the
        // end of the list and past it; 500 rows span several months.
        for (offset, limit) in
            [(0, 6), (0, 500), (3, 40), (117, 100), (1_000, 40), (1_117, 40), (1_250, 40), (1_299, 40), (1_300, 40)]
        {
            // The whole list reads its months; "from 1900" is the same list, skipped record by
            // record.
            let (_, seeking) = web
                .send(Method::GET, &format!("/api/v1/transactions?order={order}&offset={offset}&limit={limit}"), None)
                .await;
            let (_, plain) = web
                .send(
                    Method::GET,
                    &format!("/api/v1/transactions?from=1900-01-01&order={order}&offset={offset}&limit={limit}"),
                    None,
                )
                .await;
            assert_eq!(seeking["total"], json!(1_300));
            assert_eq!(ids(&seeking), ids(&plain), "{order} from {offset}, {limit}");
            assert_eq!(ids(&seeking).len(), (1_300 - offset).min(limit) as usize);
        }
    }
    server.cleanup().await;
}
