//! Accounts and sessions: sign-up, login, token refresh (rotating), logout, profile,
//! password change, sessions (one per signed-in device) and account deletion.
//!
//! Access tokens live 15 minutes, refresh tokens 60 days; both are opaque random strings of
//! which only SHA-256 hashes are stored, so a database leak yields no usable token. Every
//! query is scoped to the signed-in user.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub use expenso_core::account::{Profile, SessionInfo, SignedIn, Tokens};

use crate::error::{Error, ErrorBody, Result};
use crate::security::{check_new_password, hash_password, new_token, token_hash, verify_password};
use crate::{ApiJson, AppState};

const ACCESS_TTL_MINUTES: i64 = 15;
const REFRESH_TTL_DAYS: i64 = 60;
const RESET_TTL_MINUTES: i64 = 60;
const MAX_EMAIL: usize = 254;
const MAX_NAME: usize = 100;

/// Routes and their OpenAPI operations, registered together.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(profile, update_profile, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(sessions))
        .routes(routes!(revoke_session))
}

/// The signed-in user and session behind a request (`Authorization: Bearer <access token>`).
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header.and_then(|h| h.strip_prefix("Bearer ")).ok_or(Error::Unauthorized)?;
        authenticate(state, token.trim()).await
    }
}

/// Looks up an access token; touches the session's last-seen time at most once a minute.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Auth> {
    let row: Option<(Uuid, Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, user_id, last_seen_at FROM sessions
         WHERE access_hash = $1 AND revoked_at IS NULL AND access_expires_at > now()",
    )
    .bind(token_hash(token))
    .fetch_optional(&state.pg)
    .await?;
    let (session_id, user_id, last_seen) = row.ok_or(Error::Unauthorized)?;
    if Utc::now() - last_seen > Duration::minutes(1) {
        sqlx::query("UPDATE sessions SET last_seen_at = now() WHERE id = $1")
            .bind(session_id)
            .execute(&state.pg)
            .await?;
    }
    Ok(Auth { user_id, session_id })
}

/// Whether a session still stands (not revoked, not expired): open WebSockets check this.
pub async fn session_alive(state: &AppState, session_id: Uuid) -> Result<bool> {
    let row: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL AND refresh_expires_at > now()")
            .bind(session_id)
            .fetch_optional(&state.pg)
            .await?;
    Ok(row.is_some())
}

#[derive(Deserialize, ToSchema)]
struct SignupRequest {
    email: String,
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    device_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
struct LoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    device_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
struct RefreshRequest {
    refresh_token: String,
}

/// The address a request came from (unspecified when served without connection info).
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    /// Behind a load balancer (`EXPENSO_TRUST_PROXY`), the address it appended last to
    /// `X-Forwarded-For`; otherwise the peer's.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> std::result::Result<ClientIp, Self::Rejection> {
        if state.config.trust_proxy {
            let forwarded = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back();
            if let Some(ip) = forwarded.and_then(|v| v.rsplit(',').next()).and_then(|a| a.trim().parse().ok()) {
                return Ok(ClientIp(ip));
            }
        }
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
        Ok(ClientIp(addr.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))))
    }
}

fn normalize_email(email: &str) -> Result<(String, String)> {
    let email = email.trim();
    let valid = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if !valid {
        return Err(Error::Invalid(format!("email: {email:?} is not an e-mail address")));
    }
    Ok((email.to_string(), email.to_lowercase()))
}

fn check_name(field: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!("{field}: at most {MAX_NAME} printable characters")));
    }
    Ok(name.to_string())
}

/// Runs password hashing off the async threads, a few at a time: each argon2id run takes
/// 19 MiB, so an unbounded number would let a burst of requests exhaust memory.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    static PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
    let _permit = PERMITS.acquire().await.map_err(|e| Error::Internal(e.into()))?;
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Internal(e.into()))
}

/// Opens a session for a user: new access and refresh tokens.
async fn open_session(state: &AppState, user_id: Uuid, device_name: Option<&str>) -> Result<Tokens> {
    let device = check_name("device_name", device_name.unwrap_or("Unnamed device"))?;
    let (access, access_hash) = new_token();
    let (refresh, refresh_hash) = new_token();
    let session_id = Uuid::now_v7();
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, device_name, access_hash, access_expires_at, refresh_hash,
                               refresh_expires_at, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(device)
    .bind(access_hash)
    .bind(now + Duration::minutes(ACCESS_TTL_MINUTES))
    .bind(refresh_hash)
    .bind(now + Duration::days(REFRESH_TTL_DAYS))
    .bind(now)
    .execute(&state.pg)
    .await?;
    Ok(Tokens { access_token: access, refresh_token: refresh, expires_in: ACCESS_TTL_MINUTES * 60, session_id })
}

