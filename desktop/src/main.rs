//! The desktop binary: the same `run()` the mobile builds start.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    expenso_desktop::run()
}
