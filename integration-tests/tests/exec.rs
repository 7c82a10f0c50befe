//! Issue 5 item 1, `exec`: a process joining a running container, checked from inside it.

use integration_tests::notify_agent::{self, Answer};
use integration_tests::{
    assert_contains, console::receive_fd, poll, skip_for_runc, TestEnv, STATE_TIMEOUT,
};
use nix::libc;
use serde_json::json;
use std::io::Read;
use std::os::unix::net::UnixListener;

/// A running container (`sleep 300`, writable rootfs, hostname `exec-box`); returns its id
/// and the init's pid.
fn running(env: &TestEnv) -> (String, i64) {
    let mut b = env.bundle(&["sleep", "300"]);
    b.set_writable();
    b.config["hostname"] = json!("exec-box");
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let state = env.wait_status(&id, "running");
    let pid = state["pid"].as_i64().expect("pid");
    (id, pid)
}

fn exec_ok(env: &TestEnv, args: &[&str]) -> String {
    let out = env.rt.run_cmd(&[&["exec"][..], args].concat());
    out.assert_ok("exec");
    out.stdout
}

#[test]
fn exec_sees_the_containers_hostname() {
    let env = TestEnv::new("exec_hostname");
    let (id, _) = running(&env);
    assert_eq!(exec_ok(&env, &[&id, "hostname"]), "exec-box\n");
}

#[test]
fn exec_joins_the_inits_namespaces() {
    let env = TestEnv::new("exec_joins_namespaces");
    let (id, pid) = running(&env);
    for ns in ["pid", "net", "mnt", "ipc", "uts"] {
        let inside = exec_ok(&env, &[&id, "readlink", &format!("/proc/self/ns/{ns}")]);
        let init = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_eq!(inside.trim(), init.to_string_lossy(), "{ns}");
    }
}

#[test]
fn exec_joins_the_containers_cgroup() {
    let env = TestEnv::new("exec_joins_cgroup");
    let (id, pid) = running(&env);
    // Seen from inside (cgroup namespace or not), the exec'd process is where the init is.
    let out = exec_ok(
        &env,
        &[
            &id,
            "sh",
            "-c",
            "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup",
        ],
    );
    let (mine, init) = out.split_once("--\n").expect("separator");
    assert_eq!(mine, init);
    // And from the host: the init's cgroups name the container, not the host's root.
    let host = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_contains(&host, &id);
}

#[test]
fn exec_passes_the_exit_status_through() {
    let env = TestEnv::new("exec_exit_status");
    let (id, _) = running(&env);
    let out = env.rt.run_cmd(&["exec", &id, "sh", "-c", "exit 3"]);
    assert_eq!(out.code(), Some(3), "{out:?}");
}

#[test]
fn exec_env_cwd_and_user() {
    let env = TestEnv::new("exec_env_cwd_user");
    let (id, _) = running(&env);
    let out = exec_ok(
        &env,
        &[
            // runc refuses -e and --env in one command line.
            "--env",
            "FOO=bar",
            "--env",
            "HOME=/exec",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1000",
            &id,
            "sh",
            "-c",
            "echo $FOO $HOME; pwd; id -u; id -g",
        ],
    );
    assert_eq!(out, "bar /exec\n/tmp\n1000\n1000\n");
    // The container's own environment is the base.
    assert_contains(&exec_ok(&env, &[&id, "sh", "-c", "echo $PATH"]), "/bin");
}

#[test]
fn exec_process_json() {
    let env = TestEnv::new("exec_process_json");
    let (id, _) = running(&env);
    let file = env.dir.join("process.json");
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1001},
        "args": ["sh", "-c", "echo $WHO; pwd; id -u; id -g"],
        "env": ["PATH=/bin:/usr/bin", "WHO=json"],
        "cwd": "/etc",
    });
    std::fs::write(&file, process.to_string()).unwrap();
    let out = exec_ok(&env, &["--process", file.to_str().unwrap(), &id]);
    assert_eq!(out, "json\n/etc\n1000\n1001\n");
}

#[test]
fn exec_process_json_with_a_bad_field_names_it() {
    let env = TestEnv::new("exec_process_bad_field");
    let (id, _) = running(&env);
    let file = env.dir.join("process.json");
    let process = json!({
        "args": ["touch", "/ran"],
        "cwd": "/",
        "user": {"uid": "root", "gid": 0},
    });
    std::fs::write(&file, process.to_string()).unwrap();
    let out = env
        .rt
        .run_cmd(&["exec", "--process", file.to_str().unwrap(), &id]);
    out.assert_fails_naming(&["user.uid"]);
    exec_ok(&env, &[&id, "sh", "-c", "! test -e /ran"]);
}

