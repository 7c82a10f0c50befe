//! `ContainerBuilder::executor`: a function of this executable, or a loader from the host, as
//! the container's process, checked from inside it: it runs in the container's namespaces and
//! cwd with the config's environment, in a fresh image (nothing of this process's memory or
//! fds), cannot write the executable it runs from, and its return value is the exit status.
//! A loader runs from an empty rootfs. What cannot work is refused with nothing left behind.
//!
//! Its own `main` (harness = false): create refuses to run from an unsealed executable, so
//! this binary seals itself first; the tests run one after the other in this thread. Needs
//! root and busybox-static, as the rest of the suite does. Run as is and with
//! `BERTH_TEST_FORCE_INIT_EXEC=1` (the loader then also runs from the exec'd init).

use libcontainer::{
    ContainerBuilder, Error, ExecOptions, ExecProcess, Executor, ExecutorContext, ExecutorFn,
    Overrides, Stdio,
};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

mod common;
use common::{config, Cleanup, Test};

/// Set by `main` here; a fresh image of the executable still has it 0.
static SET_BY_MAIN: AtomicU32 = AtomicU32::new(0);

fn main() {
    SET_BY_MAIN.store(99, Ordering::SeqCst);
    let tests: [(&str, Test); 6] = [
        (
            "a_function_is_the_containers_process",
            function_in_container,
        ),
        ("exec_runs_a_function_and_a_loader", exec_executors),
        ("a_panicking_function_exits_101", panicking_function),
        ("a_host_loader_runs_from_an_empty_rootfs", host_loader),
        ("a_script_loader_is_refused", script_loader_refused),
        ("a_library_function_is_refused", library_function_refused),
    ];
    common::run_sealed("executor-test", &["true", "sleep"], &tests);
}

fn id(name: &str) -> String {
    format!("executor-{name}-{}", std::process::id())
}

/// Creates and starts `name` with `executor`, returning its stdout and exit status.
fn run(root: &Path, name: &str, spec: libcontainer::spec::Spec, e: Executor) -> (String, i32) {
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let _cleanup = Cleanup(root, id(name));
    let mut created = ContainerBuilder::new(&id(name))
        .unwrap()
        .root(root)
        .config(spec)
        .stdio(Stdio::default().stdout(out_w))
        .executor(e)
        .create()
        .expect("create");
    created.start().expect("start");
    let mut out = String::new();
    out_r.read_to_string(&mut out).unwrap();
    let status = created.wait().expect("wait");
    created.delete(false).expect("delete");
    (out, status)
}

/// What the function sees of itself, one fact a line.
fn report(ctx: &ExecutorContext) -> i32 {
    let hostname = nix::unistd::gethostname().unwrap_or_default();
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let exe = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/exe");
    let link = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    println!("hostname={}", hostname.to_string_lossy());
    println!("args={:?}", ctx.args());
    println!("payload={}", String::from_utf8_lossy(ctx.payload()));
    println!("env={}", std::env::var("EXECUTOR_TEST").unwrap_or_default());
    println!("cwd={}", std::env::current_dir().unwrap().display());
    println!("pid={}", std::process::id());
    println!("main_ran={}", SET_BY_MAIN.load(Ordering::SeqCst));
    // 0, 1, 2 and read_dir's own: nothing of berth's or of this test's.
    println!("fds={fds}");
    println!("exe_writable={}", exe.is_ok());
    println!("exe_sealed={}", sealed_name(&link.to_string_lossy()));
    7
}

