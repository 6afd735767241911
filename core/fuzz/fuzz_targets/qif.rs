//! Fuzzes QIF import with each date order.
#![no_main]

use expenso_core::import::{parse_qif, DateOrder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for order in [DateOrder::Auto, DateOrder::Dmy, DateOrder::Mdy, DateOrder::Ymd] {
        let _ = parse_qif("fuzz.qif", data, order);
    }
});
