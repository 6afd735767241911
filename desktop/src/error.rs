//! What a command answers when it fails: `{code, message}`, the same shape as the sync
//! server's errors, so the UI's `ApiError` (and its field mapping) works for both.

use expenso_core::sync::client::ClientError;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> CommandError {
        CommandError { code: code.into(), message: message.into() }
    }

    pub fn invalid(field: &str, message: impl std::fmt::Display) -> CommandError {
        CommandError::new("invalid", format!("{field}: {message}"))
    }
}

impl From<expenso_core::Error> for CommandError {
    fn from(e: expenso_core::Error) -> Self {
        CommandError { code: e.code().into(), message: e.to_string() }
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Offline(m) => CommandError::new("offline", format!("The server cannot be reached: {m}")),
            ClientError::SignedOut(m) => CommandError::new("unauthorized", format!("Sign in again: {m}")),
            ClientError::Server { code, message, .. } => CommandError { code, message },
            other => CommandError::new("sync", other.to_string()),
        }
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::new("io", e.to_string())
    }
}
