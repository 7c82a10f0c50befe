//! Issue 12 items 5 to 9: each test performs the attack (a hostile config value, image, or
//! process in the container, or a planted file) and checks the host is untouched.

use integration_tests::{
    assert_contains, console::receive_fd, host, is_runc, poll, skip_for_runc, Bundle, TestEnv,
    STATE_TIMEOUT,
};
use nix::libc;
use serde_json::json;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};

const NO_ID: u64 = 4_294_967_295;
const CAP_SYS_ADMIN: u32 = 21;

/// A running container (`sleep 300`), from `b` (saved here).
fn start(env: &TestEnv, b: &Bundle) -> String {
    let id = env.create(b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    id
}

// Item 5: a uid or gid of 4294967295 is (uid_t)-1, "unchanged", to setresuid: it ran as root.

#[test]
fn ids_above_int32_max_in_the_config_are_refused() {
    let env = TestEnv::new("ids_above_int32_max_config");
    let cases = [
        ("uid", json!({"uid": NO_ID, "gid": 0})),
        ("gid", json!({"uid": 1000, "gid": NO_ID})),
        (
            "additionalGids",
            json!({"uid": 1000, "gid": 1000, "additionalGids": [NO_ID]}),
        ),
    ];
    for (field, user) in cases {
        let mut b = env.bundle(&["id"]);
        b.process()["user"] = user;
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["run", "-b", b.path_str(), &id]);
        if out.success() {
            // What runc 1.1.5 does: print who the process ended up as.
            assert!(
                !out.stdout.contains("uid=0") && !out.stdout.contains("gid=0"),
                "{field} = 4294967295 ran as root: {out:#?}"
            );
            continue;
        }
        // runc 1.1.5 refuses them too, without naming the field.
        let named = format!("process.user.{field}");
        out.assert_fails_naming(&[if is_runc() { "2147483647" } else { &named }]);
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
}

#[test]
fn ids_above_int32_max_in_exec_are_refused() {
    let env = TestEnv::new("ids_above_int32_max_exec");
    let id = start(&env, &env.bundle(&["sleep", "300"]));
    let no = NO_ID.to_string();
    let user_and_group = format!("1000:{no}");
    for (args, names) in [
        (vec!["-u", no.as_str()], ["user", "uid"]),
        (vec!["-u", user_and_group.as_str()], ["user", "gid"]),
        (
            vec!["-u", "1000", "-g", no.as_str()],
            ["additional-gids", "gid"],
        ),
    ] {
        let mut cmd = vec!["exec"];
        cmd.extend(&args);
        cmd.extend([id.as_str(), "id"]);
        let out = env.rt.run_cmd(&cmd);
        assert!(
            !out.stdout.contains("uid=0") && !out.stdout.contains("gid=0"),
            "{args:?} ran as root: {out:#?}"
        );
        out.assert_fails_naming(&names);
    }
    // The same through exec's process.json.
    let process = env.dir.join("process.json");
    let p = json!({"user": {"uid": NO_ID, "gid": 0}, "args": ["id"], "cwd": "/",
        "env": ["PATH=/bin"]});
    std::fs::write(&process, p.to_string()).unwrap();
    let out = env
        .rt
        .run_cmd(&["exec", "--process", process.to_str().unwrap(), &id]);
    assert!(!out.stdout.contains("uid=0"), "ran as root: {out:#?}");
    out.assert_fails_naming(&["uid"]);
}

#[test]
fn id_mappings_above_int32_max_are_refused() {
    if skip_for_runc("runc 1.1.5 accepts id mappings above INT32_MAX") {
        return;
    }
    let env = TestEnv::new("id_mappings_above_int32_max");
    for (field, maps) in [
        (
            "uidMappings",
            json!([{"containerID": 0, "hostID": 0, "size": 1},
            {"containerID": 3_000_000_000u64, "hostID": 1000, "size": 1}]),
        ),
        (
            "uidMappings",
            json!([{"containerID": 0, "hostID": 2_147_483_000u64, "size": 1000}]),
        ),
        (
            "gidMappings",
            json!([{"containerID": 0, "hostID": 0, "size": 4_294_967_295u64}]),
        ),
    ] {
        let mut b = env.bundle(&["true"]);
        b.add_namespace("user", None);
        let ok = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        b.linux()["uidMappings"] = ok.clone();
        b.linux()["gidMappings"] = ok;
        b.linux()[field] = maps;
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
        out.assert_fails_naming(&[&format!("linux.{field}")]);
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
}

// Item 6: a symlink planted where berth writes a file must never redirect the write.

/// A directory `pf` holding symlinks at `name`, `.name` and `.name.tmp` (the final name and
/// the temp names runc and the old berth used), all to `victim`.
fn planted(env: &TestEnv, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = env.dir.join("pf");
    std::fs::create_dir_all(&dir).unwrap();
    let victim = env.dir.join("victim");
    std::fs::write(&victim, "victim\n").unwrap();
    for link in [name.to_string(), format!(".{name}"), format!(".{name}.tmp")] {
        std::os::unix::fs::symlink(&victim, dir.join(link)).unwrap();
    }
    (dir.join(name), victim)
}

/// The pid file is a regular file (not the planted symlink) holding `pid`.
fn assert_pid_file(path: &Path, pid: i64) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    assert!(meta.file_type().is_file(), "{} is {meta:?}", path.display());
    assert_eq!(
        std::fs::read_to_string(path).unwrap().trim(),
        pid.to_string()
    );
}

#[test]
fn create_pid_file_never_follows_a_planted_symlink() {
    let env = TestEnv::new("create_pid_file_symlink");
    let (pid_file, victim) = planted(&env, "pid");
    let b = env.bundle(&["sleep", "300"]);
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&[
        "create",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "-b",
        b.path_str(),
        &id,
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    if is_runc() {
        // runc 1.1.5 refuses the planted `.pid` (O_EXCL) instead of choosing another name.
        return;
    }
    out.assert_ok("create");
    let pid = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    assert_pid_file(&pid_file, pid);
}

#[test]
fn exec_pid_file_never_follows_a_planted_symlink() {
    let env = TestEnv::new("exec_pid_file_symlink");
    let id = start(&env, &env.bundle(&["sleep", "300"]));
    let (pid_file, victim) = planted(&env, "exec.pid");
    let out = env.rt.run_cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "300",
    ]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    if is_runc() {
        return; // as above: runc 1.1.5 fails on the planted `.exec.pid`
    }
    out.assert_ok("exec");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_pid_file(&pid_file, pid);
    assert!(
        host::pid_alive(pid as u32),
        "exec'd pid {pid} is not running"
    );
}

#[test]
fn log_file_never_follows_a_planted_symlink() {
    if skip_for_runc("runc 1.1.5 is vulnerable: it opens --log through a symlink") {
        return;
    }
    let env = TestEnv::new("log_file_symlink");
    let (log, victim) = planted(&env, "log.json");
    let mut cmd = env.rt.command();
    let args = ["--log", log.to_str().unwrap(), "state", "no-such-container"];
    cmd.args(args).stdin(Stdio::null());
    let out = env.rt.spawn_with(&mut cmd, &args).wait();
    assert!(!out.success(), "{out:#?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
}

// Item 7: `exec --cap` granted inheritable and ambient capabilities (CVE-2022-29162).

/// Bit `cap` of the `field` line (CapInh, CapEff, ...) of a /proc/<pid>/status text.
fn has_cap(status: &str, field: &str, cap: u32) -> bool {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    let hex = line.split_whitespace().nth(1).unwrap();
    u64::from_str_radix(hex, 16).unwrap() & (1 << cap) != 0
}

#[test]
fn exec_cap_adds_no_inheritable_or_ambient_capability() {
    let env = TestEnv::new("exec_cap_inheritable_ambient");
    let id = start(&env, &env.bundle(&["sleep", "300"]));
    let exec = |user: &str| {
        let out = env.rt.run_cmd(&[
            "exec",
            "-u",
            user,
            "--cap",
            "CAP_SYS_ADMIN",
            &id,
            "cat",
            "/proc/self/status",
        ]);
        out.assert_ok("exec --cap");
        out.stdout
    };
    let user = exec("1000");
    for field in ["CapInh", "CapAmb", "CapEff", "CapPrm"] {
        assert!(
            !has_cap(&user, field, CAP_SYS_ADMIN),
            "{field} of uid 1000 has CAP_SYS_ADMIN:\n{user}"
        );
    }
    // --cap still works for root, in the sets it is meant for.
    let root = exec("0");
    for field in ["CapBnd", "CapEff", "CapPrm"] {
        assert!(
            has_cap(&root, field, CAP_SYS_ADMIN),
            "{field} of root lacks CAP_SYS_ADMIN:\n{root}"
        );
    }
    for field in ["CapInh", "CapAmb"] {
        assert!(!has_cap(&root, field, CAP_SYS_ADMIN), "{field}:\n{root}");
    }
}

// Item 8: a container must not be able to wedge berth, nor its management.

/// Kills the child on drop: a wedged runtime must not outlive a failed test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Some child of `pid` exists (read from /proc/*/stat's ppid field).
fn has_child(pid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let after = stat.rfind(')').map(|i| &stat[i + 2..]).unwrap_or("");
        after.split(' ').nth(1) == Some(&pid.to_string())
    })
}

