//! Issue 13, the smaller commands and the output scripts read (items 12 and 13), checked
//! against runc 1.1 as well (BERTH_BIN=/usr/sbin/runc); see runc_compat.rs for the hangs.

use integration_tests::compat::{container_pids, sleeping, RUNTIME_FAILURE};
use integration_tests::{assert_contains, host, is_runc, skip_for_runc, TestEnv};
use serde_json::json;
use std::path::{Path, PathBuf};

// ---- item 12: the smaller commands ------------------------------------------------------------

/// Signal 0 checks the init can be signalled; `kill --all` on a stopped container is accepted;
/// plain kill of a stopped one is not.
#[test]
fn kill_signal_0_and_kill_all_of_a_stopped_container() {
    let env = TestEnv::new("kill_zero");
    let (id, _) = sleeping(&env);
    env.rt.run_cmd(&["kill", &id, "0"]).assert_ok("kill 0");
    env.wait_status(&id, "running");
    env.rt
        .run_cmd(&["kill", &id, "KILL"])
        .assert_ok("kill KILL");
    env.wait_status(&id, "stopped");
    env.rt
        .run_cmd(&["kill", "--all", &id, "KILL"])
        .assert_ok("kill --all of a stopped container");
    let out = env.rt.run_cmd(&["kill", &id, "0"]);
    out.assert_fails_naming(&["not running"]);
    let out = env.rt.run_cmd(&["kill", &id, "KILL"]);
    out.assert_fails_naming(&["not running"]);
}

/// `ps` of a stopped container: the header (or an empty JSON list; runc prints `null`), exit 0.
#[test]
fn ps_of_a_stopped_container_prints_the_header() {
    let env = TestEnv::new("ps_stopped");
    let (id, _) = sleeping(&env);
    env.rt.run_cmd(&["kill", &id, "KILL"]).assert_ok("kill");
    env.wait_status(&id, "stopped");
    let out = env.rt.run_cmd(&["ps", &id]);
    out.assert_ok("ps of a stopped container");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:#?}");
    assert!(lines[0].split_whitespace().any(|c| c == "PID"), "{out:#?}");
    let out = env.rt.run_cmd(&["ps", "--format", "json", &id]);
    out.assert_ok("ps --format json of a stopped container");
    assert!(
        ["[]", "null"].contains(&out.stdout.trim()),
        "{:?}",
        out.stdout
    );
}

/// A process.json without `user` runs as 0:0 (Go's zero value, which runc takes).
#[test]
fn exec_process_json_without_user_runs_as_root() {
    let env = TestEnv::new("exec_process_no_user");
    let (id, _) = sleeping(&env);
    let file = env.dir.join("process.json");
    std::fs::write(
        &file,
        json!({"args": ["/bin/sh", "-c", "id -u; id -g"], "cwd": "/"}).to_string(),
    )
    .unwrap();
    let out = env
        .rt
        .run_cmd(&["exec", "--process", file.to_str().unwrap(), &id]);
    out.assert_ok("exec -p without user");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["0", "0"]);
}

/// `checkpoint` and `restore` exist with runc's flags and refuse clearly, changing nothing.
#[test]
fn checkpoint_and_restore_are_refused_clearly() {
    if skip_for_runc("runc checkpoints with CRIU; berth has no CRIU support") {
        return;
    }
    let env = TestEnv::new("checkpoint");
    let (id, b) = sleeping(&env);
    let images = env.dir.join("images");
    let images = images.to_str().unwrap();
    let out = env.rt.run_cmd(&[
        "checkpoint",
        "--image-path",
        images,
        "--leave-running",
        "--tcp-established",
        &id,
    ]);
    out.assert_fails_naming(&["checkpoint is not supported"]);
    env.wait_status(&id, "running");
    assert!(!Path::new(images).exists(), "checkpoint made {images}");
    let restored = env.id();
    let out = env.rt.run_cmd(&[
        "restore",
        "--image-path",
        images,
        "--bundle",
        b.path_str(),
        "--detach",
        &restored,
    ]);
    out.assert_fails_naming(&["restore is not supported"]);
    assert!(env.rt.state(&restored).is_none());
}

/// The startContainer hook runs as runc runs it: right before the program, under the same
/// user, capabilities, noNewPrivileges and seccomp filter.
#[test]
fn start_container_hook_runs_under_the_process_restrictions() {
    let env = TestEnv::new("start_hook_restrictions");
    const STATUS: &str =
        "grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' \
                          /proc/self/status";
    let mut b = env.bundle(&["sh", "-c", &format!("{STATUS}; echo ---; cat /tmp/hook")]);
    b.add_mount(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=1777"]}),
    );
    // runc 1.1 gives a tmpfs the mode of the directory it covers, whatever mode= says.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(b.rootfs().join("tmp"), PermissionsExt::from_mode(0o1777)).unwrap();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", format!("{STATUS} > /tmp/hook")]}
    ]});
    let out = env.run(&b);
    out.assert_ok("run");
    let (program, hook) = out.stdout.split_once("---\n").expect("both outputs");
    assert_contains(program, "Uid:\t1000");
    assert_contains(program, "NoNewPrivs:\t1");
    assert_contains(program, "Seccomp:\t2");
    assert_eq!(hook, program, "the hook ran under other restrictions");
}

