//! Issue 14 items 2-6: what an engine meets on a bad day. A corrupt or missing state.json
//! (item 2), a child that outlives an init sharing the host's pid namespace (3), arguments
//! that are not UTF-8 (4), a huge config (5), an OOM kill in a foreground `run` (6). Item 1
//! (berth killed part-way) is tests/fault_injection.rs.

use integration_tests::runtime::Out;
use integration_tests::{
    assert_contains, host, is_runc, poll, skip_for_runc, Bundle, TestEnv, STATE_TIMEOUT,
};
use serde_json::{json, Value};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

fn running(env: &TestEnv, b: &Bundle) -> String {
    let id = env.create(b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    id
}

fn gone(rootfs: &std::path::Path) -> bool {
    host::processes_mentioning(&rootfs.to_string_lossy()).is_empty()
}

/// The ways a state.json is found broken: after a host crash (empty, torn), by a bug or a
/// stray editor (garbage, wrong types, another container's record), or not at all.
fn corruptions(good: &str, other: &str) -> Vec<(&'static str, Option<Vec<u8>>)> {
    let mut wrong_pid: Value = serde_json::from_str(good).expect("state.json is JSON");
    wrong_pid["pid"] = json!("one");
    let mut wrong_cgroup: Value = serde_json::from_str(good).unwrap();
    wrong_cgroup["cgroup"] = json!("/sys/fs/cgroup");
    vec![
        ("empty", Some(Vec::new())),
        ("torn", Some(good.as_bytes()[..good.len() / 2].to_vec())),
        ("garbage", Some(b"\xff\x00not json".to_vec())),
        ("null", Some(b"null".to_vec())),
        ("array", Some(b"[]".to_vec())),
        ("wrong pid type", Some(wrong_pid.to_string().into_bytes())),
        (
            "wrong cgroup type",
            Some(wrong_cgroup.to_string().into_bytes()),
        ),
        ("another container's", Some(other.as_bytes().to_vec())),
        ("missing", None),
    ]
}

fn corrupt(env: &TestEnv, id: &str, how: &Option<Vec<u8>>) {
    let file = env.rt.root.join(id).join("state.json");
    match how {
        Some(bytes) => std::fs::write(&file, bytes).expect("corrupting state.json"),
        None => std::fs::remove_file(&file).expect("removing state.json"),
    }
}

/// runc's state.json is its own format: only its presence is varied for runc.
fn state_file(env: &TestEnv, id: &str) -> String {
    std::fs::read_to_string(env.rt.root.join(id).join("state.json")).expect("state.json")
}

/// `list` keeps showing the healthy containers whatever is wrong with another's state.
#[test]
fn list_shows_the_others_when_one_state_is_broken() {
    let env = TestEnv::new("list_with_broken_state");
    let healthy_bundle = env.bundle(&["sleep", "1000"]);
    let healthy = running(&env, &healthy_bundle);
    let other = state_file(&env, &healthy);
    let b = env.bundle(&["sleep", "1000"]);
    for (name, _) in corruptions(&other, &other) {
        if is_runc() && name == "null" {
            eprintln!("skipped for runc: runc 1.1's list panics on a state.json of null");
            continue;
        }
        let id = running(&env, &b);
        let good = state_file(&env, &id);
        let (_, how) = corruptions(&good, &other)
            .into_iter()
            .find(|(n, _)| *n == name)
            .expect("the same variant");
        corrupt(&env, &id, &how);
        let list = env.rt.run_cmd(&["list"]);
        list.assert_ok(&format!("list with a {name} state.json"));
        let row = |i: &str| {
            list.stdout
                .lines()
                .find(|l| l.starts_with(i))
                .map(str::to_owned)
        };
        let healthy_row = row(&healthy).unwrap_or_default();
        assert!(healthy_row.contains("running"), "{name}: {list:#?}");
        let json = env.rt.run_cmd(&["list", "-f", "json"]);
        json.assert_ok("list -f json");
        let docs: Value = serde_json::from_str(&json.stdout).expect("list -f json is JSON");
        let ids: Vec<&str> = docs
            .as_array()
            .expect("an array")
            .iter()
            .filter_map(|d| d["id"].as_str())
            .collect();
        assert!(ids.contains(&healthy.as_str()), "{name}: {json:#?}");
        if is_runc() {
            // runc cannot remove what it cannot load (the next test is berth's): repaired.
            std::fs::write(env.rt.root.join(&id).join("state.json"), &good).unwrap();
        } else {
            // berth also reports the broken one, as a row of its own.
            assert!(
                row(&id).is_some_and(|r| r.contains("broken")),
                "{name}: {list:#?}"
            );
            assert_contains(&list.stderr, &id);
        }
        env.rt
            .run_cmd(&["delete", "--force", &id])
            .assert_ok("delete --force");
        poll(STATE_TIMEOUT, "the container's processes to go", || {
            gone(&b.rootfs()).then_some(())
        });
    }
}

/// A broken container is still one: `state` says it is broken (never that it does not exist
/// while `create` says it does), `kill` reaches its processes through its cgroup, and
/// `delete --force` removes everything, finding the cgroup by the stored config or the
/// default path.
#[test]
fn delete_force_cleans_up_a_container_with_a_broken_state() {
    if skip_for_runc("runc refuses to load a corrupt state and leaves its processes") {
        return;
    }
    let env = TestEnv::new("broken_state_cleanup");
    let other_bundle = env.bundle(&["sleep", "1000"]);
    let other_id = running(&env, &other_bundle);
    let other = state_file(&env, &other_id);
    for (i, (name, _)) in corruptions(&other, &other).into_iter().enumerate() {
        let mut b = env.bundle(&["sleep", "1000"]);
        // Every other one in a cgroup named by the config rather than the default path.
        let custom = i % 2 == 1;
        let id = env.id();
        if custom {
            b.linux()["cgroupsPath"] = json!(format!("/{id}-custom"));
        }
        b.save();
        env.rt
            .run_cmd(&["run", "-d", "-b", b.path_str(), &id])
            .assert_ok("run -d");
        let good = state_file(&env, &id);
        let (_, how) = corruptions(&good, &other)
            .into_iter()
            .find(|(n, _)| *n == name)
            .expect("the same variant");
        corrupt(&env, &id, &how);

        let state = env.rt.run_cmd(&["state", &id]);
        state.assert_fails_naming(&["broken"]);
        assert!(
            !state.stderr.contains("does not exist"),
            "{name}: {state:#?}"
        );
        let again = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
        again.assert_fails_naming(&["exists"]);
        if name == "garbage" {
            env.rt
                .run_cmd(&["kill", &id, "KILL"])
                .assert_ok("kill of a broken container");
            poll(STATE_TIMEOUT, "kill to reach the process", || {
                gone(&b.rootfs()).then_some(())
            });
        }
        env.rt
            .run_cmd(&["delete", "--force", &id])
            .assert_ok(&format!("delete --force with a {name} state.json"));
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
    // The other container's record was copied, never acted on.
    assert_eq!(env.rt.state(&other_id).expect("state")["status"], "running");
}

/// runc kills every process of the container's cgroup when the init shared the host's pid
/// namespace (the kernel does not: only a pid namespace's init takes the rest with it).
fn survivor_of_a_shared_pid_ns(force: bool) {
    let env = TestEnv::new(&format!("shared_pidns_survivor_{force}"));
    let mut b = env.bundle(&["sh", "-c", "sleep 1000 & exit 0"]);
    b.remove_namespace("pid");
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "stopped");
    assert!(!gone(&b.rootfs()), "the sleep should outlive the init");
    let args: &[&str] = if force {
        &["delete", "--force", &id]
    } else {
        &["delete", &id]
    };
    let started = std::time::Instant::now();
    env.rt.run_cmd(args).assert_ok("delete");
    assert!(gone(&b.rootfs()), "the init's child survived delete");
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    // Not a timing assertion: a delete that waited out a busy cgroup took its 5 s retries.
    eprintln!("delete took {:?}", started.elapsed());
}

#[test]
fn delete_force_kills_what_outlives_an_init_sharing_the_host_pid_ns() {
    survivor_of_a_shared_pid_ns(true);
}

#[test]
fn delete_kills_what_outlives_an_init_sharing_the_host_pid_ns() {
    survivor_of_a_shared_pid_ns(false);
}

/// Runs the runtime with byte arguments; asserts it neither panicked nor died of a signal
/// (a release build aborts on a panic: SIGABRT, and its state left behind).
fn run_bytes(env: &TestEnv, args: &[&OsStr]) -> Out {
    let mut cmd = env.rt.command();
    cmd.args(args).stdin(Stdio::null());
    let names: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // `wait` asserts no panic (message or SIGABRT), as for every command the suite runs.
    let out = env.rt.spawn_with(&mut cmd, &names).wait();
    assert_eq!(out.status.signal(), None, "died of a signal: {out:#?}");
    out
}

#[test]
fn arguments_that_are_not_utf8_are_refused_or_passed_through_never_a_panic() {
    let env = TestEnv::new("non_utf8_args");
    let b = env.bundle(&["sleep", "1000"]);
    let id = running(&env, &b);
    let bad = OsStr::from_bytes(b"caf\xe9");
    let s = OsStr::new;
    // Ids are text: refused, with an error.
    // berth says which argument is not text (runc only that the id is invalid).
    let says_utf8 = |out: &Out| {
        if !is_runc() {
            assert_contains(&out.stderr, "UTF-8");
        }
    };
    for cmd in [
        "state", "start", "pause", "resume", "ps", "events", "delete",
    ] {
        let out = run_bytes(&env, &[s(cmd), bad]);
        assert!(!out.success(), "{cmd} of a non-UTF-8 id: {out:#?}");
        says_utf8(&out);
    }
    let out = run_bytes(&env, &[s("create"), s("-b"), s(b.path_str()), bad]);
    assert!(!out.success(), "{out:#?}");
    assert!(!env.rt.root.join("caf\u{fffd}").exists());
    run_bytes(&env, &[s("kill"), bad, s("KILL")]);
    let out = run_bytes(&env, &[s("kill"), s(&id), bad]);
    assert!(!out.success(), "{out:#?}");
    says_utf8(&out);
    run_bytes(&env, &[s("exec"), s("-e"), s("A=\u{e9}"), bad, s("true")]);
    // A state root is a path: bytes are fine.
    let mut root = env.dir.as_os_str().to_owned();
    root.push(OsStr::from_bytes(b"/r\xe9"));
    let mut cmd = std::process::Command::new(&env.rt.bin);
    cmd.arg("--root")
        .arg(&root)
        .arg("list")
        .stdin(Stdio::null());
    let out = env.rt.spawn_with(&mut cmd, &["list"]).wait();
    out.assert_ok("list in a non-UTF-8 --root");
    // A bundle path is bytes; berth's state (JSON text) cannot record one that is not UTF-8,
    // so it refuses it before making anything.
    let moved = env.bundle(&["true"]);
    moved.save();
    let mut odd = env.dir.as_os_str().to_owned();
    odd.push(OsStr::from_bytes(b"/bundle\xe9"));
    std::fs::rename(&moved.dir, &odd).expect("renaming the bundle");
    let odd_id = env.id();
    let out = run_bytes(&env, &[s("run"), s("-b"), &odd, s(&odd_id)]);
    if !is_runc() {
        out.assert_fails_naming(&["UTF-8"]);
        host::assert_nothing_left(&env.rt.root, &odd_id, std::path::Path::new(&odd));
    }
    // An environment value must be text in the OCI process: refused (berth) or passed.
    let env_arg = OsStr::from_bytes(b"A=\xe9");
    run_bytes(&env, &[s("exec"), s("-e"), env_arg, s(&id), s("true")]);
    // Arguments of the container's process are bytes, passed on as they are.
    let mut exec: Vec<OsString> = [
        "exec",
        &id,
        "sh",
        "-c",
        "printf %s \"$1\" | od -An -tx1",
        "sh",
    ]
    .map(OsString::from)
    .to_vec();
    exec.push(bad.to_owned());
    let exec: Vec<&OsStr> = exec.iter().map(OsString::as_os_str).collect();
    let out = run_bytes(&env, &exec);
    out.assert_ok("exec with a non-UTF-8 argument");
    if skip_for_runc("runc's exec carries argv as JSON text: the byte becomes U+FFFD") {
        return;
    }
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["63", "61", "66", "e9"],
        "{out:#?}"
    );
}