fn function_in_container(rootfs: &Path, root: &Path) {
    let mut spec = config(rootfs, &["report", "two words"]);
    spec.set_hostname(Some("fn-host".into()));
    let process = spec.process_mut().as_mut().unwrap();
    process.set_cwd("/tmp".into());
    let mut env = process.env().clone().unwrap_or_default();
    env.push("EXECUTOR_TEST=from-config".into());
    process.set_env(Some(env));
    let f: ExecutorFn = report;
    let (out, status) = run(root, "fn", spec, Executor::function(f, b"pay".to_vec()));
    let expected = [
        "hostname=fn-host",
        "args=[\"report\", \"two words\"]",
        "payload=pay",
        "env=from-config",
        "cwd=/tmp",
        "pid=1",
        "main_ran=0",
        "fds=4",
        "exe_writable=false",
        "exe_sealed=true",
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{out}");
    assert_eq!(status, 7);
}

/// `berth exec`'s path: the function joins a running container (not its pid 1), and a loader
/// gets its own arguments before the exec's.
fn exec_executors(rootfs: &Path, root: &Path) {
    let _cleanup = Cleanup(root, id("exec"));
    let mut spec = config(rootfs, &["sleep", "300"]);
    spec.set_hostname(Some("exec-host".into()));
    let mut created = ContainerBuilder::new(&id("exec"))
        .unwrap()
        .root(root)
        .config(spec)
        .create()
        .expect("create");
    created.start().expect("start");
    let exec = |args: &[&str], executor: Executor| {
        let (mut out_r, out_w) = std::io::pipe().unwrap();
        let mut opts = ExecOptions::new(ExecProcess::Overrides(Overrides::command(args)));
        opts.stdio = Stdio::default().stdout(out_w);
        opts.executor = executor;
        let child = created.container().exec(opts).expect("exec");
        let mut out = String::new();
        out_r.read_to_string(&mut out).unwrap();
        (out, child.wait().expect("wait"))
    };
    let (out, status) = exec(&["in-exec"], Executor::function(report, b"e".to_vec()));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(status, 7, "{out}");
    for want in [
        "hostname=exec-host",
        "args=[\"in-exec\"]",
        "payload=e",
        "main_ran=0",
    ] {
        assert!(lines.contains(&want), "{want} not in {out}");
    }
    assert!(!lines.contains(&"pid=1"), "{out}");
    let loader = Executor::host_program("/bin/busybox", ["sh"]);
    let (out, status) = exec(&["-c", "echo exec-loader $0", "one"], loader);
    assert_eq!((out.as_str(), status), ("exec-loader one\n", 0));
    common::kill_and_delete(created);
}

fn panics(_: &ExecutorContext) -> i32 {
    panic!("executor test panic")
}

fn panicking_function(rootfs: &Path, root: &Path) {
    let (out, status) = run(
        root,
        "panic",
        config(rootfs, &["x"]),
        Executor::function(panics, Vec::new()),
    );
    assert_eq!((out.as_str(), status), ("", 101));
}

/// A rootfs with no program at all: the loader (busybox, static) comes from the host. Its
/// /proc/self/exe is a sealed view, not the host's file.
fn host_loader(rootfs: &Path, root: &Path) {
    let empty = rootfs.parent().unwrap().join("empty-rootfs");
    for d in ["proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(empty.join(d)).unwrap();
    }
    let script = "echo \"loaded as $0 in $PWD\"; \
                  if echo x >> /proc/self/exe; then echo WROTE; else echo refused; fi; readlink /proc/self/exe; exit 5";
    let mut spec = config(&empty, &["-c", script]);
    spec.process_mut().as_mut().unwrap().set_cwd("/tmp".into());
    let e = Executor::host_program("/bin/busybox", ["sh"]);
    let (out, status) = run(root, "loader", spec, e);
    assert!(!empty.join("bin").exists());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["loaded as sh in /tmp", "refused"], "{out}");
    assert!(sealed_name(lines[2]), "/proc/self/exe is {:?}", lines[2]);
    assert_eq!((lines.len(), status), (3, 5));
}

/// How the kernel names a sealed view: the root of a detached mount ("/"), or a memfd. Not
/// the host's file.
fn sealed_name(link: &str) -> bool {
    link == "/" || link.starts_with("/memfd:")
}

fn create_fails(root: &Path, name: &str, spec: libcontainer::spec::Spec, e: Executor) -> Error {
    let builder = ContainerBuilder::new(&id(name))
        .unwrap()
        .root(root)
        .config(spec)
        .executor(e);
    common::create_fails(root, &id(name), builder)
}

fn script_loader_refused(rootfs: &Path, root: &Path) {
    let script = rootfs.parent().unwrap().join("loader.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let e = Executor::host_program(&script, ["x"]);
    let err = create_fails(root, "script", config(rootfs, &["true"]), e);
    assert!(matches!(err, Error::Executor(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&script.display().to_string()) && text.contains("not an ELF executable"),
        "{text}"
    );
}

fn library_function_refused(rootfs: &Path, root: &Path) {
    // SAFETY: only the address is used (create refuses it); it is never called.
    let f: ExecutorFn = unsafe { std::mem::transmute(libc::getpid as *const ()) };
    let err = create_fails(
        root,
        "libfn",
        config(rootfs, &["true"]),
        Executor::function(f, Vec::new()),
    );
    assert!(
        err.to_string().contains("not code of the executable"),
        "{err}"
    );
}
