//! The server's configuration: one typed struct from flags or environment variables.

use std::fmt;
use std::net::SocketAddr;

use clap::Parser;

#[derive(Parser, Clone)]
#[command(name = "expenso-server", version, about = "ExpensoTrack's sync server")]
pub struct Config {
    /// PostgreSQL: accounts, sessions, devices.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// MongoDB (6 or newer, a replica set): the ledgers' change logs.
    #[arg(long, env = "MONGODB_URI")]
    pub mongodb_uri: String,
    #[arg(long, env = "MONGODB_DATABASE", default_value = "expenso")]
    pub mongodb_database: String,
    #[arg(long, env = "EXPENSO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest request body in bytes (a push of changes included).
    #[arg(long, env = "EXPENSO_MAX_BODY", default_value_t = 16 * 1024 * 1024)]
    pub max_body: usize,
    /// Sign-up, login and refresh attempts allowed per client address per minute.
    #[arg(long, env = "EXPENSO_AUTH_PER_MINUTE", default_value_t = 20)]
    pub auth_per_minute: u32,
}

/// Connection strings can carry passwords: they never reach a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact(&self.database_url))
            .field("mongodb_uri", &redact(&self.mongodb_uri))
            .field("mongodb_database", &self.mongodb_database)
            .field("listen", &self.listen)
            .field("max_body", &self.max_body)
            .field("auth_per_minute", &self.auth_per_minute)
            .finish()
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &credentials[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted() {
        assert_eq!(super::redact("postgres://app:hunter2@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(super::redact("mongodb://127.0.0.1:27017"), "mongodb://127.0.0.1:27017");
    }
}