#[test]
fn a_fifo_etc_passwd_wedges_neither_exec_nor_kill() {
    let env = TestEnv::new("fifo_etc_passwd_exec_kill");
    // The container's own process swaps /etc/passwd for a FIFO once it runs.
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "rm /etc/passwd && mkfifo /etc/passwd && exec sleep 300",
    ]);
    b.set_writable();
    let id = start(&env, &b);
    let passwd = b.rootfs().join("etc/passwd");
    poll(STATE_TIMEOUT, "/etc/passwd to become a FIFO", || {
        let meta = std::fs::symlink_metadata(&passwd).ok()?;
        meta.file_type().is_fifo().then_some(())
    });
    // No HOME in the environment: exec looks the user's home up in /etc/passwd.
    let err = env.dir.join("exec.err");
    let exec = || {
        let mut cmd = env.rt.command();
        cmd.args(["exec", "-u", "1000", &id, "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&err).unwrap());
        KillOnDrop(cmd.spawn().unwrap())
    };
    if !is_runc() {
        // On its own, with the container left alone: a prompt failure that says why (runc
        // 1.1.5 blocks here until the container dies).
        let mut alone = exec();
        let status = poll(STATE_TIMEOUT, "exec to give up on the FIFO", || {
            alone.0.try_wait().unwrap()
        });
        assert!(
            !status.success(),
            "exec succeeded reading a FIFO /etc/passwd"
        );
        let text = std::fs::read_to_string(&err).unwrap();
        assert_contains(&text, "/etc/passwd: not a regular file");
    }
    let mut exec = exec();
    let exec_pid = exec.0.id();
    // Once exec has a child it is (in the vulnerable code) stuck on the FIFO with the lock.
    poll(STATE_TIMEOUT, "exec to end or to start its child", || {
        let ended = exec.0.try_wait().unwrap().is_some();
        (ended || has_child(exec_pid)).then_some(())
    });
    env.rt
        .run_cmd(&["kill", &id, "KILL"])
        .assert_ok("kill while exec reads a FIFO /etc/passwd");
    env.wait_status(&id, "stopped");
    let status = poll(STATE_TIMEOUT, "exec to end", || exec.0.try_wait().unwrap());
    assert!(
        !status.success(),
        "exec succeeded reading a FIFO /etc/passwd"
    );
}

#[test]
fn a_fifo_etc_passwd_in_the_image_fails_create_cleanly() {
    if skip_for_runc("runc 1.1.5 is vulnerable: its init blocks opening a FIFO /etc/passwd") {
        return;
    }
    let env = TestEnv::new("fifo_etc_passwd_create");
    let b = env.bundle(&["true"]);
    let passwd = b.rootfs().join("etc/passwd");
    std::fs::remove_file(&passwd).unwrap();
    nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
    out.assert_fails_naming(&["/etc/passwd: not a regular file"]);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// The pid of a process whose parent is `parent` and whose argv is `argv`, if there is one.
fn child_running(parent: u32, argv: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat[stat.rfind(')')? + 2..].split(' ').nth(1)?;
            let cmdline = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
            (ppid == parent.to_string() && cmdline.replace('\0', " ").trim() == argv).then_some(pid)
        })
}