pub(crate) async fn load_profile(state: &AppState, user_id: Uuid) -> Result<Profile> {
    let row: Option<(Uuid, String, String, String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, email, display_name, base_currency, locale, created_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&state.pg)
            .await?;
    let (id, email, display_name, base_currency, locale, created_at) = row.ok_or(Error::Unauthorized)?;
    Ok(Profile { id, email, display_name, base_currency, locale, created_at })
}
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = SignedIn), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignedIn>)> {
    state.limiter.check(ip, "signup")?;
    let (email, email_key) = normalize_email(&req.email)?;
    check_new_password(&req.password, &email)?;
    let display_name = check_name("display_name", &req.display_name)?;
    let password = req.password;
    let hash = blocking(move || hash_password(&password)).await??;
    let user_id = Uuid::now_v7();
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, email_key, password_hash, display_name, created_at, password_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (email_key) DO NOTHING",
    )
    .bind(user_id)
    .bind(&email)
    .bind(&email_key)
    .bind(hash)
    .bind(display_name)
    .bind(now)
    .execute(&state.pg)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::Conflict("email: an account with this e-mail exists; log in or reset the password".into()));
    }
    let tokens = open_session(&state, user_id, req.device_name.as_deref()).await?;
    tracing::info!(user = %user_id, "account created");
    // A new account's ledger is the genesis alone: publish its categories, payment methods and
    // settings now, so the dashboard shows them before any device has synced. A failure here
    // only delays that (the first change published republishes everything).
    if let Err(e) = state.ledgers.materialize(user_id).await {
        tracing::warn!(user = %user_id, error = %e, "the new ledger's projections were not published yet");
    }
    Ok((StatusCode::CREATED, Json(SignedIn { user: load_profile(&state, user_id).await?, tokens })))
}
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SignedIn), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<SignedIn>> {
    state.limiter.check(ip, "login")?;
    let email_key = req.email.trim().to_lowercase();
    let row: Option<(Uuid, String)> = sqlx::query_as("SELECT id, password_hash FROM users WHERE email_key = $1")
        .bind(&email_key)
        .fetch_optional(&state.pg)
        .await?;
    let stored = row.as_ref().map(|(_, h)| h.clone());
    let password = req.password;
    // An unknown e-mail costs the same time and gets the same answer as a wrong password.
    let ok = blocking(move || verify_password(&password, stored.as_deref())).await?;
    let user_id = match (ok, row) {
        (true, Some((id, _))) => id,
        _ => return Err(Error::BadCredentials),
    };
    let tokens = open_session(&state, user_id, req.device_name.as_deref()).await?;
    Ok(Json(SignedIn { user: load_profile(&state, user_id).await?, tokens }))
}

