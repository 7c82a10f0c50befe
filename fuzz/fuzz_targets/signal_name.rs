//! `berth kill ID SIGNAL` takes any string from the command line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = libcontainer::parse_signal(s);
    }
});
