use super::*;
use oci_spec::runtime::HookBuilder;
use std::path::{Path, PathBuf};

/// A per-test directory removed on drop, even when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("berth-hooks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes an executable script through a shell so that no file descriptor open for writing
/// is ever held by this (multi-threaded, forking) test process: a sibling test's fork would
/// inherit it and make exec fail with ETXTBSY.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    let mut sh = Command::new("/bin/sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin
        .take()
        .unwrap()
        .write_all(format!("#!/bin/sh\n{body}\n").as_bytes())
        .unwrap();
    assert!(sh.wait().unwrap().success());
    path
}

fn hook(path: &Path, args: Option<&[&str]>, env: Option<&[&str]>, timeout: Option<i64>) -> Hook {
    let mut b = HookBuilder::default().path(path);
    if let Some(a) = args {
        b = b.args(a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    if let Some(e) = env {
        b = b.env(e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().unwrap()
}

#[test]
fn state_on_stdin_exact_env_and_args() {
    let dir = TempDir::new("stdin");
    let d = dir.0.display();
    // A shell rather than a script: the kernel replaces a script's argv[0] with the
    // interpreter's, and argv[0] is what is checked here (through /proc/$$/cmdline).
    let cmd = format!("cat > {d}/state; cat /proc/$$/cmdline > {d}/argv; export -p > {d}/env");
    let sh = Path::new("/bin/sh");
    let state = br#"{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;
    let args = ["myhook", "-c", &cmd, "x"];
    let h = hook(sh, Some(&args), Some(&["FOO=bar=baz", "EMPTY="]), None);
    run_hooks("createRuntime", &[h], state).unwrap();
    assert_eq!(std::fs::read(dir.0.join("state")).unwrap(), state);
    let argv = std::fs::read(dir.0.join("argv")).unwrap();
    assert_eq!(argv, format!("myhook\0-c\0{cmd}\0x\0").as_bytes());
    let env = std::fs::read_to_string(dir.0.join("env")).unwrap();
    assert!(
        env.contains("FOO='bar=baz'") || env.contains("FOO=\"bar=baz\""),
        "{env}"
    );
    assert!(env.contains("EMPTY="), "{env}");
    // The test binary runs with cargo's variables; none may reach the hook.
    assert!(!env.contains("CARGO"), "{env}");
}

#[test]
fn argv0_defaults_to_the_path_and_env_to_empty() {
    let dir = TempDir::new("argv0");
    let d = dir.0.display();
    // Without args, /bin/sh reads its commands from stdin: here the "state" is the script.
    let cmds = format!("cat /proc/$$/cmdline > {d}/argv; export -p > {d}/env\n");
    let h = hook(Path::new("/bin/sh"), None, None, None);
    run_hooks("poststart", &[h], cmds.as_bytes()).unwrap();
    assert_eq!(std::fs::read(dir.0.join("argv")).unwrap(), b"/bin/sh\0");
    let env = std::fs::read_to_string(dir.0.join("env")).unwrap();
    assert!(!env.contains("CARGO") && !env.contains("HOME="), "{env}");
}

#[test]
fn a_failing_hook_is_named_and_stops_the_list() {
    let dir = TempDir::new("fail");
    let ok = script(&dir.0, "ok", "exit 0");
    let bad = script(&dir.0, "bad", "exit 3");
    let never = script(&dir.0, "never", &format!("touch {}/ran", dir.0.display()));
    let hooks = [
        hook(&ok, None, None, None),
        hook(&bad, None, None, None),
        hook(&never, None, None, None),
    ];
    let e = run_hooks("prestart", &hooks, b"{}")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "hooks.prestart[1] ({}): exited with status 3",
            bad.display()
        )
    );
    assert!(!dir.0.join("ran").exists());

    let killed = script(&dir.0, "killed", "kill -9 $$");
    let e = run_hooks("poststop", &[hook(&killed, None, None, None)], b"{}").unwrap_err();
    assert!(
        e.to_string().ends_with("): killed by signal SIGKILL"),
        "{e}"
    );

    let missing = dir.0.join("missing");
    let e = run_hooks("poststop", &[hook(&missing, None, None, None)], b"{}").unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot execute: No such file or directory"),
        "{e}"
    );
}

#[test]
fn a_hook_past_its_timeout_is_killed() {
    let dir = TempDir::new("timeout");
    let d = dir.0.display();
    // The hook records its pid so the test can check it is really gone.
    let path = script(&dir.0, "slow", &format!("echo $$ > {d}/pid; exec sleep 10"));
    let start = Instant::now();
    let e = run_hooks("startContainer", &[hook(&path, None, None, Some(1))], b"{}").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "hooks.startContainer[0] ({}): timed out after 1s",
            path.display()
        )
    );
    // Generous bound: only "not the full 10s" matters here.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
    let pid: i32 = std::fs::read_to_string(dir.0.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err();
    assert!(gone, "hook process {pid} still exists");
}

#[test]
fn a_hook_that_ignores_a_large_state_succeeds() {
    let dir = TempDir::new("ignore");
    let path = script(&dir.0, "h", "sleep 0.1; exit 0");
    // Far bigger than a pipe buffer: a blocking write would hang forever.
    let big = vec![b'x'; 4 << 20];
    run_hooks("createContainer", &[hook(&path, None, None, Some(5))], &big).unwrap();
}

#[test]
fn validation_names_the_phase_and_index() {
    let hooks: Hooks = serde_json::from_value(serde_json::json!({
        "createRuntime": [{"path": "/bin/true"}, {"path": "/bin/true", "timeout": 0}]
    }))
    .unwrap();
    let e = validate_hooks(Some(&hooks)).unwrap_err().to_string();
    assert_eq!(
        e,
        "hooks.createRuntime[1] (/bin/true): timeout must be greater than zero, got 0"
    );

    let hooks: Hooks =
        serde_json::from_value(serde_json::json!({"poststop": [{"path": "bin/true"}]})).unwrap();
    let e = validate_hooks(Some(&hooks)).unwrap_err().to_string();
    assert_eq!(e, "hooks.poststop[0] (bin/true): path must be absolute");

    let hooks: Hooks = serde_json::from_value(
        serde_json::json!({"prestart": [{"path": "/bin/true", "env": ["NOEQUALS"]}]}),
    )
    .unwrap();
    let e = validate_hooks(Some(&hooks)).unwrap_err().to_string();
    assert_eq!(
        e,
        "hooks.prestart[0] (/bin/true): env entry \"NOEQUALS\" is not KEY=VALUE"
    );
    validate_hooks(None).unwrap();
}

#[test]
fn a_huge_timeout_is_no_panic() {
    // Instant + i64::MAX seconds overflows: the hook must simply run without a deadline.
    run_hooks(
        "prestart",
        &[hook(Path::new("/bin/true"), None, None, Some(i64::MAX))],
        b"{}",
    )
    .unwrap();
    let e = run_hooks(
        "prestart",
        &[hook(Path::new("/bin/false"), None, None, Some(i64::MAX))],
        b"{}",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "hooks.prestart[0] (/bin/false): exited with status 1"
    );
}
