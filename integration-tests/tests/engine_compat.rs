//! Issue 13: what container engines (Docker, containerd, podman) rely on runc doing, driven
//! the way they drive it with bare runtime commands. Every test passes on runc 1.1.5 too.

use integration_tests::{assert_contains, cgroup, is_runc, Bundle, TestEnv};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const MIB: i64 = 1 << 20;

/// Creates and starts a container from `b`; returns its id and init pid.
fn start(env: &TestEnv, b: &Bundle) -> (String, i64) {
    let id = env.create(b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let state = env.wait_status(&id, "running");
    let pid = state["pid"].as_i64().expect("state has the init's pid");
    (id, pid)
}

/// `update --resources -` with `resources` on stdin, as containerd's shim runs it.
fn update_from_stdin(env: &TestEnv, id: &str, resources: &Value) -> integration_tests::Out {
    let args = ["update", "--resources", "-", id];
    let mut cmd = env.rt.command();
    cmd.args(args).stdin(Stdio::piped());
    let mut running = env.rt.spawn_with(&mut cmd, &args);
    let mut stdin = running.stdin().expect("piped stdin");
    stdin
        .write_all(resources.to_string().as_bytes())
        .expect("writing the resources");
    drop(stdin);
    running.wait()
}

/// Item 0: dockerd (20.10) sends every limit of the container on `docker update`, 0 for the
/// ones never given; runc reads those zeros as "unchanged". Here `docker update --cpu-shares
/// 512 --memory-reservation 32m` on a container started with `--memory 64m`.
#[test]
fn dockers_update_leaves_the_zero_limits_unchanged() {
    let env = TestEnv::new("docker_update_zeros");
    let mut b = env.bundle(&["sleep", "1000"]);
    // uint64(-1): dockerd's "swappiness not set" (runc skips it).
    b.linux()["resources"]["memory"] = json!({"limit": 64 * MIB, "swappiness": u64::MAX});
    b.linux()["resources"]["pids"] = json!({"limit": 50});
    let (id, init) = start(&env, &b);
    let docker = json!({
        "memory": {"limit": 0, "reservation": 32 * MIB, "kernel": 0, "kernelTCP": 0, "swap": 0},
        "cpu": {"shares": 512, "quota": 0, "period": 0, "realtimePeriod": 0,
                "realtimeRuntime": 0, "cpus": "", "mems": ""},
        "blockIO": {"weight": 0},
        "pids": {"limit": 0},
    });
    update_from_stdin(&env, &id, &docker).assert_ok("update with Docker's zeros");

    let read = |controller, v1, v2| cgroup::read(&cgroup::file(init, controller, v1, v2));
    let (shares_file, shares) = if cgroup::is_pure_v2() {
        ("cpu.weight", "59")
    } else {
        ("cpu.shares", "512")
    };
    assert_eq!(read("cpu", shares_file, shares_file), shares);
    let limit = read("memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(
        limit,
        (64 * MIB).to_string(),
        "the memory limit was changed"
    );
    let soft = read("memory", "memory.soft_limit_in_bytes", "memory.low");
    assert_eq!(soft, (32 * MIB).to_string());
    assert_eq!(
        read("pids", "pids.max", "pids.max"),
        "50",
        "pids.max changed"
    );
}

/// Item 9: `update --memory -1` on a container with a swap limit lifts memory+swap too (the
/// kernel refuses a memory limit above the memory+swap one).
#[test]
fn unlimited_memory_lifts_a_swap_limit_too() {
    let env = TestEnv::new("memory_unlimited_swap");
    let mut b = env.bundle(&["sleep", "1000"]);
    b.linux()["resources"]["memory"] = json!({"limit": 64 * MIB, "swap": 128 * MIB});
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
    if !out.success() && out.stderr.contains("swap") {
        eprintln!("skipped: this host has no swap accounting: {}", out.stderr);
        return;
    }
    out.assert_ok("create with a swap limit");
    let init = env.rt.state(&id).expect("state")["pid"].as_i64().unwrap();
    env.rt
        .run_cmd(&["update", "--memory", "-1", &id])
        .assert_ok("update --memory -1");
    let read = |v1, v2| cgroup::read(&cgroup::file(init, "memory", v1, v2));
    let unlimited = |v: String| v == "max" || v.parse::<i64>().is_ok_and(|n| n > 1 << 62);
    let memory = read("memory.limit_in_bytes", "memory.max");
    assert!(unlimited(memory.clone()), "memory limit {memory}");
    let swap = read("memory.memsw.limit_in_bytes", "memory.swap.max");
    assert!(unlimited(swap.clone()), "memory+swap limit {swap}");
}

/// A cgroup the test makes on the cpu hierarchy (v1) or cgroup2 (pure v2), removed on drop.
struct ParentCgroup(PathBuf);

impl ParentCgroup {
    /// `name` with a bandwidth limit of `quota` per 100 ms.
    fn with_quota(name: &str, quota: u32) -> Self {
        let (root, file, value) = if cgroup::is_pure_v2() {
            ("/sys/fs/cgroup", "cpu.max", format!("{quota} 100000"))
        } else {
            ("/sys/fs/cgroup/cpu", "cpu.cfs_quota_us", quota.to_string())
        };
        let dir = PathBuf::from(root).join(name);
        std::fs::create_dir(&dir).expect("creating the parent cgroup");
        let parent = Self(dir);
        std::fs::write(parent.0.join(file), value).expect("setting the parent's quota");
        parent
    }
}

impl Drop for ParentCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Item 9: Kubernetes pod cgroups carry a quota; shortening the period first is refused
/// there (old quota / new period exceeds the pod's), so runc writes the period again after
/// the quota.
#[test]
fn a_shorter_period_and_quota_fit_under_a_parent_quota() {
    let env = TestEnv::new("period_under_parent_quota");
    let name = format!("{}-pod", env.name);
    let parent = ParentCgroup::with_quota(&name, 50_000);
    let mut b = env.bundle(&["sleep", "1000"]);
    b.linux()["cgroupsPath"] = json!(format!("/{name}/ctr"));
    b.linux()["resources"]["cpu"] = json!({"period": 100_000, "quota": 40_000});
    let (id, init) = start(&env, &b);
    env.rt
        .run_cmd(&[
            "update",
            "--cpu-period",
            "10000",
            "--cpu-quota",
            "3000",
            &id,
        ])
        .assert_ok("update --cpu-period 10000 --cpu-quota 3000");
    let bandwidth = if cgroup::is_pure_v2() {
        cgroup::read(&cgroup::file(init, "cpu", "", "cpu.max"))
    } else {
        let read = |f| cgroup::read(&cgroup::file(init, "cpu", f, f));
        format!("{} {}", read("cpu.cfs_quota_us"), read("cpu.cfs_period_us"))
    };
    assert_eq!(bandwidth, "3000 10000");
    env.rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete");
    // runc 1.1 leaves the leaf it was given; berth removes it (the parent is the test's).
    if is_runc() {
        let _ = std::fs::remove_dir(parent.0.join("ctr"));
    }
    drop(parent);
}

/// Item 0: a new network namespace gets `lo` up, as runc's `loopback` network does (podman
/// pods with `--network none` and `ctr run` without CNI rely on 127.0.0.1).
#[test]
fn a_new_network_namespace_has_loopback_up() {
    let env = TestEnv::new("loopback_up");
    let b = env.bundle(&["ip", "-o", "link", "show", "lo"]);
    let out = env.run_ok(&b);
    let flags = out
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(flags, _)| flags.split(',').collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no flags in {out:?}"));
    assert!(flags.contains(&"UP"), "lo is down: {out}");
}

/// Item 0: Docker maps runc's words for a program that cannot run to exit codes (127 for
/// "executable file not found in $PATH" and "no such file or directory", 126 for "permission
/// denied"), so these are runc's exact messages.
#[test]
fn a_program_that_cannot_run_fails_in_runcs_words() {
    let env = TestEnv::new("exec_error_words");
    let cases = [
        (
            "/nonexistent",
            r#"exec: "/nonexistent": stat /nonexistent: no such file or directory"#,
        ),
        (
            "nonexistent",
            r#"exec: "nonexistent": executable file not found in $PATH"#,
        ),
        ("/noexec", r#"exec: "/noexec": permission denied"#),
        ("/bin", r#"exec: "/bin": permission denied"#),
    ];
    for (program, words) in cases {
        let b = env.bundle(&[program]);
        std::fs::write(b.rootfs().join("noexec"), "#!/bin/sh\n").unwrap();
        let out = env.run(&b);
        assert!(!out.success(), "{program} ran: {out:#?}");
        // The log line quotes the message (logfmt): compare it unquoted.
        assert_contains(&out.stderr.replace("\\\"", "\""), words);
    }
}

/// Item 0: without PATH in process.env a bare args[0] is not looked up anywhere (runc's init
/// has only the config's environment); a path still runs.
#[test]
fn a_bare_program_needs_path_in_the_environment() {
    let env = TestEnv::new("no_path_env");
    let mut b = env.bundle(&["echo", "ran"]);
    b.process()["env"] = json!(["TERM=xterm"]);
    let out = env.run(&b);
    assert!(!out.success(), "echo ran without PATH: {out:#?}");
    assert_contains(&out.stderr, "executable file not found in $PATH");

    let mut b = env.bundle(&["/bin/echo", "ran"]);
    b.process()["env"] = json!(["TERM=xterm"]);
    assert_eq!(env.run_ok(&b), "ran\n");
}

/// Item 3: `terminal: true` with a user namespace (Docker's userns-remap, podman --userns):
/// the console socket is the host's, in a directory only host root may enter, so it must be
/// reached with the host's permissions, not as the container's remapped root.
#[test]
fn a_console_socket_only_host_root_can_reach_works_with_a_user_namespace() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new("console_userns");
    let private = env.dir.join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let sock = private.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut b = env.bundle(&["sh", "-c", "test -t 0 && echo tty-in-userns"]);
    b.process()["terminal"] = json!(true);
    b.add_namespace("user", None);
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.linux()["uidMappings"] = maps.clone();
    b.linux()["gidMappings"] = maps;
    // A cgroup v1 hierarchy cannot be mounted from a user namespace.
    b.remove_mount("/sys/fs/cgroup");
    b.save();
    let id = env.id();
    let receiver = std::thread::spawn(move || integration_tests::console::receive_fd(&listener));
    let sock_arg = sock.to_str().unwrap();
    let args = [
        "create",
        "--console-socket",
        sock_arg,
        "-b",
        b.path_str(),
        &id,
    ];
    let create = env.rt.run_cmd(&args);
    if !create.success() {
        // Unblock the receiver, which would otherwise wait for a connection forever.
        let _ = std::os::unix::net::UnixStream::connect(&sock);
        panic!("create with a terminal in a user namespace: {create:#?}");
    }
    let mut master = receiver.join().expect("receiving the pty master");
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "stopped");
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = std::io::Read::read(&mut master, &mut chunk) {
        out.extend_from_slice(&chunk[..n]);
    }
    assert_contains(&String::from_utf8_lossy(&out), "tty-in-userns");
}

/// Item 4: an image whose USER cannot enter its WORKDIR still starts there (runc enters the
/// cwd while still privileged); so does `exec --user 0` into a directory of another user when
/// the process has no CAP_DAC_OVERRIDE.
#[test]
fn a_cwd_the_user_cannot_enter_is_entered_while_privileged() {
    use std::os::unix::fs::{chown, PermissionsExt};
    let env = TestEnv::new("cwd_not_enterable");
    let mut b = env.bundle(&["sh", "-c", "pwd; id -u; exec sleep 1000"]);
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process()["cwd"] = json!("/root");
    let rootfs = b.rootfs();
    std::fs::set_permissions(rootfs.join("root"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let theirs = rootfs.join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    chown(&theirs, Some(1234), Some(1234)).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (id, _) = start(&env, &b);

    let out = env
        .rt
        .run_cmd(&["exec", "--user", "0", "--cwd", "/theirs", &id, "pwd"]);
    out.assert_ok("exec --user 0 --cwd /theirs");
    assert_eq!(out.stdout, "/theirs\n");
    let out = env
        .rt
        .run_cmd(&["exec", "--user", "1000", &id, "sh", "-c", "pwd; id -u"]);
    out.assert_ok("exec as the image's user");
    assert_eq!(out.stdout, "/root\n1000\n");
}

/// Item 6: filesystem data next to `bind` (`mode=755`, `size=1k`) is accepted and passed to
/// mount(2), which ignores it for a bind, as runc and crun do; the other options still apply.
#[test]
fn a_bind_mount_with_filesystem_data_is_accepted() {
    let env = TestEnv::new("bind_with_data");
    let data = env.dir.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("file"), "from the host\n").unwrap();
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "cat /data/file; touch /data/new || echo read-only",
    ]);
    b.add_mount(
        json!({"destination": "/data", "type": "bind", "source": data.to_str().unwrap(),
        "options": ["rbind", "ro", "mode=755", "size=1k"]}),
    );
    assert_eq!(env.run_ok(&b), "from the host\nread-only\n");
}