#[test]
fn state_kill_and_ps_never_wait_behind_a_stalled_start() {
    let env = TestEnv::new("stalled_start_state_kill");
    // A startContainer hook runs the image's program in the container: it can stall start.
    let mut b = env.bundle(&["true"]);
    b.config["hooks"] =
        json!({"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "300"]}]});
    let id = env.create(&b);
    let init = env.rt.state(&id).expect("state")["pid"].as_u64().unwrap() as u32;
    let start = env.rt.spawn(&["start", &id]);
    poll(STATE_TIMEOUT, "the startContainer hook to run", || {
        child_running(init, "sleep 300")
    });
    let state = env.rt.run_cmd(&["state", &id]);
    state.assert_ok("state while start waits on the container");
    env.rt
        .run_cmd(&["ps", &id])
        .assert_ok("ps while start waits on the container");
    env.rt
        .run_cmd(&["kill", &id, "KILL"])
        .assert_ok("kill while start waits on the container");
    env.wait_status(&id, "stopped");
    let _ = start.wait();
}

// Item 9: the smaller ones.

#[test]
fn the_state_root_is_private_whatever_the_umask() {
    let env = TestEnv::new("state_root_umask");
    let b = env.bundle(&["sleep", "300"]);
    b.save();
    let id = env.id();
    let args = ["create", "-b", b.path_str(), &id];
    let mut cmd = env.rt.command();
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    env.rt
        .spawn_with(&mut cmd, &args)
        .wait()
        .assert_ok("create");
    let mode = std::fs::metadata(&env.rt.root)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o700, "state root mode {mode:o} under umask 0");
}

/// The container's fds above 2 that are not files (sockets, eventfds, namespaces: berth's),
/// from `ls -l /proc/self/fd` output.
fn foreign_fds(ls: &str) -> Vec<String> {
    ls.lines()
        .filter_map(|l| l.split_once(" -> "))
        .filter(|(left, target)| {
            let fd: u32 = left.rsplit(' ').next().unwrap_or("0").parse().unwrap_or(0);
            fd > 2 && !target.starts_with('/')
        })
        .map(|(left, target)| format!("{left} -> {target}"))
        .collect()
}

#[test]
fn preserve_fds_never_hands_over_berths_own_fds() {
    if skip_for_runc("runc 1.1.5 refuses --preserve-fds when one of the fds is not open") {
        return;
    }
    let env = TestEnv::new("preserve_fds_berths_fds");
    let share = env.dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "ls -l /proc/self/fd/ > /share/fds; exec sleep 300",
    ]);
    b.add_mount(json!({"destination": "/share", "type": "bind",
        "source": share.to_str().unwrap(), "options": ["rbind", "rw"]}));
    b.save();
    let id = env.id();
    // The test process has nothing open at 3..13 (Rust opens everything close-on-exec).
    env.rt
        .run_cmd(&["run", "-d", "--preserve-fds", "10", "-b", b.path_str(), &id])
        .assert_ok("run -d --preserve-fds 10");
    let fds = poll(STATE_TIMEOUT, "the container's fd list", || {
        let text = std::fs::read_to_string(share.join("fds")).ok()?;
        text.contains("->").then_some(text)
    });
    assert_eq!(foreign_fds(&fds), Vec::<String>::new(), "{fds}");
    // A start listener kept open by the container would make it `created` forever.
    assert_eq!(env.rt.state(&id).expect("state")["status"], "running");
    let out = env.rt.run_cmd(&[
        "exec",
        "--preserve-fds",
        "10",
        &id,
        "ls",
        "-l",
        "/proc/self/fd/",
    ]);
    out.assert_ok("exec --preserve-fds 10");
    assert_eq!(
        foreign_fds(&out.stdout),
        Vec::<String>::new(),
        "{}",
        out.stdout
    );
}