/// Swaps a refresh token for new tokens. Each refresh token works once; presenting a used
/// one again means it leaked, and the whole session is revoked.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Tokens), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<Tokens>> {
    state.limiter.check(ip, "refresh")?;
    let presented = token_hash(req.refresh_token.trim());
    let reused: Option<(Uuid,)> = sqlx::query_as(
        "UPDATE sessions SET revoked_at = now()
         WHERE id = (SELECT session_id FROM replaced_refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL
         RETURNING id",
    )
    .bind(&presented)
    .fetch_optional(&state.pg)
    .await?;
    if let Some((session,)) = reused {
        tracing::warn!(session = %session, "a replaced refresh token was presented again; session revoked");
        return Err(Error::Unauthorized);
    }
    let (access, access_hash) = new_token();
    let (refresh, refresh_hash) = new_token();
    let now = Utc::now();
    let mut tx = state.pg.begin().await?;
    let row: Option<(Uuid,)> = sqlx::query_as(
        "UPDATE sessions SET access_hash = $2, access_expires_at = $3, refresh_hash = $4, refresh_expires_at = $5,
                last_seen_at = $6
         WHERE refresh_hash = $1 AND revoked_at IS NULL AND refresh_expires_at > $6
         RETURNING id",
    )
    .bind(&presented)
    .bind(access_hash)
    .bind(now + Duration::minutes(ACCESS_TTL_MINUTES))
    .bind(refresh_hash)
    .bind(now + Duration::days(REFRESH_TTL_DAYS))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((session_id,)) = row {
        sqlx::query("INSERT INTO replaced_refresh_tokens (token_hash, session_id) VALUES ($1, $2)")
            .bind(&presented)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let (session_id,) = row.ok_or(Error::Unauthorized)?;
    Ok(Json(Tokens { access_token: access, refresh_token: refresh, expires_in: ACCESS_TTL_MINUTES * 60, session_id }))
}
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode> {
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2")
        .bind(auth.session_id)
        .bind(auth.user_id)
        .execute(&state.pg)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
#[utoipa::path(get, path = "/api/v1/account", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody)))]
async fn profile(State(state): State<AppState>, auth: Auth) -> Result<Json<Profile>> {
    Ok(Json(load_profile(&state, auth.user_id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileUpdate {
    display_name: Option<String>,
    base_currency: Option<String>,
    locale: Option<String>,
}
#[utoipa::path(patch, path = "/api/v1/account", tag = "account", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_profile(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> Result<Json<Profile>> {
    let display_name = req.display_name.as_deref().map(|n| check_name("display_name", n)).transpose()?;
    let base_currency = match req.base_currency.as_deref() {
        Some(code) => Some(
            expenso_core::Currency::from_code(code)
                .ok_or_else(|| Error::Invalid(format!("base_currency: {code:?} is not an ISO 4217 currency code")))?
                .code()
                .to_string(),
        ),
        None => None,
    };
    let locale = match req.locale.as_deref() {
        Some(l) if valid_locale(l) => Some(l.to_string()),
        Some(l) => return Err(Error::Invalid(format!("locale: {l:?} is not a language tag like en or pt-BR"))),
        None => None,
    };
    sqlx::query(
        "UPDATE users SET display_name = coalesce($2, display_name), base_currency = coalesce($3, base_currency),
                locale = coalesce($4, locale)
         WHERE id = $1",
    )
    .bind(auth.user_id)
    .bind(display_name)
    .bind(base_currency)
    .bind(locale)
    .execute(&state.pg)
    .await?;
    Ok(Json(load_profile(&state, auth.user_id).await?))
}

/// BCP 47 in its common shapes: `en`, `en-GB`, `pt-BR`, `zh-Hant-TW`.
fn valid_locale(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && tag.len() <= 35
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Checks the signed-in user's password before a sensitive action; returns their e-mail.
async fn confirm_password(state: &AppState, user_id: Uuid, password: String, field: &str) -> Result<String> {
    let (email, stored): (String, String) = sqlx::query_as("SELECT email, password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.pg)
        .await?;
    if !blocking(move || verify_password(&password, Some(&stored))).await? {
        return Err(Error::Invalid(format!("{field}: this is not your password")));
    }
    Ok(email)
}

#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the password and ends every other session of the account.
#[utoipa::path(post, path = "/api/v1/account/password", tag = "account", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    state.limiter.check(ip, "password")?;
    let email = confirm_password(&state, auth.user_id, req.current_password, "current_password").await?;
    check_new_password(&req.new_password, &email)?;
    let new = req.new_password;
    let hash = blocking(move || hash_password(&new)).await??;
    let mut tx = state.pg.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1")
        .bind(auth.user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL")
        .bind(auth.user_id)
        .bind(auth.session_id)
        .execute(&mut *tx)
        .await?;
    // A reset link asked for before the change must not undo it.
    sqlx::query("DELETE FROM password_resets WHERE user_id = $1").bind(auth.user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/account/sessions", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ErrorBody)))]
async fn sessions(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<SessionInfo>>> {
    let rows: Vec<(Uuid, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, device_name, created_at, last_seen_at FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND refresh_expires_at > now() ORDER BY last_seen_at DESC",
    )
    .bind(auth.user_id)
    .fetch_all(&state.pg)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, device_name, created_at, last_seen_at)| SessionInfo {
                id,
                device_name,
                created_at,
                last_seen_at,
                current: id == auth.session_id,
            })
            .collect(),
    ))
}
#[utoipa::path(delete, path = "/api/v1/account/sessions/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = String, Path, description = "the session's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_session(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::Invalid(format!("id: {id:?} is not a session id")))?;
    let done =
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(id)
            .bind(auth.user_id)
            .execute(&state.pg)
            .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    email: String,
}

#[derive(Serialize, ToSchema)]
struct ResetRequested {
    message: &'static str,
}

/// Sends a reset link if the e-mail belongs to an account. The answer is the same, and as
/// quick, either way (the e-mail goes out in the background), so it tells nobody whether an
/// account exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, body = ResetRequested), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<ResetRequested>)> {
    state.limiter.check(ip, "password-reset")?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(Error::Unavailable("password recovery is not set up on this server"));
    };
    let user: Option<(Uuid, String)> = sqlx::query_as("SELECT id, email FROM users WHERE email_key = $1")
        .bind(req.email.trim().to_lowercase())
        .fetch_optional(&state.pg)
        .await?;
    if let Some((user_id, email)) = user {
        // Everything that only happens for a real account happens after the answer.
        let pg = state.pg.clone();
        tokio::spawn(async move {
            let (token, hash) = new_token();
            let stored =
                sqlx::query("INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
                    .bind(hash)
                    .bind(user_id)
                    .bind(Utc::now() + Duration::minutes(RESET_TTL_MINUTES))
                    .execute(&pg)
                    .await;
            let sent = match stored {
                Ok(_) => mailer.send_password_reset(&email, &token).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = sent {
                tracing::error!(user = %user_id, error = format!("{e:#}"), "the password-reset e-mail was not sent");
            }
        });
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(ResetRequested { message: "If an account uses this e-mail, a reset link is on its way." }),
    ))
}

#[derive(Deserialize, ToSchema)]
struct ResetConfirm {
    token: String,
    new_password: String,
}

/// Sets a new password with a reset token (single use, one hour) and ends every session.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn confirm_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<ResetConfirm>,
) -> Result<StatusCode> {
    state.limiter.check(ip, "password-reset")?;
    let invalid = || Error::Invalid("token: this reset link is invalid, used or expired; ask for a new one".into());
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT r.user_id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()",
    )
    .bind(token_hash(req.token.trim()))
    .fetch_optional(&state.pg)
    .await?;
    let (user_id, email) = row.ok_or_else(invalid)?;
    check_new_password(&req.new_password, &email)?;
    let new = req.new_password;
    let hash = blocking(move || hash_password(&new)).await??;
    let mut tx = state.pg.begin().await?;
    // Marking the token used is the guard: of two concurrent uses, one finds it used.
    let used = sqlx::query("UPDATE password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL")
        .bind(token_hash(req.token.trim()))
        .execute(&mut *tx)
        .await?;
    if used.rows_affected() == 0 {
        return Err(invalid());
    }
    sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user = %user_id, "password reset");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct DeleteAccount {
    password: String,
}

/// Deletes the account and everything stored for it, in MongoDB and PostgreSQL.
#[utoipa::path(delete, path = "/api/v1/account", tag = "account", security(("bearer" = [])), request_body = DeleteAccount,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth,
    ApiJson(req): ApiJson<DeleteAccount>,
) -> Result<StatusCode> {
    state.limiter.check(ip, "password")?;
    confirm_password(&state, auth.user_id, req.password, "password").await?;
    // Sessions end first, so no device can push while the ledger goes; then the ledger; the
    // account last: if a step fails, the user can sign in again and retry.
    sqlx::query("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(auth.user_id)
        .execute(&state.pg)
        .await?;
    state.log.delete_account(auth.user_id).await?;
    state.ledgers.delete_account(auth.user_id).await?;
    sqlx::query("DELETE FROM users WHERE id = $1").bind(auth.user_id).execute(&state.pg).await?;
    tracing::info!(user = %auth.user_id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_locales_are_checked() {
        assert_eq!(
            normalize_email(" Alice@Example.com ").unwrap(),
            ("Alice@Example.com".into(), "alice@example.com".into())
        );
        for bad in ["alice", "alice@", "@example.com", "alice@example", "a b@example.com", "alice@.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert!(valid_locale("en") && valid_locale("pt-BR") && valid_locale("zh-Hant-TW"));
        assert!(!valid_locale("english!") && !valid_locale("e") && !valid_locale(""));
    }
}