/// Item 8: a read-only /dev with /dev/pts and /dev/shm under it: the submounts, device nodes
/// and symlinks are made first and /dev is made read-only after, as runc does.
#[test]
fn a_read_only_dev_still_gets_its_submounts_and_nodes() {
    let env = TestEnv::new("read_only_dev");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "touch /dev/x 2>/dev/null || echo dev-read-only; echo x > /dev/null && echo null-ok; \
         touch /dev/shm/y && echo shm-writable; test -L /dev/ptmx && echo ptmx-link; \
         grep -c ' /dev/pts ' /proc/self/mountinfo",
    ]);
    let dev = b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["destination"] == "/dev")
        .expect("a /dev mount");
    dev["options"].as_array_mut().unwrap().push(json!("ro"));
    assert_eq!(
        env.run_ok(&b),
        "dev-read-only\nnull-ok\nshm-writable\nptmx-link\n1\n"
    );
}

/// Item 11: engines' multi-arch default profiles name architectures this host cannot
/// execute (SCMP_ARCH_AARCH64 and SCMP_ARCH_ARM in an x86_64 profile): accepted, and the
/// profile still filters the host's syscalls.
#[test]
fn a_seccomp_profile_naming_foreign_architectures_is_accepted() {
    let env = TestEnv::new("seccomp_foreign_arch");
    let mut b = env.bundle(&["sh", "-c", "mkdir /tmp/x 2>&1; true"]);
    b.set_writable();
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99}],
    });
    // EADDRNOTAVAIL: only the filter can have given mkdir that error.
    assert_contains(&env.run_ok(&b), "Cannot assign requested address");
}