#[test]
fn exec_into_a_stopped_container_fails() {
    let env = TestEnv::new("exec_stopped");
    let b = env.bundle(&["true"]);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "stopped");
    let out = env.rt.run_cmd(&["exec", &id, "true"]);
    out.assert_fails_naming(&["stopped"]);
}

#[test]
fn exec_of_a_missing_program_fails_naming_it() {
    let env = TestEnv::new("exec_missing_program");
    let (id, _) = running(&env);
    let out = env.rt.run_cmd(&["exec", &id, "no-such-program"]);
    out.assert_fails_naming(&["no-such-program"]);
    assert_contains(&out.stderr, "executable file not found in $PATH");
    // The container is untouched.
    env.wait_status(&id, "running");
}

#[test]
fn exec_detach_returns_and_the_process_runs() {
    let env = TestEnv::new("exec_detach");
    let (id, _) = running(&env);
    let pid_file = env.dir.join("exec.pid");
    let out = env.rt.run_cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "echo detached > /tmp/marker",
    ]);
    out.assert_ok("exec -d");
    assert_eq!(out.code(), Some(0));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid > 0);
    poll(STATE_TIMEOUT, "the detached process's file", || {
        let out = env.rt.run_cmd(&["exec", &id, "cat", "/tmp/marker"]);
        (out.success() && out.stdout == "detached\n").then_some(())
    });
}

#[test]
fn exec_gets_the_containers_capabilities_plus_cap() {
    let env = TestEnv::new("exec_caps");
    let (id, pid) = running(&env);
    let cap_eff = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap()
    };
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let plain = exec_ok(&env, &[&id, "cat", "/proc/self/status"]);
    assert_eq!(cap_eff(&plain), cap_eff(&init));
    let more = exec_ok(
        &env,
        &["--cap", "CAP_SYS_ADMIN", &id, "cat", "/proc/self/status"],
    );
    assert_eq!(cap_eff(&more), cap_eff(&init) | 1 << 21);
}

#[test]
fn exec_tty_sends_the_pty_master_to_the_console_socket() {
    let env = TestEnv::new("exec_tty");
    let (id, _) = running(&env);
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let script = "test -t 0 && test -t 1 && test -t 2 && echo all-ttys";
    exec_ok(
        &env,
        &[
            // runc takes a console socket only with --detach.
            "-d",
            "-t",
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            script,
        ],
    );
    let master = receiver.join().expect("receiving the pty master");
    assert_contains(&read_until_closed(master), "all-ttys");
}

/// What the process wrote to its terminal: read until EIO, when the slave side closed as the
/// process exited.
fn read_until_closed(mut master: std::fs::File) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = master.read(&mut chunk) {
        out.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// conmon (podman's `exec -t`) passes --tty beside a process file that asks for a terminal.
#[test]
fn exec_tty_flag_with_a_terminal_process_file() {
    let env = TestEnv::new("exec_tty_process_file");
    let (id, _) = running(&env);
    let file = env.dir.join("process.json");
    let process = json!({
        "terminal": true,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh", "-c", "test -t 0 && test -t 1 && echo tty-from-file"],
        "env": ["PATH=/bin:/usr/bin"],
        "cwd": "/",
    });
    std::fs::write(&file, process.to_string()).unwrap();
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let (file, sock) = (file.to_str().unwrap(), sock.to_str().unwrap());
    exec_ok(
        &env,
        &[
            "--process",
            file,
            "-d",
            "--tty",
            "--console-socket",
            sock,
            &id,
        ],
    );
    let master = receiver.join().expect("receiving the pty master");
    assert_contains(&read_until_closed(master), "tty-from-file");
}

#[test]
fn exec_tty_flag_contradicting_the_process_file_fails() {
    // runc ignores --tty when given --process.
    if skip_for_runc("runc ignores --tty beside --process") {
        return;
    }
    let env = TestEnv::new("exec_tty_contradicts_file");
    let (id, _) = running(&env);
    let file = env.dir.join("process.json");
    let process = json!({
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
        "args": ["true"],
        "cwd": "/",
    });
    std::fs::write(&file, process.to_string()).unwrap();
    let out = env
        .rt
        .run_cmd(&["exec", "--process", file.to_str().unwrap(), "-t", &id]);
    out.assert_fails_naming(&["--tty"]);
}

#[test]
fn exec_gets_the_containers_seccomp_filter() {
    let env = TestEnv::new("exec_seccomp");
    let mut b = env.bundle(&["sleep", "300"]);
    b.set_writable();
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    });
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    let out = exec_ok(
        &env,
        &[
            &id,
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>/dev/null || echo refused",
        ],
    );
    assert_contains(&out, "Seccomp:\t2");
    assert_contains(&out, "refused");
}

