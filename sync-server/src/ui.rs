//! The web dashboard's files: the built Vue app (`index.html` and `assets/`) served at `/`
//! beside the API, so one origin serves both and the app needs no CORS.
//!
//! Files are served as they are; any other GET path outside `/api/` answers `index.html`,
//! so the app's own routes (`/transactions`, `/reset-password?token=…`) load it. The hashed
//! files under `/assets/` are cached for good; `index.html` is revalidated every time, so a
//! new build reaches browsers at their next load. Every answer carries a strict
//! Content-Security-Policy and no referrer (a reset link's token is in its URL).

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::Error;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[derive(Clone)]
struct Files {
    /// Everything but `/assets/`: a file, else `index.html`.
    pages: ServeDir<ServeFile>,
    /// `/assets/`: a file, else 404 (an old build's file must not become `index.html`
    /// cached for a year).
    assets: ServeDir,
}

/// The service that answers what the API's routes do not: the dashboard's files when `dir`
/// holds a built app, else `None` (a warning is logged once and the server answers the API
/// only).
pub fn service(dir: Option<&Path>) -> Option<Router> {
    let Some(dir) = dir else {
        tracing::warn!("no web dashboard: EXPENSO_WEB_DIR is not set, serving the API only");
        return None;
    };
    let index = dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(dir = %dir.display(), "no web dashboard: the web directory has no index.html, serving the API only");
        return None;
    }
    let files = Files {
        pages: ServeDir::new(dir)
            .append_index_html_on_directories(false)
            .precompressed_gzip()
            .fallback(ServeFile::new(index).precompressed_gzip()),
        assets: ServeDir::new(dir).append_index_html_on_directories(false).precompressed_gzip(),
    };
    Some(Router::new().fallback(serve).with_state(Arc::new(files)).layer(CompressionLayer::new().gzip(true)))
}

async fn serve(State(files): State<Arc<Files>>, req: Request) -> Response {
    let path = req.uri().path();
    // The API's unknown paths keep the API's answer; the dashboard is only ever read.
    if path == "/api" || path.starts_with("/api/") || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Error::NotFound("endpoint").into_response();
    }
    let asset = path.starts_with("/assets/");
    let answer = if asset { files.assets.clone().try_call(req).await } else { files.pages.clone().try_call(req).await };
    let mut response = match answer {
        Ok(r) if r.status() == StatusCode::NOT_FOUND => Error::NotFound("file").into_response(),
        Ok(r) => r.map(Body::new),
        Err(e) => Error::Internal(anyhow::Error::new(e).context("reading the web dashboard's files")).into_response(),
    };
    // A 304 refreshes the headers the browser keeps, so it must say immutable too.
    let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let cache = if asset && found { IMMUTABLE } else { "no-cache" };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
