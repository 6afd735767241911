//! Tauri's build step: embeds the app's configuration, capabilities and icons.
fn main() {
    tauri_build::build()
}
