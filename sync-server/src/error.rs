//! One error type for every handler: a stable `code`, a readable message, the right status.
//! Internal failures are logged and shown only as "internal".

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error("sign in again: your session is missing, expired or revoked")]
    Unauthorized,
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("{0}")]
    Conflict(String),
    /// A category that still has transactions was to be deleted without a destination.
    #[error("{0}")]
    CategoryInUse(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("too many attempts; try again in a minute")]
    RateLimited,
    #[error("the request is too large")]
    TooLarge,
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Every error answer: a stable code to branch on and a message for people.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl Error {
    /// The underlying cause, for start-up failures that must say what went wrong.
    pub fn into_cause(self) -> anyhow::Error {
        match self {
            Error::Internal(e) => e,
            other => anyhow::anyhow!("{other}"),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::Unauthorized => "unauthorized",
            Error::BadCredentials => "bad_credentials",
            Error::Conflict(_) => "conflict",
            Error::CategoryInUse(_) => "category_in_use",
            Error::NotFound(_) => "not_found",
            Error::RateLimited => "rate_limited",
            Error::TooLarge => "too_large",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthorized | Error::BadCredentials => StatusCode::UNAUTHORIZED,
            Error::Conflict(_) | Error::CategoryInUse(_) => StatusCode::CONFLICT,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Error::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        (self.status(), Json(ErrorBody { code: self.code().into(), message: self.to_string() })).into_response()
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(e.into())
    }
}

/// The ledger's own answers: a user's mistake keeps its meaning, anything else is internal.
impl From<expenso_core::Error> for Error {
    fn from(e: expenso_core::Error) -> Self {
        match e {
            expenso_core::Error::Invalid { .. }
            | expenso_core::Error::BadBackup(_)
            | expenso_core::Error::BadImport { .. } => Error::Invalid(e.to_string()),
            expenso_core::Error::NotFound { entity, .. } => Error::NotFound(entity),
            expenso_core::Error::CategoryInUse { .. } => Error::CategoryInUse(e.to_string()),
            other => Error::Internal(other.into()),
        }
    }
}

impl From<mongodb::error::Error> for Error {
    fn from(e: mongodb::error::Error) -> Self {
        Error::Internal(e.into())
    }
}
