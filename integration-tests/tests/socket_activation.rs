//! LISTEN_FDS / LISTEN_PID (socket activation), as systemd hands sockets to the runtime: a
//! listening socket at fd 3, LISTEN_FDS=1 and LISTEN_PID = the runtime's own pid (set by a
//! shell that then execs the runtime, so the pid is the same). The container's process gets
//! the fd, LISTEN_FDS=1 and LISTEN_PID=1 (runc's value), and accepts a connection from the
//! host on it; `--preserve-fds` fds come after the activated ones, as with runc.

use integration_tests::sd::install_fixture;
use integration_tests::{assert_contains, TestEnv};
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// sdfx lists the fds it got from the shell, which opens none of its own before the exec.
const SCRIPT: &str = "echo \"env=LISTEN_FDS:$LISTEN_FDS LISTEN_PID:$LISTEN_PID\"; \
    if [ -e /proc/$$/fd/4 ]; then echo \"fd4=$(cat <&4)\"; fi; exec sdfx accept";

/// Runs `run` with `fds[i]` at fd 3+i, LISTEN_FDS=`listen` and LISTEN_PID = the runtime's
/// pid (or a wrong one), plus `extra` arguments before the id.
fn run_activated(
    env: &TestEnv,
    fds: &[RawFd],
    listen: u32,
    right_pid: bool,
    extra: &[&str],
) -> integration_tests::runtime::Running {
    let bundle = env.bundle(&["sh", "-c", SCRIPT]);
    install_fixture(&bundle);
    bundle.save();
    let id = env.id();
    let pid = if right_pid { "$$" } else { "1" };
    let mut args = vec![
        "run".to_string(),
        "--bundle".into(),
        bundle.path_str().into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(id);
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("LISTEN_PID={pid} exec \"$0\" \"$@\""))
        .arg(&env.rt.bin)
        .arg("--root")
        .arg(&env.rt.root)
        .args(&args)
        .env("LISTEN_FDS", listen.to_string())
        .stdin(Stdio::null());
    assert!(fds.len() <= 8, "at most 8 fds");
    let fds = fds.to_vec();
    // SAFETY: only fcntl and dup2 between fork and exec (async-signal-safe). Each fd is first
    // copied above the targets, so none is overwritten before it is placed, and dup2 (to a
    // different number) clears close-on-exec, which dup2 onto the same number would not.
    unsafe {
        cmd.pre_exec(move || {
            let mut copies = [-1; 8];
            for (copy, fd) in copies.iter_mut().zip(&fds) {
                *copy = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100);
                if *copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, copy) in copies.iter().take(fds.len()).enumerate() {
                if libc::dup2(*copy, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let shown: Vec<&str> = args.iter().map(String::as_str).collect();
    env.rt.spawn_with(&mut cmd, &shown)
}

fn accept_through(listener: &UnixListener) -> String {
    let path = listener.local_addr().unwrap();
    let mut conn = UnixStream::connect(path.as_pathname().unwrap()).expect("connecting");
    // A bound, not a timing: a container that never accepts fails the test instead of hanging it.
    conn.set_read_timeout(Some(integration_tests::runtime::COMMAND_TIMEOUT))
        .unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got)
        .expect("reading the container's reply");
    got
}

#[test]
fn an_activated_socket_reaches_the_container_as_fd_3() {
    let env = TestEnv::new("listen-fds");
    let listener = UnixListener::bind(env.dir.join("activated.sock")).unwrap();
    let running = run_activated(&env, &[listener.as_raw_fd()], 1, true, &[]);
    assert_eq!(accept_through(&listener), "accepted on fd 3\n");
    let out = running.wait();
    out.assert_ok("run");
    assert_contains(&out.stdout, "fds=0 1 2 3 \n");
    assert_contains(&out.stdout, "env=LISTEN_FDS:1 LISTEN_PID:1\n");
}

#[test]
fn preserved_fds_follow_the_activated_ones() {
    let env = TestEnv::new("listen-fds-preserve");
    let listener = UnixListener::bind(env.dir.join("activated.sock")).unwrap();
    let file = env.dir.join("preserved");
    std::fs::write(&file, "preserved-content").unwrap();
    let preserved = std::fs::File::open(&file).unwrap();
    let fds = [listener.as_raw_fd(), preserved.as_raw_fd()];
    let running = run_activated(&env, &fds, 1, true, &["--preserve-fds", "1"]);
    assert_eq!(accept_through(&listener), "accepted on fd 3\n");
    let out = running.wait();
    out.assert_ok("run");
    assert_contains(&out.stdout, "fds=0 1 2 3 4 \n");
    assert_contains(&out.stdout, "env=LISTEN_FDS:1 LISTEN_PID:1\n");
    assert_contains(&out.stdout, "fd4=preserved-content\n");
}

/// LISTEN_PID names another process: the fds are not the runtime's to hand on.
#[test]
fn fds_meant_for_another_process_are_not_passed() {
    let env = TestEnv::new("listen-fds-other");
    let listener = UnixListener::bind(env.dir.join("activated.sock")).unwrap();
    let out = run_activated(&env, &[listener.as_raw_fd()], 1, false, &[]).wait();
    out.assert_ok("run");
    assert_contains(&out.stdout, "fds=0 1 2 \n");
    assert_contains(&out.stdout, "env=LISTEN_FDS: LISTEN_PID:\n");
}
