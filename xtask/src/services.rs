//! The real databases the tests use, installed and started when a machine lacks them:
//! PostgreSQL (Debian's package, its default cluster) and SecantusDB, a MongoDB-wire server
//! from PyPI, in a virtualenv under `target/` started on a free port for this run.
//! Where `DATABASE_URL` or `MONGODB_URI` is set already, that is used instead.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{has, run};

/// Stops the MongoDB-wire server it holds when dropped.
pub struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Makes `DATABASE_URL` and `MONGODB_URI` point at running servers for the test processes.
pub fn ensure_test_databases() -> Result<Running> {
    if std::env::var_os("DATABASE_URL").is_none() {
        ensure_postgres()?;
        std::env::set_var("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    }
    if std::env::var_os("MONGODB_URI").is_some() {
        return Ok(Running(None));
    }
    let child = start_secantus()?;
    Ok(Running(Some(child)))
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

fn ensure_postgres() -> Result<()> {
    if listening(5432) {
        return Ok(());
    }
    if !Path::new("/etc/postgresql").exists() {
        apt_install(&["postgresql"])?;
    }
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .context("listing PostgreSQL clusters")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    let version = versions.iter().max().context("PostgreSQL is installed but has no cluster")?;
    run("pg_ctlcluster", &["--skip-systemctl-redirect", version, "main", "start"])?;
    wait_for(5432, Duration::from_secs(30)).context("PostgreSQL did not start")?;
    // Local trust authentication for the tests, as on the development machines.
    let hba = format!("/etc/postgresql/{version}/main/pg_hba.conf");
    if let Ok(text) = std::fs::read_to_string(&hba) {
        if !text.contains("expenso-tests") {
            let line = "host all all 127.0.0.1/32 trust # expenso-tests\n";
            std::fs::write(&hba, format!("{line}{text}"))?;
            run("pg_ctlcluster", &["--skip-systemctl-redirect", version, "main", "reload"])?;
        }
    }
    Ok(())
}

fn start_secantus() -> Result<Child> {
    let venv = target_dir().join("test-services/secantus");
    let server = venv.join("bin/secantusd-py");
    if !server.exists() {
        if !has("python3", &["-m", "venv", "--help"]) || !has("python3", &["-m", "ensurepip", "--version"]) {
            apt_install(&["python3-venv"])?;
        }
        run("python3", &["-m", "venv", &venv.to_string_lossy()])?;
        let pip = venv.join("bin/pip");
        run(&pip.to_string_lossy(), &["install", "--quiet", "--pre", "SecantusDB"])
            .context("installing SecantusDB from PyPI")?;
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(target_dir().join("test-services/secantus.log"))?;
    eprintln!("$ {} --port {port} --storage-path :memory:", server.display());
    let mut child = Command::new(&server)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
        ])
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("starting SecantusDB")?;
    if let Err(e) = wait_for(port, Duration::from_secs(60)) {
        let _ = child.kill();
        return Err(e.context(format!(
            "SecantusDB did not start; see {}",
            target_dir().join("test-services/secantus.log").display()
        )));
    }
    std::env::set_var("MONGODB_URI", format!("mongodb://127.0.0.1:{port}/?directConnection=true"));
    Ok(child)
}

fn wait_for(port: u16, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if listening(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("nothing listens on port {port} after {}s", limit.as_secs())
}

/// Installs the Debian packages (`(package, a file it installs)`) whose file is missing.
pub fn ensure_packages(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted.iter().filter(|(_, file)| !Path::new(file).exists()).map(|(p, _)| *p).collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// Installs Debian packages when run as root; otherwise says exactly what to run.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if !root {
        bail!("missing system packages; install them with: sudo apt-get install -y {}", packages.join(" "));
    }
    run("apt-get", &["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(packages);
    run("apt-get", &args)
}

/// Where cargo builds (`CARGO_TARGET_DIR` or `target/`): the test services live there too.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"))
}
