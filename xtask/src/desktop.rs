//! The desktop app: `cargo xtask run` (build the UI, launch the app), `cargo xtask bundle`
//! (.deb and .rpm packages), and its end-to-end tests through WebDriver under Xvfb.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::services::{apt_install, ensure_packages, target_dir};
use crate::{has, run, ui};

/// The system libraries Tauri builds against (Debian's names), found through pkg-config.
const LIBRARIES: &[(&str, &str)] = &[
    ("libwebkit2gtk-4.1-dev", "webkit2gtk-4.1"),
    ("libgtk-3-dev", "gtk+-3.0"),
    ("librsvg2-dev", "librsvg-2.0"),
    ("libayatana-appindicator3-dev", "ayatana-appindicator3-0.1"),
    ("libssl-dev", "openssl"),
    ("libsoup-3.0-dev", "libsoup-3.0"),
    ("libjavascriptcoregtk-4.1-dev", "javascriptcoregtk-4.1"),
];

/// Installs what building the app needs when it is missing (as root), or says what to run.
pub fn ensure_libraries() -> Result<()> {
    let mut missing: Vec<&str> = LIBRARIES
        .iter()
        .filter(|(_, module)| !has("pkg-config", &["--exists", module]))
        .map(|(package, _)| *package)
        .collect();
    if !has("pkg-config", &["--version"]) {
        missing.extend(["pkg-config", "build-essential", "file"]);
    }
    if !Path::new("/usr/include/xdo.h").exists() {
        missing.push("libxdo-dev");
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    Ok(())
}

/// Builds the app with its UI embedded. `with_workspace` builds it with the whole workspace's
/// features, as the tests' build does, so nothing they share is compiled twice.
fn build_app(release: bool, with_workspace: bool) -> Result<PathBuf> {
    ensure_libraries()?;
    ui::install()?;
    ui::build()?;
    let mut args = vec!["build", "--locked"];
    if with_workspace {
        args.extend(["--workspace", "--bins", "--features", "expenso-desktop/custom-protocol"]);
    } else {
        args.extend(["-p", "expenso-desktop", "--features", "custom-protocol"]);
    }
    if release {
        args.push("--release");
    }
    run("cargo", &args)?;
    let bin = target_dir().join(if release { "release" } else { "debug" }).join("expensotrack");
    std::fs::canonicalize(&bin).with_context(|| format!("{} was not built", bin.display()))
}

/// `cargo xtask run`: the desktop app on its ledger in the app's data folder (or
/// `EXPENSO_DATA_DIR`).
pub fn run_app(extra: &[String]) -> Result<()> {
    let release = extra.iter().any(|a| a == "--release");
    let bin = build_app(release, false)?;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!(
            "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset); the app is built at {}",
            bin.display()
        );
    }
    eprintln!("$ {}", bin.display());
    let status = Command::new(&bin).status().with_context(|| format!("cannot start {}", bin.display()))?;
    if !status.success() {
        bail!("the app ended with {status}");
    }
    Ok(())
}

/// `cargo xtask bundle`: .deb and .rpm packages of the app (with the Tauri CLI from the UI's
/// npm packages), and their sizes.
pub fn bundle() -> Result<()> {
    ensure_libraries()?;
    ui::install()?;
    ui::build()?;
    let cli = std::fs::canonicalize(ui::ui_dir().join("node_modules/.bin/tauri"))?;
    eprintln!("$ (cd desktop && tauri build --bundles deb,rpm)");
    let status = Command::new(&cli)
        .args(["build", "--bundles", "deb,rpm"])
        .current_dir("desktop")
        .status()
        .context("cannot start the Tauri CLI")?;
    if !status.success() {
        bail!("tauri build failed ({status})");
    }
    for dir in ["deb", "rpm"] {
        let path = target_dir().join("release/bundle").join(dir);
        for entry in std::fs::read_dir(&path).with_context(|| format!("no packages in {}", path.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".deb") || name.ends_with(".rpm") {
                println!("{}: {:.1} MB", entry.path().display(), entry.metadata()?.len() as f64 / 1e6);
            }
        }
    }
    let bin = target_dir().join("release/expensotrack");
    println!("{}: {:.1} MB", bin.display(), std::fs::metadata(&bin)?.len() as f64 / 1e6);
    Ok(())
}