#[test]
fn preserve_fds_beyond_the_open_file_limit_is_refused() {
    let env = TestEnv::new("preserve_fds_beyond_limit");
    let b = env.bundle(&["true"]);
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&[
        "run",
        "--preserve-fds",
        "4000000000",
        "-b",
        b.path_str(),
        &id,
    ]);
    out.assert_fails_naming(&["preserve"]);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

fn hook_bundle(env: &TestEnv, hook: &str) -> Bundle {
    let mut b = env.bundle(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": hook, "timeout": i64::MAX}]});
    b.save();
    b
}

#[test]
fn a_huge_hook_timeout_is_no_panic() {
    if skip_for_runc("runc 1.1.5 overflows the timeout into an instant one") {
        return;
    }
    let env = TestEnv::new("huge_hook_timeout");
    // Succeeding hook: no deadline at all, the container runs.
    let b = hook_bundle(&env, "/bin/true");
    let id = env.id();
    env.rt
        .run_cmd(&["run", "-b", b.path_str(), &id])
        .assert_ok("run with a hook timeout of i64::MAX");
    // Failing hook: create fails by the hook's own error and leaves nothing behind.
    let b = hook_bundle(&env, "/bin/false");
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
    out.assert_fails_naming(&["hooks.createRuntime[0]"]);
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    env.rt
        .run_cmd(&["delete", "-f", &id])
        .assert_ok("delete -f");
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

#[test]
fn exec_tty_never_opens_a_planted_dev_ptmx() {
    if skip_for_runc("runc 1.1.5 opens /dev/ptmx by path: \"inappropriate ioctl for device\"") {
        return;
    }
    let env = TestEnv::new("exec_tty_planted_ptmx");
    // The image's /dev, bind-mounted: ptmx is a symlink to a plain file.
    let mut b = env.bundle(&["sleep", "300"]);
    let dev = env.dir.join("dev");
    for d in ["pts", "shm", "mqueue"] {
        std::fs::create_dir_all(dev.join(d)).unwrap();
    }
    std::fs::write(dev.join("victim"), "victim\n").unwrap();
    // The masks need a /dev/null; berth does not populate a /dev the config bind-mounts.
    nix::sys::stat::mknod(
        &dev.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    std::os::unix::fs::symlink("/dev/victim", dev.join("ptmx")).unwrap();
    b.remove_mount("/dev");
    let mut mounts = vec![json!({"destination": "/dev", "type": "bind",
        "source": dev.to_str().unwrap(), "options": ["rbind", "rw"]})];
    mounts.extend(b.config["mounts"].as_array().unwrap().iter().cloned());
    b.config["mounts"] = json!(mounts);
    let id = start(&env, &b);
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || {
        let mut master = receive_fd(&listener);
        let mut out = Vec::new();
        let mut chunk = [0u8; 1024];
        while let Ok(n @ 1..) = master.read(&mut chunk) {
            out.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let out = env.rt.run_cmd(&[
        "exec",
        "-d",
        "-t",
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "tty; echo exec-done",
    ]);
    out.assert_ok("exec -t");
    let seen = receiver.join().expect("reading the pty master");
    assert_contains(&seen, "/dev/pts/");
    assert_contains(&seen, "exec-done");
    assert_eq!(
        std::fs::read_to_string(dev.join("victim")).unwrap(),
        "victim\n"
    );
    assert!(std::fs::symlink_metadata(dev.join("ptmx"))
        .unwrap()
        .file_type()
        .is_symlink());
}
