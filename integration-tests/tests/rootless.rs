//! Rootless (issue 16): an ordinary user runs containers from the runtime's own
//! `spec --rootless` config, as runc allows; another user cannot see or touch them; what cannot
//! work without privileges fails naming the field and leaves nothing behind.
//!
//! Every test runs the runtime as `integration_tests::rootless::USER_NAME` (made on first use)
//! with a state root under its test dir, which the user owns. This host has cgroup v1 and no
//! systemd, so the user can create no cgroup: containers get none.

use integration_tests::rootless::{as_user, RootlessEnv};
use integration_tests::{assert_contains, host, is_runc, poll, skip_for_runc, STATE_TIMEOUT};
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;

/// Nothing of container `id` is left: no state dir, no mount or process mentioning the
/// test's dir (the user's own processes included).
#[track_caller]
fn assert_nothing_left(r: &RootlessEnv, id: &str, bundle: &integration_tests::Bundle) {
    host::assert_nothing_left(&r.runtime().root, id, &bundle.dir);
    let procs = host::processes_mentioning(&r.env.dir.to_string_lossy());
    assert!(procs.is_empty(), "processes left behind: {procs:#?}");
}

#[test]
fn spec_rootless_runs_as_is_as_root_of_a_one_id_map() {
    let r = RootlessEnv::new("rl_run");
    let b = r.bundle(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map /proc/self/gid_map; test -c /dev/null && echo null-is-chr; \
         echo x > /dev/null && echo null-writable",
    ]);
    let id = r.env.id();
    let out = r.on_bundle(&b, &["run", "--bundle", b.path_str(), &id]);
    out.assert_ok("run as the user");
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, gid) = (r.user.uid.to_string(), r.user.gid.to_string());
    assert_eq!(lines[0], ["0"], "{out:#?}");
    assert_eq!(lines[1], ["0", uid.as_str(), "1"], "{out:#?}");
    assert_eq!(lines[2], ["0", gid.as_str(), "1"], "{out:#?}");
    // The device was bind-mounted from the host (no mknod in a user namespace) and works.
    assert_eq!(lines[3..], [["null-is-chr"], ["null-writable"]], "{out:#?}");
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn detached_container_lifecycle_as_the_user() {
    let r = RootlessEnv::new("rl_detached");
    let b = r.bundle(&[
        "sh",
        "-c",
        "trap 'exit 3' TERM; while true; do sleep 0.1; done",
    ]);
    let id = r.env.id();
    r.on_bundle(&b, &["run", "-d", "--bundle", b.path_str(), &id])
        .assert_ok("run -d");
    let state = r.run_cmd(&["state", &id]);
    state.assert_ok("state");
    let state: serde_json::Value = serde_json::from_str(&state.stdout).expect("state JSON");
    assert_eq!(state["status"], "running");
    let pid = state["pid"].as_u64().expect("init pid");
    // The init is the user's process on the host.
    let owner = std::fs::metadata(format!("/proc/{pid}"))
        .expect("init's /proc")
        .uid();
    assert_eq!(owner, r.user.uid);

    let list = r.run_cmd(&["list", "--format", "json"]);
    list.assert_ok("list");
    assert_contains(&list.stdout, &format!("\"id\":\"{id}\""));

    let exec = r.run_cmd(&["exec", &id, "sh", "-c", "id -u; cat /proc/1/cmdline"]);
    exec.assert_ok("exec");
    assert!(exec.stdout.starts_with("0\nsh"), "{exec:#?}");
    let code = r.run_cmd(&["exec", &id, "sh", "-c", "exit 5"]);
    assert_eq!(code.code(), Some(5), "{code:#?}");

    // runc 1.1 cannot list a container without a cgroup ("unable to get all container pids").
    if !is_runc() {
        let ps = r.run_cmd(&["ps", "--format", "json", &id]);
        ps.assert_ok("ps");
        let pids: Vec<u64> = serde_json::from_str(&ps.stdout).expect("ps JSON");
        assert!(pids.contains(&pid), "{ps:#?}");
    }

    r.run_cmd(&["kill", &id, "TERM"]).assert_ok("kill");
    poll(STATE_TIMEOUT, "the container to stop", || {
        let s = r.run_cmd(&["state", &id]);
        s.stdout.contains("\"stopped\"").then_some(())
    });
    r.run_cmd(&["delete", &id]).assert_ok("delete");
    let list = r.run_cmd(&["list", "--quiet"]);
    list.assert_ok("list");
    assert!(!list.stdout.contains(&id), "{list:#?}");
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn another_user_can_neither_see_nor_touch_the_containers() {
    let r = RootlessEnv::new("rl_other_user");
    let b = r.bundle(&["sleep", "1000"]);
    let id = r.env.id();
    r.on_bundle(&b, &["run", "-d", "--bundle", b.path_str(), &id])
        .assert_ok("run -d");
    let root = &r.runtime().root;
    let mode = std::fs::metadata(root)
        .expect("state root")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "state root mode {mode:o}");
    // nobody (65534): another ordinary user.
    for args in [
        vec!["list"],
        vec!["state", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", "--force", &id],
    ] {
        let mut cmd = r.runtime().command();
        as_user(&mut cmd, 65534, 65534).args(&args);
        let out = r
            .runtime()
            .spawn_with(cmd.stdin(Stdio::null()), &args)
            .wait();
        assert!(!out.success(), "nobody ran {args:?}: {out:#?}");
        assert!(!out.stdout.contains(&id), "{out:#?}");
    }
    let state = r.run_cmd(&["state", &id]);
    assert_contains(&state.stdout, "\"running\"");
}

#[test]
fn ids_beyond_the_users_own_are_mapped_through_newuidmap() {
    let r = RootlessEnv::new("rl_newuidmap");
    let mut b = r.bundle(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]);
    let (start, count) = (r.user.sub_start, r.user.sub_count);
    for (field, own) in [("uidMappings", r.user.uid), ("gidMappings", r.user.gid)] {
        b.linux()[field] = json!([
            {"containerID": 0, "hostID": own, "size": 1},
            {"containerID": 1, "hostID": start, "size": count},
        ]);
    }
    let id = r.env.id();
    let out = r.on_bundle(&b, &["run", "--bundle", b.path_str(), &id]);
    out.assert_ok("run with a subuid range");
    let expect = |own: u32| format!("0 {own} 1\n1 {start} {count}\n");
    let got: String = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    assert_eq!(got, expect(r.user.uid) + &expect(r.user.gid));
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn a_map_the_user_is_not_granted_is_refused_leaving_nothing() {
    let r = RootlessEnv::new("rl_bad_map");
    let mut b = r.bundle(&["true"]);
    // Host ids just past the user's /etc/subuid range.
    let past = r.user.sub_start + r.user.sub_count;
    b.linux()["uidMappings"] = json!([
        {"containerID": 0, "hostID": r.user.uid, "size": 1},
        {"containerID": 1, "hostID": past, "size": 10},
    ]);
    let id = r.env.id();
    let out = r.on_bundle(&b, &["run", "--bundle", b.path_str(), &id]);
    // runc's message names newuidmap's failure, not the field.
    if is_runc() {
        out.assert_fails_naming(&["newuid"]);
    } else {
        out.assert_fails_naming(&["linux.uidMappings"]);
        assert_contains(&out.stderr, "not allowed");
    }
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn limits_without_cgroup_access_are_refused_naming_them() {
    let r = RootlessEnv::new("rl_limits");
    let mut b = r.bundle(&["true"]);
    b.linux()["resources"] = json!({"pids": {"limit": 10}});
    let id = r.env.id();
    let out = r.on_bundle(&b, &["run", "--bundle", b.path_str(), &id]);
    // runc: "cannot set pids limit: container could not join or create cgroup" (v1), "rootless
    // needs no limits + no cgrouppath when no permission is granted for cgroups" (v2).
    let fields: &[&str] = if is_runc() {
        &["pids limit", "rootless needs no limits"]
    } else {
        &["linux.resources.pids.limit"]
    };
    out.assert_fails_naming(fields);
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn an_unmapped_gid_mount_option_is_refused_naming_the_mount() {
    let r = RootlessEnv::new("rl_devpts_gid");
    let mut b = r.bundle(&["true"]);
    let mounts = b.config["mounts"].as_array_mut().expect("mounts");
    let devpts = mounts
        .iter_mut()
        .find(|m| m["destination"] == "/dev/pts")
        .expect("a /dev/pts mount");
    devpts["options"]
        .as_array_mut()
        .expect("devpts options")
        .push("gid=5".into());
    let id = r.env.id();
    let out = r.on_bundle(&b, &["run", "--bundle", b.path_str(), &id]);
    // runc: "cannot specify gid= mount options for unmapped gid in rootless containers".
    out.assert_fails_naming(&["gid="]);
    if !is_runc() {
        assert_contains(&out.stderr, "/dev/pts");
    }
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn cgroup_commands_say_why_they_cannot_work() {
    if skip_for_runc("runc 1.1 names no reason (\"cgroups not configured for container\")") {
        return;
    }
    let r = RootlessEnv::new("rl_no_cgroup");
    let b = r.bundle(&["sleep", "1000"]);
    let id = r.env.id();
    r.on_bundle(&b, &["run", "-d", "--bundle", b.path_str(), &id])
        .assert_ok("run -d");
    for args in [vec!["pause", &id], vec!["update", "--pids-limit", "5", &id]] {
        let out = r.run_cmd(&args);
        out.assert_fails_naming(&["has no cgroup"]);
        assert_contains(&out.stderr, "rootless");
    }
    let state = r.run_cmd(&["state", &id]);
    assert_contains(&state.stdout, "\"running\"");
}

/// Without a cgroup, `kill --all` finds the container's processes by its pid namespace: the
/// shell (pid 1, which ignores TERM) only exits once the signal reached its children.
#[test]
fn kill_all_reaches_every_process_without_a_cgroup() {
    if skip_for_runc("runc 1.1 lists a container's processes from its cgroup only") {
        return;
    }
    let r = RootlessEnv::new("rl_kill_all");
    let b = r.bundle(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let id = r.env.id();
    r.on_bundle(&b, &["run", "-d", "--bundle", b.path_str(), &id])
        .assert_ok("run -d");
    let ps = r.run_cmd(&["ps", "--format", "json", &id]);
    let pids: Vec<u64> = serde_json::from_str(&ps.stdout).expect("ps JSON");
    assert_eq!(pids.len(), 3, "{ps:#?}");
    r.run_cmd(&["kill", "--all", &id, "TERM"])
        .assert_ok("kill --all");
    poll(STATE_TIMEOUT, "the container to stop", || {
        let s = r.run_cmd(&["state", &id]);
        s.stdout.contains("\"stopped\"").then_some(())
    });
    r.run_cmd(&["delete", &id]).assert_ok("delete");
    assert_nothing_left(&r, &id, &b);
}

#[test]
fn the_default_state_root_is_xdg_runtime_dir() {
    let r = RootlessEnv::new("rl_xdg");
    let b = r.bundle(&["sleep", "1000"]);
    b.save();
    let xdg = r.env.dir.join("xdg");
    std::fs::create_dir(&xdg).expect("mkdir xdg");
    integration_tests::rootless::chown(&xdg, r.user.uid, r.user.gid);
    let name = r
        .runtime()
        .bin
        .file_name()
        .expect("runtime name")
        .to_owned();
    let root = xdg.join(&name);
    r.also_clean(root.clone());
    let id = r.env.id();
    let bin = r.runtime().bin.clone();
    let user_cmd = |args: &[&str], xdg_set: bool| {
        let mut cmd = std::process::Command::new(&bin);
        as_user(&mut cmd, r.user.uid, r.user.gid);
        if xdg_set {
            cmd.env("XDG_RUNTIME_DIR", &xdg);
        }
        cmd.args(args).stdin(Stdio::null());
        r.runtime().spawn_with(&mut cmd, args).wait()
    };
    let out = user_cmd(&["run", "-d", "--bundle", b.path_str(), &id], true);
    out.assert_ok("run -d without --root");
    assert!(root.join(&id).is_dir(), "no state in {}", root.display());
    let mode = std::fs::metadata(&root).expect("root").permissions().mode();
    assert_eq!(mode & 0o077, 0, "{} mode {mode:o}", root.display());

    // Without XDG_RUNTIME_DIR the user has no root of its own.
    let out = user_cmd(&["list"], false);
    if is_runc() {
        out.assert_fails_naming(&["/run/runc"]);
    } else {
        out.assert_fails_naming(&["XDG_RUNTIME_DIR"]);
    }
    if !is_runc() {
        // runc takes a relative XDG_RUNTIME_DIR relative to its cwd; the XDG spec makes it invalid.
        let mut cmd = std::process::Command::new(&bin);
        as_user(&mut cmd, r.user.uid, r.user.gid)
            .env("XDG_RUNTIME_DIR", "relative")
            .arg("list")
            .stdin(Stdio::null());
        let out = r.runtime().spawn_with(&mut cmd, &["list"]).wait();
        out.assert_fails_naming(&["is not an absolute path"]);
        assert_contains(&out.stderr, "XDG_RUNTIME_DIR");
    }
    user_cmd(&["delete", "--force", &id], true).assert_ok("delete --force");
    assert!(!root.join(&id).exists());
    if !is_runc() {
        // An XDG_RUNTIME_DIR others may write is not the user's own (runc uses it).
        std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o777)).unwrap();
        user_cmd(&["list"], true).assert_fails_naming(&["writable by group or others"]);
    }
}

#[test]
fn a_state_root_someone_else_controls_is_refused() {
    if skip_for_runc("runc 1.1 acts on a state root whoever owns it") {
        return;
    }
    let r = RootlessEnv::new("rl_foreign_root");
    let root = &r.runtime().root;
    std::fs::create_dir(root).expect("mkdir root");
    integration_tests::rootless::chown(root, r.user.uid, r.user.gid);
    // The user's own, but writable by everyone: anyone could plant a state.json.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = r.run_cmd(&["list"]);
    out.assert_fails_naming(&["writable by group or others"]);
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).unwrap();
    r.run_cmd(&["list"])
        .assert_ok("list of the user's own root");
    // Root acting on the user's root would act on state the user controls.
    let out = r.runtime().run_cmd(&["list"]);
    out.assert_fails_naming(&["owned by uid"]);
}

/// On a cgroup v2 host (the VM of scripts/v2-tests.sh) a subtree delegated to the user, as
/// systemd's `Delegate=yes` makes one (the directory and its cgroup.procs,
/// cgroup.subtree_control and cgroup.threads owned by the user), gives a rootless container a
/// cgroup there: its limits apply and `pause` works. The runtime runs in a leaf of the subtree
/// (moving a process needs write access to the common ancestor's cgroup.procs).
#[test]
fn a_delegated_cgroup_v2_subtree_gets_the_limits() {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if !v2 {
        eprintln!("skipped: not a pure cgroup v2 host (scripts/v2-tests.sh runs it in a VM)");
        return;
    }
    // Named as the suite names what it makes (the leak check looks for it); declared before
    // the env so that it is removed after the env's containers are deleted.
    let name = integration_tests::unique_name("rl-deleg");
    let deleg = std::path::Path::new("/sys/fs/cgroup")
        .join(format!("{}{name}", integration_tests::ID_PREFIX));
    let leaf = deleg.join("leaf");
    let _cleanup = RemoveCgroups(vec![leaf.clone(), deleg.clone()]);
    let r = RootlessEnv::new("rl_delegated");
    std::fs::create_dir(&deleg).expect("mkdir the delegated cgroup");
    std::fs::write(deleg.join("cgroup.subtree_control"), "+pids +memory").expect("controllers");
    std::fs::create_dir(&leaf).expect("mkdir leaf");
    let (uid, gid) = (r.user.uid, r.user.gid);
    for dir in [&deleg, &leaf] {
        for f in [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ] {
            integration_tests::rootless::chown(&dir.join(f), uid, gid);
        }
    }
    let mut b = r.bundle(&["sh", "-c", "cat /proc/self/cgroup; sleep 1000"]);
    let cgroup = format!("/{}/c", deleg.file_name().unwrap().to_string_lossy());
    b.linux()["cgroupsPath"] = cgroup.clone().into();
    b.linux()["resources"] = json!({"pids": {"limit": 10}});
    b.save();
    let id = r.env.id();
    // As root: into the leaf, then the user's runtime.
    let in_leaf = |args: &[&str]| {
        let mut cmd = std::process::Command::new("sh");
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .args(["-c", "echo $$ > \"$0\" && shift && exec \"$@\""])
            .arg(leaf.join("cgroup.procs"))
            .arg("-")
            .args([
                "setpriv",
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
            ])
            .args(["--clear-groups", "--"])
            .arg(&r.runtime().bin)
            .arg("--root")
            .arg(&r.runtime().root)
            .args(args)
            .stdin(Stdio::null());
        r.runtime().spawn_with(&mut cmd, args).wait()
    };
    in_leaf(&["run", "-d", "--bundle", b.path_str(), &id]).assert_ok("run -d");
    let dir = std::path::Path::new("/sys/fs/cgroup").join(&cgroup[1..]);
    let pids_max = std::fs::read_to_string(dir.join("pids.max")).expect("the container's cgroup");
    assert_eq!(pids_max.trim(), "10");
    let state = r.run_cmd(&["state", &id]);
    let state: serde_json::Value = serde_json::from_str(&state.stdout).expect("state JSON");
    let pid = state["pid"].as_u64().expect("pid");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("init's cgroup");
    assert_eq!(own.trim(), format!("0::{cgroup}"));
    in_leaf(&["pause", &id]).assert_ok("pause");
    let paused = r.run_cmd(&["state", &id]);
    assert_contains(&paused.stdout, "\"paused\"");
    in_leaf(&["resume", &id]).assert_ok("resume");
    in_leaf(&["delete", "--force", &id]).assert_ok("delete --force");
    assert!(!dir.exists(), "{} left", dir.display());
}

/// Removes the test's own cgroups (children first) once its processes are gone.
struct RemoveCgroups(Vec<std::path::PathBuf>);

impl Drop for RemoveCgroups {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// NOTIFY_SOCKET as a systemd unit running rootless podman sets it: the container's root is
/// the user, who owns the state root, so its init binds the notify directory by path; READY=1
/// reaches the host's socket with the init's pid as MAINPID.
#[test]
fn ready_is_relayed_to_the_notify_socket_as_the_user() {
    use integration_tests::sd::{install_fixture, main_pids, HostNotify};
    let r = RootlessEnv::new("rl_sd_notify");
    let host_sock = HostNotify::bind(&r.env);
    let sock = std::path::Path::new(&host_sock.value);
    integration_tests::rootless::chown(sock, r.user.uid, r.user.gid);
    let mut b = r.bundle(&[
        "sh",
        "-c",
        "sdfx notify 'READY=1' || exit 9; exec sleep 1000",
    ]);
    install_fixture(&b);
    // The rootfs is root's: /run is a tmpfs of the container's own, as engines mount it.
    std::fs::create_dir(b.rootfs().join("run")).expect("mkdir rootfs/run");
    b.add_mount(json!({
        "destination": "/run",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "mode=755"],
    }));
    b.save();
    let id = r.env.id();
    let args = ["run", "-d", "--bundle", b.path_str(), &id];
    let mut cmd = r.command(&args);
    cmd.env("NOTIFY_SOCKET", &host_sock.value)
        .stdin(Stdio::null());
    r.runtime()
        .spawn_with(&mut cmd, &args)
        .wait()
        .assert_ok("run -d");
    let lines = host_sock.queued_lines();
    assert!(lines.iter().any(|l| l == "READY=1"), "{lines:?}");
    let state = r.run_cmd(&["state", &id]);
    let state: serde_json::Value = serde_json::from_str(&state.stdout).expect("state JSON");
    assert_eq!(main_pids(&lines), [state["pid"].to_string()], "{lines:?}");
    let ls = r.run_cmd(&["exec", &id, "ls", "-A", "/run/notify"]);
    assert_eq!(ls.stdout.trim(), "notify.sock", "{ls:#?}");
}

/// Without a cgroup there are no statistics: `events --stats` prints runc's event anyway,
/// every count zero, and exits 0 (berth also says why on stderr); the stream, which watches OOM
/// kills in the memory cgroup, fails at once with exit 1, as runc's does.
#[test]
fn events_without_a_cgroup_behave_as_runcs() {
    let r = RootlessEnv::new("rl_events");
    let b = r.bundle(&["sleep", "1000"]);
    let id = r.env.id();
    r.on_bundle(&b, &["run", "-d", "--bundle", b.path_str(), &id])
        .assert_ok("run -d");
    let stats = r.run_cmd(&["events", "--stats", &id]);
    stats.assert_ok("events --stats");
    let lines: Vec<&str> = stats.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stats:#?}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).expect("event JSON");
    assert_eq!(event["type"], "stats", "{event}");
    assert_eq!(event["id"], id.as_str(), "{event}");
    let data = &event["data"];
    assert_eq!(data["cpu"]["usage"]["user"], 0, "{event}");
    assert_eq!(data["memory"]["usage"]["limit"], 0, "{event}");
    assert_eq!(data["pids"], json!({}), "{event}");
    if !is_runc() {
        assert_contains(&stats.stderr, "has no cgroup");
    }
    let stream = r.run_cmd(&["events", &id]);
    assert_eq!(stream.code(), Some(1), "{stream:#?}");
    assert!(stream.stdout.is_empty(), "{stream:#?}");
    let state = r.run_cmd(&["state", &id]);
    assert_contains(&state.stdout, "\"running\"");
}

/// As podman's pods: a rootless container joins another one's user and network namespaces by
/// their /proc paths (its config repeats the same maps, as podman's does and runc 1.1
/// requires), and sees from inside the namespaces the first one has.
#[test]
fn a_container_joins_another_ones_user_and_network_namespaces_by_path() {
    let r = RootlessEnv::new("rl_join");
    let mut infra = r.bundle(&["sleep", "1000"]);
    infra.add_namespace("network", None);
    let infra_id = r.env.id();
    r.on_bundle(
        &infra,
        &["run", "-d", "--bundle", infra.path_str(), &infra_id],
    )
    .assert_ok("run -d the first container");
    let state = r.run_cmd(&["state", &infra_id]);
    let state: serde_json::Value = serde_json::from_str(&state.stdout).expect("state JSON");
    let pid = state["pid"].as_u64().expect("init pid");
    let mut member = r.bundle(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/user; readlink /proc/self/ns/net; id -u; cat /proc/self/uid_map",
    ]);
    for typ in ["user", "network"] {
        let file = if typ == "network" { "net" } else { typ };
        member.add_namespace(typ, Some(&format!("/proc/{pid}/ns/{file}")));
    }
    if !is_runc() {
        // Maps that are not the joined namespace's are refused (runc 1.1 ignores them).
        let mut liar = r.bundle(&["true"]);
        liar.config["linux"]["namespaces"] = member.config["linux"]["namespaces"].clone();
        let own = r.user.uid;
        liar.linux()["uidMappings"] = json!([{"containerID": 1, "hostID": own, "size": 1}]);
        let id = r.env.id();
        let out = r.on_bundle(&liar, &["run", "--bundle", liar.path_str(), &id]);
        out.assert_fails_naming(&["linux.uidMappings", "joined"]);
        host::assert_nothing_left(&r.runtime().root, &id, &liar.dir);
    }
    let id = r.env.id();
    let out = r.on_bundle(&member, &["run", "--bundle", member.path_str(), &id]);
    out.assert_ok("run the joining container");
    let host_ns = |file: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{file}"))
            .expect("the first container's namespace")
            .to_string_lossy()
            .into_owned()
    };
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..2], [host_ns("user"), host_ns("net")], "{out:#?}");
    assert_eq!(lines[2], "0", "{out:#?}");
    let map: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(map, ["0", r.user.uid.to_string().as_str(), "1"], "{out:#?}");
    r.run_cmd(&["delete", "--force", &infra_id])
        .assert_ok("delete --force the first container");
    assert_nothing_left(&r, &id, &member);
    assert_nothing_left(&r, &infra_id, &infra);
}