/// runtime-spec requires `process` only at start: berth creates the container and `start`
/// fails naming the field. runc 1.1 refuses at create ("process property must not be
/// empty"); docs/compatibility.md records the difference.
#[test]
fn create_without_process_is_accepted_and_start_fails_clearly() {
    let env = TestEnv::new("create_no_process");
    let mut b = env.bundle(&["true"]);
    b.config.as_object_mut().unwrap().remove("process");
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
    if is_runc() {
        out.assert_fails_naming(&["process property must not be empty"]);
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
        return;
    }
    out.assert_ok("create without process");
    env.wait_status(&id, "created");
    let out = env.rt.run_cmd(&["start", &id]);
    out.assert_fails_naming(&["process: the config has none"]);
    env.wait_status(&id, "stopped");
    env.rt.run_cmd(&["delete", &id]).assert_ok("delete");
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// Sub-cgroups made for `exec --cgroup`, removed before the container is deleted (a runtime
/// only removes the cgroup it made, which must be empty by then).
struct SubCgroups(Vec<PathBuf>);

impl Drop for SubCgroups {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The cgroup of each hierarchy line of /proc/self/cgroup printed by a process.
fn cgroup_lines(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            Some((ctrls.to_owned(), path.to_owned()))
        })
        .collect()
}

/// runc 1.1's `exec --cgroup`: PATH for every hierarchy, CONTROLLER:PATH for some (v1); the
/// sub-cgroup must exist and be under the container's.
#[test]
fn exec_cgroup_joins_an_existing_sub_cgroup() {
    let env = TestEnv::new("exec_sub_cgroup");
    let (id, _) = sleeping(&env);
    let init = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    let subs = SubCgroups(
        integration_tests::cgroup::dirs(init)
            .into_iter()
            .map(|(_, d)| d.join("sub"))
            .collect(),
    );
    for d in &subs.0 {
        std::fs::create_dir(d).expect("making a sub-cgroup");
        // A v1 cpuset cgroup takes no task until it has cpus and mems.
        for f in ["cpuset.cpus", "cpuset.mems"] {
            match std::fs::read_to_string(d.parent().unwrap().join(f)) {
                Ok(v) if !v.trim().is_empty() => {
                    std::fs::write(d.join(f), v.trim()).expect("filling the cpuset")
                }
                _ => {}
            }
        }
    }
    let out = env
        .rt
        .run_cmd(&["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"]);
    out.assert_ok("exec --cgroup sub");
    for (ctrls, path) in cgroup_lines(&out.stdout) {
        assert!(path.ends_with("/sub"), "{ctrls}: {path}\n{}", out.stdout);
    }
    if !integration_tests::cgroup::is_pure_v2() {
        let out = env.rt.run_cmd(&[
            "exec",
            "--cgroup",
            "pids:/sub",
            &id,
            "cat",
            "/proc/self/cgroup",
        ]);
        out.assert_ok("exec --cgroup pids:/sub");
        for (ctrls, path) in cgroup_lines(&out.stdout) {
            let want_sub = ctrls.split(',').any(|c| c == "pids");
            assert_eq!(path.ends_with("/sub"), want_sub, "{ctrls}: {path}");
        }
    }
    for bad in ["nosuch", "../..", "sub/../../.."] {
        let out = env.rt.run_cmd(&["exec", "--cgroup", bad, &id, "true"]);
        assert_eq!(out.code(), Some(RUNTIME_FAILURE), "{out:#?}");
    }
    assert_eq!(container_pids(&env, &id), [init]);
    drop(subs);
}

// ---- item 13: output scripts read -------------------------------------------------------------

/// Asserts the keys appear in `text` in this order (scripts and diffs read runc's order).
#[track_caller]
fn assert_key_order(text: &str, keys: &[&str]) {
    let at: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} missing from {text}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{keys:?} out of order in {text}"
    );
}

const STATE_ORDER: &[&str] = &[
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
];

#[test]
fn state_list_and_events_print_keys_in_runcs_order() {
    let env = TestEnv::new("key_order");
    let (id, _) = sleeping(&env);
    let out = env.rt.run_cmd(&["state", &id]);
    out.assert_ok("state");
    assert_key_order(&out.stdout, STATE_ORDER);
    let out = env.rt.run_cmd(&["list", "--format", "json"]);
    out.assert_ok("list --format json");
    assert_key_order(&out.stdout, STATE_ORDER);
    let out = env.rt.run_cmd(&["events", "--stats", &id]);
    out.assert_ok("events --stats");
    assert!(
        out.stdout
            .starts_with(&format!("{{\"type\":\"stats\",\"id\":\"{id}\",\"data\":")),
        "{}",
        out.stdout
    );
}

#[test]
fn version_prints_version_commit_and_spec() {
    let env = TestEnv::new("version");
    let out = env.rt.run_cmd(&["--version"]);
    out.assert_ok("--version");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 3, "{out:#?}");
    assert!(lines[0].contains(" version "), "{out:#?}");
    assert!(lines[1].starts_with("commit: "), "{out:#?}");
    assert!(lines[2].starts_with("spec: 1."), "{out:#?}");
}

/// Tools grep runc's help for `NAME:` and `USAGE:`; `help` of an unknown command says so.
#[test]
fn help_has_runcs_sections_and_unknown_commands_say_so() {
    let env = TestEnv::new("help");
    for args in [
        &["--help"][..],
        &["help"],
        &["help", "exec"],
        &["exec", "--help"],
    ] {
        let out = env.rt.run_cmd(args);
        out.assert_ok(&format!("{args:?}"));
        assert_contains(&out.stdout, "NAME:");
        assert_contains(&out.stdout, "USAGE:");
    }
    let out = env.rt.run_cmd(&["help", "exec"]);
    assert_contains(&out.stdout, "exec - ");
    for args in [&["help", "no-such-command"][..], &["no-such-command"]] {
        let out = env.rt.run_cmd(args);
        assert_eq!(out.code(), Some(3), "{out:#?}");
        assert_contains(&out.stderr, "No help topic for 'no-such-command'");
    }
}
