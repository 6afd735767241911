//! The desktop crate's integration tests (the app itself is driven end to end through
//! WebDriver by `ui/e2e/desktop.test.mjs`).

use std::path::Path;

/// The UI's device types are the Rust types' declarations, never written by hand.
#[test]
fn the_ui_device_types_are_generated_from_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/api/device.ts");
    let fresh = expenso_desktop::typescript();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &fresh).expect("writing ui/src/api/device.ts");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ui/src/api/device.ts is stale: run `UPDATE_EXPECT=1 cargo nextest run -p expenso-desktop` and commit it"
    );
}
