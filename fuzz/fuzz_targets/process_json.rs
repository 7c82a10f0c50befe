//! `exec --process FILE`: an OCI process from the caller. Parsing must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::Process;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = libcontainer::spec::parse_json::<Process>(data, Path::new("process.json"));
});
