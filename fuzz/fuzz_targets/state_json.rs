//! state.json is read back by every command; after a host crash or a bug it can hold
//! anything (empty, torn, garbage, wrong types, another container's record). Loading, listing
//! and printing a container must never panic: it is a container or it is broken.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("berth-fuzz-state-{}", std::process::id()));
        std::fs::create_dir_all(root.join("f")).expect("fuzz state root");
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    std::fs::write(root.join("f/state.json"), data).expect("writing state.json");
    // Only reads: a fuzzed record must never be acted on (kill, delete) here.
    if let Ok(c) = libcontainer::Container::load(root, "f") {
        let _ = c.state_json_brief();
    }
    let _ = libcontainer::list(root);
});
