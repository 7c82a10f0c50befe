//! A packet on the create channel comes from a process that runs inside the container's
//! namespaces: decoding must never panic, and what decodes must re-encode identically.
#![no_main]
// Msg is crate-internal: reached through the fuzz-only `__fuzz` re-exports.
use libcontainer::__fuzz::{Msg, Wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Msg::decode(data) {
        assert_eq!(Msg::decode(&msg.encode()).ok(), Some(msg));
    }
});