/// A static program in `rootfs` at /probe that prints the errno of a syscall numbered 1000
/// (newer than any profile) and of getppid; None without a C compiler on this machine.
fn syscall_probe(rootfs: &Path) -> Option<()> {
    let src = rootfs.join("probe.c");
    std::fs::write(
        &src,
        "#include <errno.h>\n#include <stdio.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(void) {\n\
           long r = syscall(1000); printf(\"newer=%d\\n\", r < 0 ? errno : 0);\n\
           r = syscall(SYS_getppid); printf(\"older=%d\\n\", r < 0 ? errno : 0);\n\
           return 0;\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(rootfs.join("probe"))
        .arg(&src)
        .output()
        .ok()?;
    assert!(out.status.success(), "cc failed: {out:?}");
    Some(())
}

/// Item 11: with a refusing default action, a syscall newer than every one the profile
/// names gets ENOSYS (runc's stub, so programs fall back to older calls), an older one not
/// named gets defaultErrnoRet.
#[test]
fn syscalls_newer_than_the_seccomp_profile_get_enosys() {
    let env = TestEnv::new("seccomp_enosys");
    let mut b = env.bundle(&["/probe"]);
    if syscall_probe(&b.rootfs()).is_none() {
        eprintln!("skipped: no C compiler (cc) to build the probe");
        return;
    }
    // What a static glibc program needs, and what runc's and berth's last steps after
    // loading the filter make (runc's Go runtime most of them).
    let allowed = [
        "execve",
        "brk",
        "mmap",
        "munmap",
        "mprotect",
        "madvise",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "readlink",
        "readlinkat",
        "getrandom",
        "uname",
        "write",
        "exit_group",
        "exit",
        "fstat",
        "newfstatat",
        "futex",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "sigaltstack",
        "close",
        "getpid",
        "gettid",
        "tgkill",
        "nanosleep",
        "sched_yield",
        "epoll_pwait",
        "fcntl",
        "openat",
        "read",
        "capget",
        "capset",
        "prctl",
        "setgroups",
        "setresuid",
        "setresgid",
        "chdir",
        "getcwd",
        "dup3",
        "close_range",
        "fstatfs",
        "statfs",
        "getdents64",
        "epoll_ctl",
        "epoll_create1",
        "pipe2",
        "mincore",
        "clock_gettime",
        "waitid",
        "sched_getaffinity",
    ];
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 13,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": allowed.as_slice(), "action": "SCMP_ACT_ALLOW"}],
    });
    // 38 ENOSYS for the newer call, 13 (defaultErrnoRet) for the older one.
    assert_eq!(env.run_ok(&b), "newer=38\nolder=13\n");
}
