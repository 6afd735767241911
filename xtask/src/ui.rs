//! The UI's part of `cargo xtask test`: its npm packages (installed from the lock file), lint,
//! type check, unit tests and production build, a check that the generated API types match the
//! committed OpenAPI document, and the browser tests in Debian's Chromium against the real
//! server and databases.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::services::{apt_install, ensure_packages, target_dir};
use crate::{has, run};

pub fn ui_dir() -> PathBuf {
    PathBuf::from("ui")
}

/// Node.js and npm, from Debian when missing.
fn ensure_node() -> Result<()> {
    if !has("node", &["--version"]) || !has("npm", &["--version"]) {
        apt_install(&["nodejs", "npm"])?;
    }
    Ok(())
}

fn npm(args: &[&str]) -> Result<()> {
    eprintln!("$ (cd ui && npm {})", args.join(" "));
    let status = Command::new("npm").args(args).current_dir(ui_dir()).status().context("cannot start npm")?;
    if !status.success() {
        bail!("`npm {}` in ui/ failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Installs the UI's packages exactly as the lock file says (no network when they are there).
pub fn install() -> Result<()> {
    ensure_node()?;
    npm(&["ci", "--no-audit", "--no-fund", "--loglevel=error"])
}

/// Lint, types, unit tests and the production build the server serves.
pub fn check_and_build() -> Result<()> {
    install()?;
    check_generated_types()?;
    npm(&["run", "lint"])?;
    npm(&["run", "typecheck"])?;
    npm(&["test"])?;
    build()
}

pub fn build() -> Result<()> {
    npm(&["run", "build"])
}

/// `src/api/schema.ts` is generated from `src/api/openapi.json` (which a server test keeps
/// equal to the served document); a hand edit or a stale file fails here.
fn check_generated_types() -> Result<()> {
    let fresh = std::env::temp_dir().join(format!("expenso-schema-{}.ts", std::process::id()));
    let status = Command::new("npx")
        .args(["openapi-typescript", "src/api/openapi.json", "-o"])
        .arg(&fresh)
        .current_dir(ui_dir())
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot start npx openapi-typescript")?;
    if !status.success() {
        bail!("openapi-typescript failed ({status})");
    }
    let same = std::fs::read(&fresh)? == std::fs::read(ui_dir().join("src/api/schema.ts"))?;
    let _ = std::fs::remove_file(&fresh);
    if !same {
        bail!("ui/src/api/schema.ts is stale: run `npm run codegen` in ui/ and commit the result");
    }
    Ok(())
}

/// The browser tests: the real server binary serving the built UI, the databases the Rust
/// tests use, and Chromium from Debian.
pub fn e2e() -> Result<()> {
    ensure_chromium()?;
    // The server's integration tests build the binary with the workspace's features; building
    // it alone would resolve other features and compile much of it again.
    let bin = target_dir().join("debug/expenso-server");
    if !bin.exists() {
        run("cargo", &["build", "--locked", "--workspace", "--bins"])?;
    }
    let bin = std::fs::canonicalize(&bin).with_context(|| format!("{} was not built", bin.display()))?;
    std::env::set_var("EXPENSO_SERVER_BIN", bin);
    npm(&["run", "e2e"])
}

/// The dashboard's benchmark (`e2e/bench.mjs`): bundle size, first paint and scrolling with
/// large ledgers on the real server, made and uploaded by the real command line.
pub fn bench() -> Result<()> {
    install()?;
    build()?;
    ensure_chromium()?;
    run("cargo", &["build", "--locked", "--release", "-p", "expenso-server", "-p", "expenso-cli"])?;
    let release = target_dir().join("release");
    std::env::set_var("EXPENSO_SERVER_BIN", std::fs::canonicalize(release.join("expenso-server"))?);
    std::env::set_var("EXPENSO_CLI_BIN", std::fs::canonicalize(release.join("expenso"))?);
    npm(&["run", "bench"])
}

fn ensure_chromium() -> Result<()> {
    // Chromium, the fonts its screenshots need (text and the categories' emoji icons), and
    // psql, which makes each run's database.
    ensure_packages(&[
        ("chromium", "/usr/bin/chromium"),
        ("fonts-dejavu-core", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        ("fonts-noto-color-emoji", "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
        ("postgresql-client", "/usr/bin/psql"),
    ])
}
