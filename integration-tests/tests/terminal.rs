//! Issue 2 item 5, terminal and stdio: with `terminal: true` the pty master reaches the
//! --console-socket by SCM_RIGHTS, as engines expect; without, stdio passes straight through.

use integration_tests::{assert_contains, console::receive_fd, host, TestEnv};
use serde_json::json;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::process::Stdio;

#[test]
fn stdio_passes_straight_through() {
    let env = TestEnv::new("stdio_passes_straight_through");
    let b = env.bundle(&[
        "sh",
        "-c",
        "cat; echo to-stderr >&2; test -t 0 || echo not-a-tty",
    ]);
    b.save();
    let input = env.dir.join("stdin");
    std::fs::write(&input, "from stdin\n").unwrap();
    let id = env.id();
    let args = ["run", "-b", b.path_str(), &id];
    let mut cmd = env.rt.command();
    cmd.args(args)
        .stdin(Stdio::from(File::open(&input).unwrap()));
    let out = env.rt.spawn_with(&mut cmd, &args).wait();
    out.assert_ok("run");
    assert_eq!(out.stdout, "from stdin\nnot-a-tty\n");
    assert_contains(&out.stderr, "to-stderr");
}

#[test]
fn console_socket_receives_the_pty_master() {
    let env = TestEnv::new("console_socket_pty_master");
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "tty; test -t 0 && test -t 1 && test -t 2 && echo all-ttys",
    ]);
    b.process()["terminal"] = json!(true);
    b.save();
    let id = env.id();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let sock_arg = sock.to_str().unwrap();
    env.rt
        .run_cmd(&[
            "create",
            "--console-socket",
            sock_arg,
            "-b",
            b.path_str(),
            &id,
        ])
        .assert_ok("create");
    let mut master = receiver.join().expect("receiving the pty master");
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "stopped");
    // The slave side is closed once the container exited: read until EIO.
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = master.read(&mut chunk) {
        out.extend_from_slice(&chunk[..n]);
    }
    let out = String::from_utf8_lossy(&out);
    assert_contains(&out, "/dev/pts/0");
    assert_contains(&out, "all-ttys");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    let env = TestEnv::new("terminal_without_console_socket");
    let mut b = env.bundle(&["true"]);
    b.process()["terminal"] = json!(true);
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "-b", b.path_str(), &id]);
    out.assert_fails_naming(&["console-socket", "console socket"]);
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// `run`s a container printing what it reads from fds 3 and 4, with the runtime given two
/// files there and `extra` arguments.
fn run_with_fds_3_and_4(env: &TestEnv, extra: &[&str]) -> integration_tests::Out {
    use std::os::unix::process::CommandExt;
    let b = env.bundle(&["sh", "-c", "cat <&3; cat <&4"]);
    b.save();
    let (three, four) = (env.dir.join("three"), env.dir.join("four"));
    std::fs::write(&three, "fd three\n").unwrap();
    std::fs::write(&four, "fd four\n").unwrap();
    let (f3, f4) = (File::open(&three).unwrap(), File::open(&four).unwrap());
    let (raw3, raw4) = (f3.as_raw_fd(), f4.as_raw_fd());
    let id = env.id();
    let mut args = vec!["run"];
    args.extend(extra);
    args.extend(["-b", b.path_str(), &id]);
    let mut cmd = env.rt.command();
    cmd.args(&args).stdin(Stdio::null());
    // SAFETY: fcntl, dup2 and close are async-signal-safe; the fds stay open in the parent
    // until spawn returns. Going through fds >= 100 first keeps one target from clobbering the
    // other source.
    unsafe {
        cmd.pre_exec(move || {
            use nix::libc::{close, dup2, fcntl, F_DUPFD};
            let check = |r: i32| {
                if r < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(r)
                }
            };
            let (a, b) = (
                check(fcntl(raw3, F_DUPFD, 100))?,
                check(fcntl(raw4, F_DUPFD, 100))?,
            );
            check(dup2(a, 3))?;
            check(dup2(b, 4))?;
            close(a);
            close(b);
            Ok(())
        });
    }
    let out = env.rt.spawn_with(&mut cmd, &args).wait();
    drop((f3, f4));
    out
}

#[test]
fn preserve_fds_passes_extra_fds() {
    let env = TestEnv::new("preserve_fds_passes_extra_fds");
    let out = run_with_fds_3_and_4(&env, &["--preserve-fds", "2"]);
    out.assert_ok("run --preserve-fds 2");
    assert_eq!(out.stdout, "fd three\nfd four\n");
}

#[test]
fn extra_fds_are_not_leaked_without_preserve_fds() {
    let env = TestEnv::new("extra_fds_not_leaked");
    let out = run_with_fds_3_and_4(&env, &[]);
    assert!(!out.stdout.contains("fd three"), "{out:#?}");
    assert!(!out.stdout.contains("fd four"), "{out:#?}");
}

/// Runs `line` (a shell command line) under `script`, which gives it a terminal as its stdin
/// and stdout, feeding `input`; returns what appeared on the terminal and the exit code.
fn under_script(line: &str, input: &str) -> (String, Option<i32>) {
    use std::io::Write;
    let mut child = std::process::Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running script (bsdutils)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        text + &String::from_utf8_lossy(&out.stderr),
        out.status.code(),
    )
}

/// The runtime's command line for `script`, with --root.
fn runtime_line(env: &TestEnv, args: &str) -> String {
    format!(
        "{} --root {} {args}",
        env.rt.bin.display(),
        env.rt.root.display()
    )
}

/// `exec -t` without --console-socket: the runtime holds the pty and relays the caller's
/// terminal to it (runc does), passing input through, the exit code back, and leaving the
/// caller's terminal settings as they were.
#[test]
fn exec_tty_without_console_socket_relays_the_terminal() {
    let env = TestEnv::new("exec_tty_relay");
    let b = env.bundle(&["sleep", "300"]);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    let exec = runtime_line(&env, &format!("exec -t {id} sh"));
    let line = format!("stty -g; {exec}; echo rc=$?; stty -g");
    let (out, code) = under_script(
        &line,
        "test -t 0 && echo in-a-tty\necho $((6*7))-relayed\nexit 5\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert_contains(&out, "in-a-tty");
    assert_contains(&out, "42-relayed");
    assert_contains(&out, "rc=5");
    let settings: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| l.matches(':').count() > 10)
        .collect();
    assert_eq!(settings.len(), 2, "{out}");
    assert_eq!(settings[0], settings[1], "terminal not restored:\n{out}");
}

/// `run` of a `terminal: true` config without --console-socket: relayed the same way.
#[test]
fn run_tty_without_console_socket_relays_the_terminal() {
    let env = TestEnv::new("run_tty_relay");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo run-in-a-tty; exit 4",
    ]);
    b.process()["terminal"] = json!(true);
    b.save();
    let id = env.id();
    let line = runtime_line(&env, &format!("run -b {} {id}", b.path_str()));
    let (out, code) = under_script(&line, "");
    assert_eq!(code, Some(4), "{out}");
    assert_contains(&out, "run-in-a-tty");
}

/// With --detach nothing would hold the terminal: refused (runc refuses too).
#[test]
fn exec_tty_detached_without_console_socket_is_refused() {
    let env = TestEnv::new("exec_tty_detached");
    let b = env.bundle(&["sleep", "300"]);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    env.wait_status(&id, "running");
    let out = env.rt.run_cmd(&["exec", "-d", "-t", &id, "true"]);
    out.assert_fails_naming(&["console-socket", "console socket"]);
}
