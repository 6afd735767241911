//! Fuzzes OFX/QFX import (SGML and XML) and format detection.
#![no_main]

use expenso_core::import::{detect_format, parse_ofx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detect_format("fuzz.ofx", data);
    let _ = parse_ofx("fuzz.ofx", data);
});
