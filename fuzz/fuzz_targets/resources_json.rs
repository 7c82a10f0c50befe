//! `update --resources FILE`: LinuxResources JSON from the caller, parsed and checked before
//! anything is written to a cgroup. Neither step may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use oci_spec::runtime::LinuxResources;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let parsed = libcontainer::spec::parse_json::<LinuxResources>(data, Path::new("resources"));
    if let Ok(resources) = parsed {
        let _ = libcontainer::__fuzz::validate_resources(Some(&resources));
    }
});
