//! `exec`: a second process in a running container joins its namespaces and takes the
//! process it is given.

use super::{strs, Case};
use crate::bundle::{verdict, Bundle, Suite, CHECKER};
use crate::outcome::{CaseResult, Outcome};
use crate::runtime::Invocation;
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case::new("exec_joins_namespaces", joins_namespaces),
    Case::new("exec_process_json", process_json),
    Case::new("exec_stopped_container", stopped_container),
];

/// Creates and starts a container that waits for signals.
fn running<'s>(s: &'s Suite, name: &str) -> Result<Bundle<'s>, Outcome> {
    let mut b = Bundle::new(s, name)?;
    b.config["process"]["args"] = strs(&[CHECKER, "--pause"]);
    let out = b.create()?.check()?;
    b.start()?.check()?;
    let start = Instant::now();
    while !std::fs::read_to_string(&out.out_path)
        .unwrap_or_default()
        .contains("ready")
    {
        if start.elapsed() > Duration::from_secs(10) {
            crate::fail!("container did not start its process");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(b)
}

/// Rewrites the copy of the config the checker reads, for what exec should produce.
fn rewrite_seen_config(b: &Bundle, config: &Value, expect: &Value) -> CaseResult {
    let dir = b.rootfs().join("conformance");
    std::fs::write(dir.join("config.json"), serde_json::to_string(config)?)?;
    std::fs::write(dir.join("expect.json"), serde_json::to_string(expect)?)?;
    Ok(())
}

fn joins_namespaces(s: &Suite) -> CaseResult {
    let b = running(s, "execns")?;
    let pid = b.state()?["pid"].as_u64().unwrap_or(0);
    let mut config = b.config.clone();
    let mut expect = b.expect.clone();
    let mut joined = serde_json::Map::new();
    for ns in config["linux"]["namespaces"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let file = crate::names::ns_file(ns["type"].as_str().unwrap_or("")).unwrap_or("");
        let path = format!("/proc/{pid}/ns/{file}");
        joined.insert(file.to_owned(), json!(std::fs::metadata(&path)?.ino()));
        ns["path"] = json!(path);
    }
    expect["joined"] = Value::Object(joined);
    rewrite_seen_config(&b, &config, &expect)?;
    let out = b.rt(&["exec", &b.id, CHECKER, "namespaces", "hostname"])?;
    verdict(&["namespaces", "hostname"], &out)
}

fn process_json(s: &Suite) -> CaseResult {
    let b = running(s, "execprocess")?;
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [7]},
        "args": [CHECKER, "args", "env", "cwd", "user", "caps", "nnp"],
        "env": ["PATH=/bin", "EXEC_VAR=exec value"],
        "cwd": "/tmp",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        "noNewPrivileges": true
    });
    let path = b.share().join("process.json");
    std::fs::write(&path, serde_json::to_string(&process)?)?;
    let mut config = b.config.clone();
    config["process"] = process;
    rewrite_seen_config(&b, &config, &b.expect)?;
    let out: Invocation = b.rt(&["exec", "--process", &path.to_string_lossy(), &b.id])?;
    verdict(&["args", "env", "cwd", "user", "caps", "nnp"], &out)
}

fn stopped_container(s: &Suite) -> CaseResult {
    let b = running(s, "execstopped")?;
    b.kill("KILL")?.check()?;
    b.wait_stopped()?;
    let out = b.rt(&["exec", &b.id, "/bin/true"])?;
    crate::ensure!(!out.ok(), "exec into a stopped container succeeded");
    Ok(())
}
