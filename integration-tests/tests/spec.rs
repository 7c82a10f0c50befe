//! `spec` writes runc's default config.json (checked against `runc spec` 1.1.5's output, kept
//! in fixtures/), and never overwrites one.

use integration_tests::TestEnv;
use serde_json::Value;
use std::path::Path;

/// Differences that carry no meaning: the runtime's own hostname, and capability order (a set).
fn normalize(mut v: Value) -> Value {
    v["hostname"] = Value::Null;
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        for set in caps.values_mut() {
            if let Some(list) = set.as_array_mut() {
                list.sort_by_key(|c| c.to_string());
            }
        }
    }
    v
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn spec_in(env: &TestEnv, sub: &str, extra: &[&str]) -> Value {
    let dir = env.dir.join(sub);
    std::fs::create_dir(&dir).unwrap();
    let mut args = vec!["spec", "--bundle", dir.to_str().unwrap()];
    args.extend(extra);
    env.rt.run_cmd(&args).assert_ok("spec");
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

#[test]
fn spec_writes_runcs_default() {
    let env = TestEnv::new("spec_writes_runcs_default");
    let written = spec_in(&env, "default", &[]);
    assert_eq!(
        normalize(written),
        normalize(fixture("runc-1.1.5-spec.json"))
    );
}

#[test]
fn spec_rootless_writes_runcs_rootless_default() {
    // The fixture maps root to uid/gid 0: the suite runs as root.
    assert!(nix::unistd::geteuid().is_root(), "the suite runs as root");
    let env = TestEnv::new("spec_rootless");
    let written = spec_in(&env, "rootless", &["--rootless"]);
    assert_eq!(
        normalize(written),
        normalize(fixture("runc-1.1.5-spec-rootless.json"))
    );
}

#[test]
fn spec_does_not_overwrite_a_config() {
    let env = TestEnv::new("spec_does_not_overwrite");
    let dir = env.dir.join("b");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "mine").unwrap();
    let out = env.rt.run_cmd(&["spec", "-b", dir.to_str().unwrap()]);
    out.assert_fails_naming(&["config.json"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("config.json")).unwrap(),
        "mine"
    );
}