/// The app's WebDriver tests: tauri-driver (installed with cargo into target/), WebKit's
/// WebDriver and Xvfb (Debian's), the real server and databases of the other tests.
pub fn e2e() -> Result<()> {
    // The desktop crate's integration tests made the app's binary (UI embedded: the tests
    // build with `custom-protocol`, after the UI's build); build it only if they did not run.
    let built = target_dir().join("debug/expensotrack");
    let bin = if built.exists() { std::fs::canonicalize(&built)? } else { build_app(false, true)? };
    ensure_packages(&[
        ("xvfb", "/usr/bin/xvfb-run"),
        ("xauth", "/usr/bin/xauth"),
        ("webkit2gtk-driver", "/usr/bin/WebKitWebDriver"),
    ])?;
    let root = target_dir().join("test-services");
    let driver = root.join("bin/tauri-driver");
    if !driver.exists() {
        run("cargo", &["install", "--locked", "--root", &root.to_string_lossy(), "tauri-driver@2.1.0"])?;
    }
    std::env::set_var("EXPENSO_APP_BIN", &bin);
    std::env::set_var("TAURI_DRIVER", std::fs::canonicalize(&driver)?);
    let server = target_dir().join("debug/expenso-server");
    std::env::set_var("EXPENSO_SERVER_BIN", std::fs::canonicalize(&server)?);
    eprintln!("$ (cd ui && xvfb-run -a node --test e2e/desktop.test.mjs)");
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1440x900x24", "node", "--test", "--test-concurrency=1", "e2e/desktop.test.mjs"])
        .current_dir(ui::ui_dir())
        .status()
        .context("cannot start xvfb-run")?;
    if !status.success() {
        bail!("the desktop app's tests failed ({status})");
    }
    Ok(())
}

/// `cargo xtask bench desktop`: cold start to the first data on screen with 100,000
/// transactions (`EXPENSO_DESKTOP_BENCH_COUNT`), the memory of the app's processes when idle,
/// and the binary's size. Under Xvfb; the ledger is made by the real command line.
pub fn bench(release: bool) -> Result<()> {
    let bin = build_app(release, !release)?;
    ensure_packages(&[("xvfb", "/usr/bin/xvfb-run"), ("xauth", "/usr/bin/xauth")])?;
    let profile = if release { "release" } else { "debug" };
    // The debug build above made every binary of the workspace; a release one only the app's.
    if release {
        run("cargo", &["build", "--locked", "--release", "-p", "expenso-cli"])?;
    }
    let cli = std::fs::canonicalize(target_dir().join(profile).join("expenso"))?;
    let count: usize =
        std::env::var("EXPENSO_DESKTOP_BENCH_COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("expenso-desktop-bench-{count}"));
    if !dir.join("ledger.db").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.to_string_lossy().into_owned();
        run(&cli.to_string_lossy(), &["--data-dir", &d, "init", "--currency", "EUR"])?;
        run(
            &cli.to_string_lossy(),
            &["--data-dir", &d, "sample-data", "--count", &count.to_string(), "--seed", "20261121", "--batch", "1000"],
        )?;
    }
    let mut starts = Vec::new();
    let mut memory = Vec::new();
    for _ in 0..5 {
        let (ms, rss) = launch_once(&bin, &dir)?;
        starts.push(ms);
        memory.push(rss);
    }
    starts.sort_unstable();
    memory.sort_unstable();
    println!(
        "desktop app ({profile} build), {count} transactions: cold start to first data on screen median {} ms (of {:?}); \
         idle memory of the app's processes (app + WebKit's) median {:.0} MB (of {:?} MB); binary {:.1} MB",
        starts[starts.len() / 2],
        starts,
        memory[memory.len() / 2] as f64 / 1024.0,
        memory.iter().map(|k| k / 1024).collect::<Vec<_>>(),
        std::fs::metadata(&bin)?.len() as f64 / 1e6,
    );
    Ok(())
}

/// Starts the app on `dir` under Xvfb, waits for its first-data timing line, lets it idle
/// for 5 s, and measures the resident memory of it and its children (kB).
fn launch_once(bin: &Path, dir: &Path) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1440x900x24"])
        .arg(bin)
        .env("EXPENSO_DATA_DIR", dir)
        .env("EXPENSO_TIMINGS", "1")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start xvfb-run")?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(ms) = line.strip_prefix("expenso-timing first-data-ms=") {
                let _ = tx.send(ms.trim().parse::<u64>().unwrap_or(0));
            }
        }
    });
    let result = (|| {
        let ms = rx.recv_timeout(std::time::Duration::from_secs(120)).context("the app showed no data within 120 s")?;
        std::thread::sleep(std::time::Duration::from_secs(5));
        Ok((ms, tree_rss(child.id())))
    })();
    kill_tree(child.id());
    let _ = child.wait();
    result
}

/// Resident memory (kB) of a process and all its descendants, from /proc.
fn tree_rss(root: u32) -> u64 {
    descendants(root).into_iter().chain([root]).filter(|pid| !is_xvfb(*pid)).map(rss_kb).sum()
}

fn is_xvfb(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim() == "Xvfb" || c.trim() == "xvfb-run")
        .unwrap_or(false)
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        // The parent is the fourth field of /proc/PID/stat, after the parenthesized name.
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(ppid) =
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid) in &parents {
            if *ppid == p {
                out.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    out
}

fn kill_tree(root: u32) {
    for pid in descendants(root).into_iter().rev().chain([root]) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
}
