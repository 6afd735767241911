//! The server's configuration: one typed struct from flags or environment variables.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Behind a load balancer: take the client's address from the last `X-Forwarded-For`
    /// entry (for rate limits). Only set this when a proxy you run sets that header.
    #[arg(long, env = "EXPENSO_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// Where people reach the web dashboard; password-reset links point here.
    #[arg(long, env = "EXPENSO_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// The built web dashboard (`index.html` and `assets/`), served at `/`. Without it the
    /// server answers the API only.
    #[arg(long, env = "EXPENSO_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Memory, in MB, for the ledgers the server keeps loaded (for the web dashboard's edits
    /// and for publishing records); the least recently used beyond it are dropped. A
    /// 100,000-transaction ledger takes about 210 MB.
    #[arg(long, env = "EXPENSO_LEDGER_CACHE_MB", default_value_t = 256)]
    pub ledger_cache_mb: u64,
    /// Where the ECB's reference-rate files are fetched from (`eurofxref-*.xml`).
    #[arg(long, env = "EXPENSO_ECB_URL", default_value = expenso_core::rates::ECB_BASE_URL)]
    pub ecb_url: String,
    /// The SMTP server that sends password-reset e-mails (recovery is off without one).
    #[arg(long, env = "SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    /// `starttls` (port 587), `tls` (port 465) or `none` (a local relay only).
    #[arg(long, env = "SMTP_SECURITY", default_value = "starttls")]
    pub smtp_security: String,
    #[arg(long, env = "SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "SMTP_PASSWORD")]
    pub smtp_password: Option<String>,
    #[arg(long, env = "SMTP_FROM", default_value = "ExpensoTrack <no-reply@localhost>")]
    pub smtp_from: String,
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
            .field("trust_proxy", &self.trust_proxy)
            .field("ledger_cache_mb", &self.ledger_cache_mb)
            .field("public_url", &self.public_url)
            .field("web_dir", &self.web_dir)
            .field("ecb_url", &self.ecb_url)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_security", &self.smtp_security)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &self.smtp_password.as_ref().map(|_| "***"))
            .field("smtp_from", &self.smtp_from)
            .finish()
    }
}

/// Shows a connection string without its secrets: `scheme://user:***@host/path`, and no
/// query string at all (options such as `password=` or TLS key passwords live there).
fn redact(url: &str) -> String {
    let without_query = url.split('?').next().unwrap_or_default();
    let query = if without_query.len() < url.len() { "?…" } else { "" };
    let Some(scheme_end) = without_query.find("://") else { return format!("{without_query}{query}") };
    let rest = &without_query[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    // The host follows the last '@': a password may contain '@' itself.
    let shown = match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _)) => format!("{user}:***@{}", &authority[at + 1..]),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    format!("{}{shown}{path}{query}", &without_query[..scheme_end + 3])
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted() {
        assert_eq!(super::redact("postgres://app:hunter2@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(super::redact("mongodb://127.0.0.1:27017"), "mongodb://127.0.0.1:27017");
        assert_eq!(super::redact("postgres://app:p@ss@db/x"), "postgres://app:***@db/x");
        assert_eq!(super::redact("postgres://db/x?password=hunter2"), "postgres://db/x?…");
        assert_eq!(super::redact("postgres://postgres@db/x"), "postgres://postgres@db/x");
        assert_eq!(super::redact("mongodb://u:s@h1,h2/?tlsCertificateKeyFilePassword=k"), "mongodb://u:***@h1,h2/?…");
    }
}