/// state.json holds the record, not the config: its size does not follow the config's.
#[test]
fn state_json_stays_small_whatever_the_config_size() {
    let env = TestEnv::new("small_state");
    let mut b = env.bundle(&["sleep", "1000"]);
    let big = "x".repeat(4 << 20);
    b.config["annotations"] = json!({"org.example.big": big, "org.example.small": "s"});
    let id = env.create(&b);
    let state = env.rt.state(&id).expect("state");
    assert_eq!(state["annotations"]["org.example.small"], "s", "{state}");
    assert_eq!(
        state["annotations"]["org.example.big"]
            .as_str()
            .map(str::len),
        Some(big.len())
    );
    if skip_for_runc("runc stores the whole config in state.json") {
        return;
    }
    let size = std::fs::metadata(env.rt.root.join(&id).join("state.json"))
        .expect("state.json")
        .len();
    assert!(size < 16 << 10, "state.json is {size} bytes");
}

/// A foreground `run` whose process the OOM killer took: exit 137, as any SIGKILL, and a
/// line on stderr saying why.
#[test]
fn run_of_an_oom_killed_container_says_so() {
    let env = TestEnv::new("run_oom");
    let mut b = env.bundle(&["dd", "if=/dev/zero", "of=/dev/null", "bs=64M"]);
    const MIB: i64 = 1 << 20;
    b.linux()["resources"]["memory"] = json!({"limit": 16 * MIB, "swap": 16 * MIB});
    let out = env.run(&b);
    assert_eq!(out.code(), Some(137), "{out:#?}");
    if skip_for_runc("runc reports OOM kills only through `events`") {
        return;
    }
    assert_contains(&out.stderr, "OOM-killed");
    // A container that ends normally says nothing of the kind.
    let out = env.run(&env.bundle(&["true"]));
    out.assert_ok("run true");
    assert!(!out.stderr.contains("OOM"), "{out:#?}");
}

