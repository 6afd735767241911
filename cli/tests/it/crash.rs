//! A writing process killed with SIGKILL mid-burst loses nothing it stored, doubles nothing,
//! and leaves a ledger whose view equals its document.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use expenso_core::Store;

fn expenso(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_expenso"));
    c.arg("--data-dir").arg(dir);
    c
}

#[test]
fn killing_a_writer_mid_burst_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(expenso(d).arg("init").status().unwrap().success());
    let mut acknowledged: Vec<String> = Vec::new();
    // Several rounds, killed after different amounts of work.
    for (round, after) in [40u64, 90, 160, 250].into_iter().enumerate() {
        let mut child = expenso(d)
            .args(["sample-data", "--count", "100000", "--print-ids", "--seed"])
            .arg((round + 1).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader =
            std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(after));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let ids = reader.join().unwrap();
        acknowledged.extend(ids);

        let store = Store::open(&d.join("ledger.db")).unwrap();
        assert_eq!(store.verify().unwrap(), Ok(()), "round {round}: view equals document");
        for id in &acknowledged {
            let id = uuid::Uuid::parse_str(id).unwrap();
            assert!(store.transaction(id).unwrap().is_some(), "round {round}: {id} was acknowledged and is missing");
        }
        // At most the one change that was committed but not yet reported may be extra.
        let count = store.transaction_count().unwrap() as usize;
        assert!(
            count >= acknowledged.len() && count <= acknowledged.len() + round + 1,
            "round {round}: {count} stored, {} acknowledged",
            acknowledged.len()
        );
    }
    assert!(acknowledged.len() > 20, "the bursts wrote something: {}", acknowledged.len());
    let out = expenso(d).arg("check").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
