//! Fuzzes CSV import the way the apps use it: sniff the file, then parse it with the guessed
//! mapping, and with a fixed mapping too, so files the sniffer gives up on are still parsed.
#![no_main]

use expenso_core::import::{parse_csv, sniff_csv, CsvMapping, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sniff) = sniff_csv(data, Encoding::Auto, 0) {
        if let Some(mapping) = sniff.mapping {
            let _ = parse_csv("fuzz.csv", data, &mapping);
        }
    }
    let _ = parse_csv("fuzz.csv", data, &CsvMapping::default());
});