/// The no-panic check every command gets (`Running::wait`) sees an abort and a panic message.
#[test]
fn the_panic_check_sees_an_abort_and_a_message() {
    use integration_tests::runtime::assert_no_panic;
    let out = |raw: i32, stderr: &str| Out {
        args: Vec::new(),
        status: std::process::ExitStatus::from_raw(raw),
        stdout: String::new(),
        stderr: stderr.into(),
    };
    let caught = |o: Out| std::panic::catch_unwind(|| assert_no_panic(&o)).is_err();
    assert!(caught(out(libc::SIGABRT, "")));
    assert!(caught(out(
        101 << 8,
        "thread 'main' panicked at src/main.rs:1:1"
    )));
    assert!(!caught(out(1 << 8, "error: container x does not exist")));
}

/// The cgroup of a broken container is found by its stored config; one whose name does not
/// hold the id may be shared (`/system.slice`), so delete --force leaves it and its
/// processes, saying so, rather than killing whatever lives there.
#[test]
fn delete_force_of_a_broken_container_spares_a_cgroup_not_named_after_it() {
    if skip_for_runc("runc cannot delete a container with a corrupt state") {
        return;
    }
    let env = TestEnv::new("broken_shared_cgroup");
    let mut b = env.bundle(&["sleep", "1000"]);
    let shared = format!("{}{}-shared", integration_tests::ID_PREFIX, env.name);
    b.linux()["cgroupsPath"] = json!(format!("/{shared}"));
    let id = running(&env, &b);
    corrupt(&env, &id, &Some(b"garbage".to_vec()));
    let out = env.rt.run_cmd(&["delete", "--force", &id]);
    out.assert_ok("delete --force");
    assert_contains(&out.stderr, &shared);
    assert!(!env.rt.root.join(&id).exists());
    let dirs = host::cgroups_matching(&|n| n == shared);
    let alive = !gone(&b.rootfs());
    // Cleaned up by hand: berth rightly would not.
    for dir in &dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .lines()
            .filter_map(|l| l.parse::<i32>().ok())
            .filter(|&p| p > 0)
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    poll(STATE_TIMEOUT, "the spared process to die", || {
        gone(&b.rootfs()).then_some(())
    });
    for dir in &dirs {
        poll(STATE_TIMEOUT, "the spared cgroup to go", || {
            std::fs::remove_dir(dir).is_ok().then_some(())
        });
    }
    assert!(
        alive,
        "the process of a cgroup not named after the container was killed"
    );
    assert!(
        !dirs.is_empty(),
        "the cgroup not named after the container was removed"
    );
}
