//! The OpenAPI document describes the API that is served, and the copy the web dashboard's
//! types are generated from (`ui/src/api/openapi.json`) is the served one.

use reqwest::{Method, StatusCode};

use crate::support::TestServer;

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_nothing_else() {
    let server = TestServer::start().await;
    let c = server.account("api@example.com").await;
    let (status, doc) = c.send(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/v1/auth/signup",
        "/api/v1/account",
        "/api/v1/account/sessions/{id}",
        "/api/v1/sync/changes",
        "/api/v1/sync",
        "/readyz",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    // Every documented operation is routed: none falls through to "endpoint not found".
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            let (status, body) = c.send(method.clone(), &concrete, None).await;
            assert_ne!(body["message"], "endpoint not found", "{method} {path} is documented but not served");
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented but not served");
            operations += 1;
        }
    }
    assert!(operations >= 16, "{operations} operations");
    server.cleanup().await;
}

/// The committed copy the UI generates its types from (`npm run codegen` in `ui/`).
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/api/openapi.json");

#[tokio::test]
async fn the_committed_openapi_document_is_the_served_one() {
    let server = TestServer::start().await;
    let (status, doc) = server.client().send(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let served = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    server.cleanup().await;
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        std::fs::write(COMMITTED, &served).unwrap_or_else(|e| panic!("cannot write {COMMITTED}: {e}"));
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    if committed != served {
        let line = committed.lines().zip(served.lines()).position(|(a, b)| a != b).map_or_else(
            || format!("{} lines committed, {} served", committed.lines().count(), served.lines().count()),
            |n| format!("first difference at line {}", n + 1),
        );
        panic!(
            "ui/src/api/openapi.json is not the API the server serves ({line}): run \
             `UPDATE_EXPECT=1 cargo nextest run -p expenso-server openapi`, then `npm run codegen` in ui/"
        );
    }
}
