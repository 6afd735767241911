//! The one error type of the core, with a stable machine-readable `code` for every edge.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given by the user is not acceptable. `field` names the input field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },

    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },

    /// A category still has transactions and no destination was given for them.
    #[error("category {name:?} still has {count} transaction(s); choose a category to move them to")]
    CategoryInUse { name: String, count: u64 },

    #[error("no ledger at {}; create one with `expenso init`", path.display())]
    NoLedger { path: PathBuf },

    #[error("a ledger already exists at {}", path.display())]
    LedgerExists { path: PathBuf },

    /// The ledger file is damaged. It is never modified once this is detected.
    #[error("the ledger file is damaged or is not an ExpensoTrack ledger ({reason}); it was left untouched")]
    Corrupt { reason: String },

    /// The ledger file was written by a newer version of ExpensoTrack.
    #[error("the ledger file was written by a newer ExpensoTrack (schema {found}, this build knows {known}); please upgrade")]
    TooNew { found: i64, known: i64 },

    /// Bytes received from another replica (or a backup) that are not valid changes.
    #[error("invalid change data: {0}")]
    BadChange(String),

    #[error("invalid backup: {0}")]
    BadBackup(String),

    /// A bank statement file that cannot be imported, and where: `line` is 1-based (0 means
    /// the file as a whole, e.g. one with no transactions), `column` is 1-based where the
    /// format has columns. No row of such a file is imported.
    #[error("{}: {message}", import_location(file, *line, *column))]
    BadImport { file: String, line: usize, column: Option<usize>, message: String },

    #[error("storage error: {0}")]
    Sqlite(rusqlite::Error),

    #[error("document error: {0}")]
    Automerge(#[from] automerge::AutomergeError),

    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => Error::Corrupt { reason: e.to_string() },
            _ => Error::Sqlite(e),
        }
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }

    /// A stable identifier the UI and scripts can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid",
            Error::NotFound { .. } => "not_found",
            Error::CategoryInUse { .. } => "category_in_use",
            Error::NoLedger { .. } => "no_ledger",
            Error::LedgerExists { .. } => "ledger_exists",
            Error::Corrupt { .. } => "corrupt",
            Error::TooNew { .. } => "too_new",
            Error::BadChange(_) => "bad_change",
            Error::BadBackup(_) => "bad_backup",
            Error::BadImport { .. } => "bad_import",
            Error::Sqlite(_) => "storage",
            Error::Automerge(_) => "document",
            Error::Io(_) => "io",
        }
    }
}

/// "statement.csv, line 14, column 3", or just the file name for the file as a whole.
fn import_location(file: &str, line: usize, column: Option<usize>) -> String {
    match (line, column) {
        (0, _) => file.to_string(),
        (line, None) => format!("{file}, line {line}"),
        (line, Some(column)) => format!("{file}, line {line}, column {column}"),
    }
}