/// The user's container binds the notify directory by path as its root: a root that is not
/// the user (a subordinate id) cannot reach the state root, so NOTIFY_SOCKET is refused by
/// name before anything exists rather than failing the mount.
#[test]
fn notify_socket_with_a_root_that_is_not_the_user_is_refused_leaving_nothing() {
    use integration_tests::sd::HostNotify;
    let r = RootlessEnv::new("rl_sd_subuid_root");
    if skip_for_runc(
        "runc 1.1 runs no container of this map as the user (fchown of its stdio: EPERM)",
    ) {
        return;
    }
    let host_sock = HostNotify::bind(&r.env);
    integration_tests::rootless::chown(
        std::path::Path::new(&host_sock.value),
        r.user.uid,
        r.user.gid,
    );
    let mut b = r.bundle(&["true"]);
    let start = r.user.sub_start;
    for (field, own) in [("uidMappings", r.user.uid), ("gidMappings", r.user.gid)] {
        b.linux()[field] = json!([
            {"containerID": 0, "hostID": start, "size": 1},
            {"containerID": 1, "hostID": own, "size": 1},
        ]);
    }
    let id = r.env.id();
    b.save();
    let args = ["run", "--bundle", b.path_str(), &id];
    let mut cmd = r.command(&args);
    cmd.env("NOTIFY_SOCKET", &host_sock.value)
        .stdin(Stdio::null());
    let out = r.runtime().spawn_with(&mut cmd, &args).wait();
    out.assert_fails_naming(&["NOTIFY_SOCKET", "uid 0"]);
    assert_nothing_left(&r, &id, &b);
}
