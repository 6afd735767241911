//! expenso-server: accounts in PostgreSQL, each ledger's change log in MongoDB, and the HTTP
//! and WebSocket API that devices sync through.
//!
//! **Boundary:** the only crate that knows PostgreSQL and MongoDB. Stateless: any number of
//! instances can serve one set of databases; an instance learns of changes stored through
//! another by polling the change logs' counters.

pub mod auth;
pub mod config;
pub mod error;
pub mod ledger;
pub mod mail;
pub mod plans;
pub mod rates;
pub mod reports;
pub mod security;
pub mod sync;
pub mod ui;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::Config;
use error::{Error, Result};

/// The allocator of the server's binaries. Password hashing takes 19 MiB a time; glibc's
/// malloc raises its mmap threshold past such a block once one is freed and then keeps the
/// later ones in its per-thread heaps, so a burst of logins stayed resident (300 MB after a
/// few dozen sign-ins, measured). mimalloc gives freed memory back.
pub type Allocator = mimalloc::MiMalloc;

/// Migrations of the PostgreSQL schema, embedded and applied at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pg: sqlx::PgPool,
    pub log: sync::ChangeLog,
    pub ledgers: ledger::Ledgers,
    pub limiter: Arc<security::RateLimiter>,
    pub mailer: Option<Arc<mail::Mailer>>,
    /// Set to `true` when the server stops: open WebSockets close.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// The ECB's rate files as last downloaded.
    pub ecb: rates::EcbCache,
}

impl AppState {
    /// Connects to both databases and brings their schemas up to date.
    pub async fn connect(config: Config) -> anyhow::Result<AppState> {
        use anyhow::Context;
        let pg = sqlx::postgres::PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&config.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        MIGRATOR.run(&pg).await.context("migrating PostgreSQL")?;
        let client = mongodb::Client::with_uri_str(&config.mongodb_uri).await.context("connecting to MongoDB")?;
        let db = client.database(&config.mongodb_database);
        let log =
            sync::ChangeLog::open(client, &db).await.map_err(error::Error::into_cause).context("preparing MongoDB")?;
        let ledgers = ledger::Ledgers::open(log.clone(), pg.clone(), &db, config.ledger_cache_mb)
            .await
            .map_err(error::Error::into_cause)
            .context("preparing MongoDB")?;
        let limiter = Arc::new(security::RateLimiter::new(config.auth_per_minute));
        let mailer = mail::Mailer::from_config(&config).context("configuring SMTP")?.map(Arc::new);
        let shutdown = Arc::new(tokio::sync::watch::Sender::new(false));
        Ok(AppState {
            config: Arc::new(config),
            pg,
            log,
            ledgers,
            limiter,
            mailer,
            shutdown,
            ecb: rates::EcbCache::default(),
        })
    }

    /// Starts the instance's background work: hearing of changes stored through other
    /// instances (polling every `poll`) and the materializer.
    pub fn spawn_background(&self, poll: Duration) {
        tokio::spawn(self.log.clone().watch_other_instances(poll));
        tokio::spawn(self.ledgers.clone().run());
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "ExpensoTrack sync server", description = "Accounts, sessions and ledger sync for ExpensoTrack's devices and web dashboard."),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "account"), (name = "sync"), (name = "transactions"), (name = "categories"),
         (name = "summaries"), (name = "rates"), (name = "reports"), (name = "import"), (name = "operations"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The whole HTTP API, with its OpenAPI document at `/api/openapi.json`, and the web
/// dashboard's files when `web_dir` holds them. Every route is registered together with its
/// operation, so the document covers all of them (the dashboard's files are the fallback, not
/// an operation). Tests call this without a socket or serve it on port 0.
pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body;
    let dashboard = ui::service(state.config.web_dir.as_deref());
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(ready))
        .merge(auth::router())
        .merge(sync::router())
        .merge(web::router())
        .merge(plans::router())
        .merge(rates::router())
        .merge(reports::router())
        .split_for_parts();
    let router = router.route("/api/openapi.json", get(move || async move { Json(api) }));
    let router = match dashboard {
        Some(files) => router.fallback_service(files),
        None => router.fallback(|| async { Error::NotFound("endpoint") }),
    };
    router
        .with_state(state)
        // Bodies past the limit are refused by the JSON extractor, in the API's error format.
        .layer(DefaultBodyLimit::max(max_body))
        // Spans carry the path only: a WebSocket's access token may be in the query string.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
}

/// Alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Ready when both databases answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = String), (status = 500, body = error::ErrorBody)))]
async fn ready(State(state): State<AppState>) -> Result<(StatusCode, &'static str)> {
    sqlx::query("SELECT 1").execute(&state.pg).await?;
    state.log.ping().await?;
    Ok((StatusCode::OK, "ready"))
}

/// `Json` whose rejections (malformed JSON, wrong types, too large) answer in the API's
/// error format.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge,
                _ => Error::Invalid(rejection.body_text()),
            }),
        }
    }
}