/// SCMP_ACT_NOTIFY: the exec'd process gets the container's filter, and its own listener goes
/// to listenerPath with the seccomp state (its pid; the container's state with the init's).
#[test]
fn exec_with_a_notify_filter_hands_its_listener_to_the_agent() {
    let env = TestEnv::new("exec_seccomp_notify");
    let sock = env.dir.join("agent.sock");
    let mut b = env.bundle(&["sleep", "300"]);
    b.set_writable();
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "exec-test",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    });
    // The init's listener comes at start; its agent only has to take it.
    let init_agent = notify_agent::start(&sock, |_| Answer::Continue);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let init_pid = env.wait_status(&id, "running")["pid"].as_i64().unwrap();
    assert_eq!(init_agent.state()["pid"], init_pid);
    drop(init_agent);

    let agent = notify_agent::start(&sock, |n| {
        // mkdir(path, ...) or mkdirat(dirfd, path, ...)
        let path_arg = if n.nr == libc::SYS_mkdir as i32 { 0 } else { 1 };
        match n.read_str(path_arg).as_deref() {
            Some("/tmp/denied") => Answer::Errno(libc::EDQUOT),
            _ => Answer::Continue,
        }
    });
    // mkdir itself is the exec'd process (no shell forking it), so every notification is
    // from the pid the state names.
    let out = env
        .rt
        .run_cmd(&["exec", &id, "mkdir", "/tmp/denied", "/tmp/allowed"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out.stderr, "quota");
    assert!(b.rootfs().join("tmp/allowed").is_dir());
    assert!(!b.rootfs().join("tmp/denied").exists());
    let state = agent.state();
    assert_eq!(state["metadata"], "exec-test");
    assert_eq!(state["state"]["pid"], init_pid);
    assert_eq!(state["state"]["id"], id.as_str());
    // The notifications came from the exec'd process, whose pid the state names.
    let notified = agent.notifications();
    assert!(!notified.is_empty());
    assert!(
        notified.iter().all(|n| json!(n.pid) == state["pid"]),
        "{state}"
    );
    assert_ne!(state["pid"], init_pid);
}

/// A user-namespace container: the exec'd process joins the userns (first), so its ids are
/// the mapped ones and what it writes belongs to the mapped owner on the host.
#[test]
fn exec_into_a_user_namespace_maps_ids() {
    let env = TestEnv::new("exec_userns");
    let mut b = env.bundle(&["sleep", "300"]);
    b.add_namespace("user", None);
    let map = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.linux()["uidMappings"] = map.clone();
    b.linux()["gidMappings"] = map;
    // A host dir the container's root (host uid 200000) may write.
    let shared = env.dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(200000), Some(200000)).unwrap();
    // uid 1000 inside (201000 on the host) writes into it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    // /root exists in the rootfs: the unmapped host root owns it, so no mkdir is needed.
    b.add_mount(
        json!({"destination": "/root", "type": "bind", "source": shared,
        "options": ["rbind", "rw"]}),
    );
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let init_pid = env.wait_status(&id, "running")["pid"].as_i64().unwrap();
    let out = exec_ok(
        &env,
        &[
            "--user",
            "1000:1000",
            &id,
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map; readlink /proc/self/ns/user; \
             echo hi > /root/by-1000 && echo done",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["1000", "1000"], "{out}");
    let map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(map, ["0", "200000", "65536"], "{out}");
    let init_ns = std::fs::read_link(format!("/proc/{init_pid}/ns/user")).unwrap();
    assert_eq!(lines[3], init_ns.to_string_lossy(), "{out}");
    assert_eq!(lines[4], "done", "{out}");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(shared.join("by-1000")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (201000, 201000));
}

/// Without HOME in the environment the process gets its user's home from the container's
/// /etc/passwd, "/" for a uid without an entry (runc does this for exec and for the init).
#[test]
fn exec_sets_home_from_the_containers_passwd() {
    let env = TestEnv::new("exec_home");
    let (id, _) = running(&env);
    assert_eq!(exec_ok(&env, &[&id, "sh", "-c", "echo $HOME"]), "/root\n");
    assert_eq!(
        exec_ok(&env, &["--user", "4321", &id, "sh", "-c", "echo $HOME"]),
        "/\n"
    );
}
