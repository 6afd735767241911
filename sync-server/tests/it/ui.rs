//! The web dashboard's files, served beside the API: files as they are, the app's own routes
//! answering `index.html`, the API's paths keeping the API's answers, and nothing served
//! from outside the directory.

use std::path::Path;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::TestServer;

const INDEX: &str = "<!doctype html><html><head><title>ExpensoTrack</title>\
                     <script type=\"module\" src=\"/assets/app-3f2a1b.js\"></script></head>\
                     <body><div id=\"app\"></div></body></html>\n";
const SECRET: &str = "a file beside the web directory, never served";

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// `root/web` holds a built app; `root/secret.txt` sits beside it.
fn built_app(root: &Path) -> (std::path::PathBuf, String) {
    let web = root.join("web");
    std::fs::create_dir_all(web.join("assets")).unwrap();
    std::fs::write(web.join("index.html"), INDEX).unwrap();
    let script = "export function greet(name) { return `hello ${name}`; }\n".repeat(40);
    std::fs::write(web.join("assets/app-3f2a1b.js"), &script).unwrap();
    std::fs::write(root.join("secret.txt"), SECRET).unwrap();
    (web, script)
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, HeaderMap, String) {
    let resp = reqwest::get(format!("{}{path}", server.url)).await.expect("the server answers");
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// The headers every answer of the dashboard carries.
fn assert_ui_headers(path: &str, headers: &HeaderMap) {
    assert_eq!(header(headers, "content-security-policy"), CSP, "{path}");
    assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{path}");
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{path}");
}

/// Sends `target` exactly as written (an HTTP client would resolve `..` and `%2e%2e` first).
async fn raw_get(server: &TestServer, target: &str) -> String {
    let address = server.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn the_dashboard_is_served_beside_the_api() {
    let root = tempfile::tempdir().unwrap();
    let (web, script) = built_app(root.path());
    let server = TestServer::start_with(|c| c.web_dir = Some(web)).await;

    // The app, at its root and at its own routes.
    for path in ["/", "/transactions", "/reset-password?token=abc123", "/settings/profile", "/index.html"] {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX, "{path}");
        assert!(header(&headers, "content-type").starts_with("text/html"), "{path}: {headers:?}");
        assert_eq!(header(&headers, "cache-control"), "no-cache", "{path}");
        assert_ui_headers(path, &headers);
    }

    // Its hashed files, cached for good.
    let (status, headers, body) = get(&server, "/assets/app-3f2a1b.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, script);
    assert!(header(&headers, "content-type").contains("javascript"), "{headers:?}");
    assert_eq!(header(&headers, "cache-control"), "public, max-age=31536000, immutable");
    assert_ui_headers("/assets/app-3f2a1b.js", &headers);
    // Revalidated, it stays immutable (a 304 replaces the headers a browser keeps).
    let resp = reqwest::Client::new()
        .get(format!("{}/assets/app-3f2a1b.js", server.url))
        .header("if-modified-since", header(&headers, "last-modified"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(resp.headers(), "cache-control"), "public, max-age=31536000, immutable");
    // Compressed for a browser that asks.
    let resp = reqwest::Client::new()
        .get(format!("{}/assets/app-3f2a1b.js", server.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(resp.headers(), "content-encoding"), "gzip");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(bytes.len() < script.len() / 4, "{} bytes compressed from {}", bytes.len(), script.len());

    // A file an older build had is missing, not the app (which would be cached for a year).
    let (status, headers, body) = get(&server, "/assets/app-0ld0ld.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_ne!(body, INDEX);
    assert_eq!(header(&headers, "cache-control"), "no-cache");

    // The API keeps its own answers.
    let (status, _, body) = get(&server, "/api/v1/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({"code": "not_found", "message": "endpoint not found"}));
    let (status, _, body) = get(&server, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let c = server.account("ui@example.com").await;
    let (status, profile) = c.send(Method::GET, "/api/v1/account", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["email"], "ui@example.com");
    let (status, body) = c.send(Method::POST, "/transactions", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the dashboard is only read: {body}");
    assert_eq!(body["code"], "not_found");

    // The files are the fallback, not an operation of the API.
    let (_, doc) = c.send(Method::GET, "/api/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.keys().all(|p| p.starts_with("/api/") || p == "/healthz" || p == "/readyz"), "{:?}", paths.keys());

    // Nothing from outside the directory, however the path is spelled.
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "//secret.txt",
        "/web/../secret.txt",
    ] {
        let answer = raw_get(&server, target).await;
        assert!(answer.starts_with("HTTP/1.1 "), "{target}: {answer}");
        assert!(!answer.contains(SECRET), "{target} served a file from outside the directory: {answer}");
    }
    // The raw client does reach files, so the loop above tested something.
    assert!(raw_get(&server, "/assets/app-3f2a1b.js").await.contains("hello ${name}"));
    server.cleanup().await;
}

#[tokio::test]
async fn without_a_built_app_the_server_answers_the_api_only() {
    let root = tempfile::tempdir().unwrap();
    for web_dir in [None, Some(root.path().join("missing")), Some(root.path().to_path_buf())] {
        let server = TestServer::start_with(|c| c.web_dir = web_dir.clone()).await;
        for path in ["/", "/transactions", "/assets/app.js", "/api/v1/nope"] {
            let (status, headers, body) = get(&server, path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{web_dir:?} {path}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body, json!({"code": "not_found", "message": "endpoint not found"}), "{web_dir:?} {path}");
            assert!(headers.get("content-security-policy").is_none(), "{web_dir:?} {path}");
        }
        let (status, _, body) = get(&server, "/healthz").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
        server.cleanup().await;
    }
}
