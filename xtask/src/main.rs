//! `cargo xtask <command>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `run`: builds the UI and launches the desktop app.
//! - `bundle`: .deb and .rpm packages of the desktop app.
//! - `test`: installs what a fresh machine lacks, then runs every check and test (the Rust
//!   workspace, the UI's unit tests and its browser tests against the real server).
//! - `bench`: runs the benchmarks on the reference workloads and prints their tables.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod desktop;
mod services;
mod ui;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run      build the UI and launch the desktop app on its local ledger (--release for an optimized build)
  bundle   .deb and .rpm packages of the desktop app, and their sizes
  test     install what is missing, then run formatting, lint and every test: the Rust workspace,
           the UI (lint, types, unit tests, build), the web dashboard in Chromium and the desktop
           app through WebDriver
  fuzz     fuzz the bank statement parsers with cargo-fuzz (installed if missing): `cargo xtask fuzz
           [csv|ofx|qif] [seconds]`, every target for 60 s by default; crashes land in
           core/fuzz/artifacts
  bench    run the benchmarks and print their tables: `ledger` (the core on reference ledgers of 10k
           and 100k transactions), `reports` (a one-year PDF report, the CSV export of 100k
           transactions, importing 10k-row CSV and OFX statements), `load` (the sync server with 100 and 1,000 devices, and a
           fresh device downloading a 100k ledger) and `sync` (devices syncing 10k and 100k
           transactions through the server, and a one-edit round trip) and `ui` (the web
           dashboard's bundle size, first paint and list scrolling with 10k and 100k
           transactions on the server) and `desktop` (the app's cold start to first data with
           100k transactions, idle memory, binary size; --release for an optimized build); all
           when none is named";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).with_context(|| format!("cannot enter {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("run") => desktop::run_app(&args[1..]),
        Some("bundle") => desktop::bundle(),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command, echoing it first; fails with its exit status.
fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program).args(args).status().with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn has(program: &str, probe: &[&str]) -> bool {
    Command::new(program).args(probe).output().is_ok_and(|o| o.status.success())
}

/// The tests build the workspace with the desktop app's UI embedded, as its WebDriver tests
/// need it, so that their build of the app afterwards compiles nothing again.
const DESKTOP_EMBEDDED: &str = "expenso-desktop/custom-protocol";

fn test(extra: &[String]) -> Result<()> {
    ensure_rust_components()?;
    // The workspace's desktop crate builds against the system's WebKitGTK.
    desktop::ensure_libraries()?;
    // The PDF report's tests read the documents back with poppler (pdftotext, pdfinfo) and
    // render a page to look at (pdftoppm).
    services::ensure_packages(&[("poppler-utils", "/usr/bin/pdftotext")])?;
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    ui::check_and_build()?;
    // The server's tests talk to real databases; they are started here and stopped after.
    let _mongo = services::ensure_test_databases()?;
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    // Every suite runs even when one fails, so one run shows every failure.
    let rust = if has("cargo", &["nextest", "--version"]) {
        let mut args =
            vec!["nextest", "run", "--workspace", "--locked", "--no-fail-fast", "--features", DESKTOP_EMBEDDED];
        args.extend(&extra);
        run("cargo", &args)
    } else {
        let mut args = vec!["test", "--workspace", "--locked", "--no-fail-fast", "--features", DESKTOP_EMBEDDED];
        args.extend(&extra);
        run("cargo", &args)
    };
    let web = ui::e2e();
    let app = desktop::e2e();
    rust.and(web).and(app)
}

/// `cargo xtask fuzz [target] [seconds]`: libFuzzer on the statement parsers (`core/fuzz`).
/// cargo-fuzz needs nightly features; `RUSTC_BOOTSTRAP` lets the stable toolchain build them.
fn fuzz(extra: &[String]) -> Result<()> {
    const TARGETS: [&str; 3] = ["csv", "ofx", "qif"];
    let targets: Vec<&str> = match extra.first().map(String::as_str) {
        Some(t) if TARGETS.contains(&t) => vec![t],
        Some(other) if other.parse::<u64>().is_err() => bail!("unknown fuzz target {other:?}: csv, ofx or qif"),
        _ => TARGETS.to_vec(),
    };
    let seconds = extra.iter().find_map(|a| a.parse::<u64>().ok()).unwrap_or(60);
    if !has("cargo", &["fuzz", "--version"]) {
        run("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    for target in targets {
        eprintln!("$ (cd core/fuzz && cargo fuzz run {target} -- -max_total_time={seconds})");
        let status = Command::new("cargo")
            .args(["fuzz", "run", target, "--", &format!("-max_total_time={seconds}")])
            .current_dir("core/fuzz")
            .env("RUSTC_BOOTSTRAP", "1")
            .status()
            .context("cannot start cargo fuzz")?;
        if !status.success() {
            bail!("fuzzing {target} found a failure ({status}); the input is in core/fuzz/artifacts/{target}");
        }
    }
    Ok(())
}

/// rustfmt and clippy come with rustup's default profile but not its minimal one.
fn ensure_rust_components() -> Result<()> {
    let missing: Vec<&str> = [("rustfmt", "fmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(_, sub)| !has("cargo", &[sub, "--version"]))
        .map(|(component, _)| component)
        .collect();
    if !missing.is_empty() {
        let mut args = vec!["component", "add"];
        args.extend(&missing);
        run("rustup", &args).context("installing rustfmt/clippy with rustup")?;
    }
    Ok(())
}

/// `cargo xtask bench [ledger|reports|load|sync|ui|desktop]`: the core's ledger and report
/// benchmarks, the sync server's load benchmark, the devices' sync benchmark, the web
/// dashboard's and the desktop app's (those with a server start the databases as the tests
/// do); all without an argument.
fn bench(extra: &[String]) -> Result<()> {
    let which = extra.first().map(String::as_str);
    if matches!(which, None | Some("ledger")) {
        run("cargo", &["bench", "--locked", "-p", "expenso-core", "--bench", "ledger"])?;
    }
    if matches!(which, None | Some("reports")) {
        run("cargo", &["bench", "--locked", "-p", "expenso-core", "--bench", "reports"])?;
    }
    if matches!(which, None | Some("load")) {
        let _mongo = services::ensure_test_databases()?;
        run("cargo", &["bench", "--locked", "-p", "expenso-server", "--bench", "load"])?;
    }
    if matches!(which, None | Some("sync")) {
        let _mongo = services::ensure_test_databases()?;
        run("cargo", &["bench", "--locked", "-p", "expenso-server", "--bench", "sync"])?;
    }
    if matches!(which, None | Some("ui")) {
        let _mongo = services::ensure_test_databases()?;
        ui::bench()?;
    }
    if matches!(which, None | Some("desktop")) {
        desktop::bench(extra.iter().any(|a| a == "--release"))?;
    }
    if let Some(other) = which.filter(|w| !matches!(*w, "ledger" | "reports" | "load" | "sync" | "ui" | "desktop")) {
        bail!("unknown benchmark {other:?}: ledger, reports, load, sync, ui or desktop");
    }
    Ok(())
}
