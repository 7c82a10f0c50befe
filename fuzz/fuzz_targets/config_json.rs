//! config.json comes from whoever wrote the bundle: parsing and checking it must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = libcontainer::spec::parse_json::<libcontainer::spec::Spec>(data, Path::new("config.json")) {
        let _ = libcontainer::__fuzz::validate_mounts(&spec);
        let _ = libcontainer::__fuzz::plan_namespaces(&spec);
        if let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            let _ = libcontainer::__fuzz::compile_seccomp(sc);
        }
    }
});
