//! Devices (real core ledgers) sync through the server: push, pull, live notification over
//! the WebSocket, two instances, bad changes, and isolation between accounts.

use std::time::Duration;

use chrono::Utc;
use expenso_core::sync::{ClientMessage, PushRequest, PushResponse, ServerMessage, WireChange, PROTOCOL_VERSION};
use expenso_core::{Kind, NewTransaction, Store};
use futures::{SinkExt, StreamExt};
use mongodb::bson::doc;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::support::{device, pull, Client, TestServer};

fn book(store: &mut Store, amount: &str, description: &str) {
    let input = NewTransaction {
        kind: Some(Kind::Expense),
        amount: amount.into(),
        date: "2026-03-02".into(),
        category: "groceries".into(),
        description: description.into(),
        ..NewTransaction::default()
    };
    store.add_transaction(&input, Uuid::now_v7(), Utc::now()).unwrap();
}

async fn push(client: &Client, store: &mut Store) -> (StatusCode, serde_json::Value) {
    let changes = store.changes_since(&[]).unwrap().into_iter().map(WireChange).collect();
    client
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes }).unwrap()))
        .await
}

#[tokio::test]
async fn two_devices_of_one_account_converge_through_the_server() {
    let server = TestServer::start().await;
    let laptop = server.account("dee@example.com").await;
    let phone = laptop.login("dee@example.com", "phone").await;
    let (mut a, mut b) = (device(1), device(2));
    book(&mut a, "12.50", "market");
    book(&mut a, "3.20", "bakery");
    book(&mut b, "40", "fuel");
    let (status, body) = push(&laptop, &mut a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first: PushResponse = serde_json::from_value(body).unwrap();
    assert_eq!(first.stored.len(), a.changes_since(&[]).unwrap().len());
    let (status, _) = push(&phone, &mut b).await;
    assert_eq!(status, StatusCode::OK);
    // Pushing the same changes again is harmless.
    let (_, again) = push(&laptop, &mut a).await;
    let again: PushResponse = serde_json::from_value(again).unwrap();
    let latest = again.latest;
    assert_eq!(pull(&laptop, &mut a, 0).await, latest);
    assert_eq!(pull(&phone, &mut b, 0).await, latest);
    assert_eq!(a.transaction_count().unwrap(), 3);
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    // The shared genesis is stored once: the log holds each distinct change once.
    let distinct = a.changes_since(&[]).unwrap().len() as i64;
    assert_eq!(latest, distinct);
    server.cleanup().await;
}

async fn connect(
    server_url: &str,
    client: &Client,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = format!("{}/api/v1/sync", server_url.replacen("http", "ws", 1)).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", client.token.as_ref().unwrap()).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("the socket opens");
    ws.send(Message::text(serde_json::to_string(&ClientMessage::Hello { protocol: PROTOCOL_VERSION }).unwrap()))
        .await
        .unwrap();
    match next_message(&mut ws).await {
        ServerMessage::Welcome { protocol, .. } => assert_eq!(protocol, PROTOCOL_VERSION),
        other => panic!("expected a welcome, got {other:?}"),
    }
    ws
}

async fn next_message(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
) -> ServerMessage {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn a_device_hears_of_new_changes_at_once_and_syncs_over_the_websocket() {
    let server = TestServer::start().await;
    let laptop = server.account("eve@example.com").await;
    let phone = laptop.login("eve@example.com", "phone").await;
    let mut ws = connect(&server.url, &phone).await;
    let (mut a, mut b) = (device(1), device(2));
    book(&mut a, "9.99", "cinema");
    let (_, body) = push(&laptop, &mut a).await;
    let pushed: PushResponse = serde_json::from_value(body).unwrap();
    // A small push arrives with its changes, numbered.
    match next_message(&mut ws).await {
        ServerMessage::Pushed { changes, latest } => {
            assert_eq!(latest, pushed.latest);
            assert_eq!(changes.last().map(|c| c.seq), Some(pushed.latest));
        }
        other => panic!("expected the new changes, got {other:?}"),
    }
    ws.send(Message::text(serde_json::to_string(&ClientMessage::Pull { after: 0, limit: None }).unwrap()))
        .await
        .unwrap();
    let ServerMessage::Changes(page) = next_message(&mut ws).await else { panic!("expected changes") };
    b.apply_changes(&page.changes.iter().map(|c| c.change.0.clone()).collect::<Vec<_>>()).unwrap();
    assert_eq!(b.transaction_count().unwrap(), 1);
    // Pushing over the socket is acknowledged with the same id. B's new changes: its own
    // choice of base currency when it was set up, and the booking.
    book(&mut b, "5", "snacks");
    let changes = b.changes_since(&[]).unwrap().into_iter().map(WireChange).collect();
    ws.send(Message::text(serde_json::to_string(&ClientMessage::Push { id: 41, changes }).unwrap())).await.unwrap();
    match next_message(&mut ws).await {
        ServerMessage::Stored { id, latest, .. } => assert_eq!((id, latest), (41, pushed.latest + 2)),
        other => panic!("expected stored, got {other:?}"),
    }
    ws.send(Message::text("{\"type\": \"dance\"}")).await.unwrap();
    assert!(matches!(next_message(&mut ws).await, ServerMessage::Error { .. }));
    assert_eq!(pull(&laptop, &mut a, pushed.latest).await, pushed.latest + 2);
    assert_eq!(a.view_dump().unwrap(), b.view_dump().unwrap());
    server.cleanup().await;
}

#[tokio::test]
async fn a_change_stored_through_one_instance_reaches_devices_on_another() {
    let one = TestServer::start().await;
    let two = one.another_instance().await;
    let laptop = one.account("fay@example.com").await;
    let mut phone = laptop.login("fay@example.com", "phone").await;
    phone.base = two.url.clone();
    let mut ws = connect(&two.url, &phone).await;
    let mut a = device(1);
    book(&mut a, "1", "gum");
    let (_, body) = push(&laptop, &mut a).await;
    let pushed: PushResponse = serde_json::from_value(body).unwrap();
    // Through another instance, the note says only how far the log reaches.
    match next_message(&mut ws).await {
        ServerMessage::Notify { latest } => assert_eq!(latest, pushed.latest),
        other => panic!("expected a notification, got {other:?}"),
    }
    let mut b = device(2);
    pull(&phone, &mut b, 0).await;
    assert_eq!(b.transaction_count().unwrap(), 1);
    one.cleanup().await;
}

#[tokio::test]
async fn bad_changes_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let c = server.account("gus@example.com").await;
    let mut good = device(1);
    book(&mut good, "2", "tea");
    let changes = good.changes_since(&[]).unwrap();
    let mut forged = changes.last().unwrap().clone();
    let n = forged.len();
    forged[n - 2] ^= 0x55;
    for (bad, expect) in [(b"not a change".to_vec(), "not an automerge change"), (forged, "not an automerge change")] {
        let mut batch: Vec<WireChange> = changes.iter().cloned().map(WireChange).collect();
        batch.push(WireChange(bad));
        let (status, body) = c
            .send(
                Method::POST,
                "/api/v1/sync/changes",
                Some(serde_json::to_value(PushRequest { changes: batch }).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["message"].as_str().unwrap().contains(expect), "{body}");
    }
    let (status, body) =
        c.send(Method::POST, "/api/v1/sync/changes", Some(json!({"changes": ["%%% not base64"]}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(c.send(Method::GET, "/api/v1/sync/changes?after=0", None).await.1["changes"], json!([]));

    // Two different changes claiming one actor and sequence number: the second is refused.
    push(&c, &mut good).await;
    let mut twin = device(1);
    book(&mut twin, "3", "coffee");
    let (status, body) = push(&c, &mut twin).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");
    let (_, me) = c.send(Method::GET, "/api/v1/account", None).await;
    let account = Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let stored = server.state.log.pull(account, 0, 100).await.unwrap();
    assert_eq!(stored.changes.len(), changes.len(), "only the first device's changes are in the log");
    // Two different changes claiming one actor and sequence number within one push: refused.
    let mut other = device(3);
    book(&mut other, "1", "x");
    let mut other_twin = device(3);
    book(&mut other_twin, "2", "y");
    let mut batch: Vec<WireChange> = other.changes_since(&[]).unwrap().into_iter().map(WireChange).collect();
    batch.extend(other_twin.changes_since(&[]).unwrap().into_iter().map(WireChange));
    let (status, body) = c
        .send(Method::POST, "/api/v1/sync/changes", Some(serde_json::to_value(PushRequest { changes: batch }).unwrap()))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");
    assert_eq!(server.state.log.pull(account, 0, 100).await.unwrap().changes.len(), changes.len());
    server.cleanup().await;
}

#[tokio::test]
async fn accounts_never_see_each_others_ledgers() {
    let server = TestServer::start().await;
    let a = server.account("hal@example.com").await;
    let b = server.account("ida@example.com").await;
    let mut ws = connect(&server.url, &b).await;
    let mut ledger = device(1);
    book(&mut ledger, "100", "rent");
    push(&a, &mut ledger).await;
    let (_, page) = b.send(Method::GET, "/api/v1/sync/changes?after=0", None).await;
    assert_eq!(page["changes"], json!([]));
    assert!(
        tokio::time::timeout(Duration::from_millis(700), ws.next()).await.is_err(),
        "no notification for another account"
    );
    assert_eq!(
        server.client().send(Method::GET, "/api/v1/sync/changes?after=0", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    server.cleanup().await;
}

#[tokio::test]
async fn deleting_an_account_removes_its_ledger() {
    let server = TestServer::start().await;
    let c = server.account("jo@example.com").await;
    let mut ledger = device(1);
    book(&mut ledger, "7", "lunch");
    push(&c, &mut ledger).await;
    let (status, _) = c.send(Method::DELETE, "/api/v1/account", Some(json!({"password": "wrong password!!"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) =
        c.send(Method::DELETE, "/api/v1/account", Some(json!({"password": "a long and unusual phrase"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let client = mongodb::Client::with_uri_str(&server.state.config.mongodb_uri).await.unwrap();
    let left = client
        .database(&server.state.config.mongodb_database)
        .collection::<mongodb::bson::Document>("changes")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(left, 0);
    let users: (i64,) = sqlx::query_as("SELECT count(*) FROM users").fetch_one(&server.state.pg).await.unwrap();
    assert_eq!(users.0, 0);
    assert_eq!(c.send(Method::GET, "/api/v1/account", None).await.0, StatusCode::UNAUTHORIZED);
    server.cleanup().await;
}

#[tokio::test]
async fn bodies_up_to_the_configured_limit_are_read_and_larger_ones_refused() {
    let server = TestServer::start_with(|c| c.max_body = 4 * 1024 * 1024).await;
    let c = server.account("kim@example.com").await;
    // 2.5 MiB of bytes that are no change, 3.3 MiB as base64: read (past axum's 2 MiB
    // default), then refused as invalid, not as too large.
    let big = WireChange(vec![7u8; 5 * 512 * 1024]);
    let (status, body) = c
        .send(
            Method::POST,
            "/api/v1/sync/changes",
            Some(serde_json::to_value(PushRequest { changes: vec![big] }).unwrap()),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid")), "{body}");
    let huge = WireChange(vec![7u8; 5 * 1024 * 1024]);
    let (status, body) = c
        .send(
            Method::POST,
            "/api/v1/sync/changes",
            Some(serde_json::to_value(PushRequest { changes: vec![huge] }).unwrap()),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{body}");
    server.cleanup().await;
}

#[tokio::test]
async fn an_open_socket_ends_when_its_session_is_revoked() {
    let server = TestServer::start().await;
    let laptop = server.account("liv@example.com").await;
    let phone = laptop.login("liv@example.com", "phone").await;
    let mut ws = connect(&server.url, &phone).await;
    assert_eq!(phone.send(Method::POST, "/api/v1/auth/logout", None).await.0, StatusCode::NO_CONTENT);
    ws.send(Message::text(serde_json::to_string(&ClientMessage::Pull { after: 0, limit: None }).unwrap()))
        .await
        .unwrap();
    match next_message(&mut ws).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, "unauthorized"),
        other => panic!("expected the socket to refuse, got {other:?}"),
    }
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("the socket closes");
    assert!(matches!(end, None | Some(Ok(Message::Close(_))) | Some(Err(_))), "{end:?}");
    server.cleanup().await;
}

#[tokio::test]
async fn many_small_pushes_at_once_are_each_stored_once_and_numbered_without_gaps() {
    let server = TestServer::start().await;
    let mut accounts = Vec::new();
    for i in 0..4 {
        let c = server.account(&format!("group-{i}@example.com")).await;
        let (_, me) = c.send(Method::GET, "/api/v1/account", None).await;
        accounts.push(Uuid::parse_str(me["id"].as_str().unwrap()).unwrap());
    }
    // Two devices per account, each booking one transaction per push: the first push of each
    // carries the shared genesis too, so the two devices of an account push it at once.
    let mut pushes: Vec<(Uuid, Vec<WireChange>)> = Vec::new();
    let mut devices = Vec::new();
    for (k, &account) in accounts.iter().enumerate() {
        for d in 0..2u8 {
            let mut store = device(k as u8 * 2 + d + 1);
            let mut before = Vec::new();
            for t in 0..6 {
                book(&mut store, &format!("{}.{t}", k + 1), &format!("device {d} booking {t}"));
                let changes: Vec<WireChange> =
                    store.changes_since(&before).unwrap().into_iter().map(WireChange).collect();
                before = store.heads().unwrap();
                pushes.push((account, changes));
            }
            devices.push((account, store));
        }
    }
    // And one push sent twice at the same time.
    pushes.push(pushes[3].clone());

    let results = futures::future::join_all(
        pushes.iter().map(|(account, changes)| server.state.log.push(*account, Uuid::nil(), changes)),
    )
    .await;
    for ((_, changes), result) in pushes.iter().zip(&results) {
        let response = result.as_ref().expect("every push is stored");
        let hashes: Vec<String> =
            changes.iter().map(|c| automerge::Change::from_bytes(c.0.clone()).unwrap().hash().to_string()).collect();
        assert_eq!(response.stored, hashes, "each push is acknowledged with its own changes");
    }
    for &account in &accounts {
        let log = server.state.log.pull(account, 0, 1000).await.unwrap();
        let seqs: Vec<i64> = log.changes.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "numbered 1, 2, 3… without gaps");
        let mut distinct = std::collections::HashSet::new();
        for (owner, store) in &mut devices {
            if *owner == account {
                distinct.extend(store.changes_since(&[]).unwrap());
            }
        }
        let logged: std::collections::HashSet<Vec<u8>> = log.changes.iter().map(|c| c.change.0.clone()).collect();
        assert_eq!(logged.len(), log.changes.len(), "no change is stored twice");
        assert_eq!(logged, distinct, "the log holds exactly the account's changes");
        assert_eq!(server.state.log.latest(account).await.unwrap(), seqs.len() as i64);
        for (result, (owner, _)) in results.iter().zip(&pushes) {
            if *owner == account {
                let latest = result.as_ref().unwrap().latest;
                assert!((1..=seqs.len() as i64).contains(&latest), "a push's latest is in its account's log");
            }
        }
    }
    // Each device pulling the log ends with both devices' bookings.
    for (owner, store) in &mut devices {
        let log = server.state.log.pull(*owner, 0, 1000).await.unwrap();
        let raw: Vec<Vec<u8>> = log.changes.into_iter().map(|c| c.change.0).collect();
        store.apply_changes(&raw).unwrap();
        assert_eq!(store.transaction_count().unwrap(), 12);
    }
    server.cleanup().await;
}
