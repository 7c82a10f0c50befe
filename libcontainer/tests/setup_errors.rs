//! Typed errors across the clone: a setup step that fails in the container's process comes
//! back to the embedder as `ProcessError::Setup` with its step, config field and errno, and a
//! step of the runtime's own side (a createRuntime hook) as the container layer's own typed
//! error, reachable through `source()`; a step that fails after `start` comes back as
//! `Error::Start(StartError::Setup)`, the same typed error. Run once as is and once with
//! `BERTH_TEST_FORCE_INIT_EXEC=1` (the exec'd init, a fresh image: the error crosses an
//! execve too). Each failed create must leave no container behind.
//!
//! Its own `main` (harness = false): create refuses to run from an unsealed executable, so
//! this binary seals itself first; the tests run one after the other in this thread. Needs
//! root and busybox-static, as the rest of the suite does.

use libcontainer::errors::{Errno, HookError, ProcessError, SetupError, StartError, Step};
use libcontainer::spec::{HookBuilder, HooksBuilder, MountBuilder, Spec};
use libcontainer::{ContainerBuilder, Error};
use std::error::Error as _;
use std::path::Path;

mod common;
use common::{config, Test};

fn main() {
    let tests: [(&str, Test); 5] = [
        ("missing_program_is_a_typed_exec_error", missing_program),
        ("missing_bind_source_names_the_mount", missing_bind_source),
        ("failing_create_runtime_hook_stays_typed", failing_hook),
        (
            "program_gone_at_start_is_a_typed_exec_error",
            program_gone_at_start,
        ),
        ("cwd_gone_at_start_is_a_typed_cwd_error", cwd_gone_at_start),
    ];
    common::run_sealed("setup-errors", &["true"], &tests);
}

/// Creates `config` as container `name`, which must fail; checks nothing is left of it.
fn create_fails(root: &Path, name: &str, config: Spec) -> Error {
    let id = format!("setup-err-{name}-{}", std::process::id());
    let builder = ContainerBuilder::new(&id)
        .unwrap()
        .root(root)
        .config(config);
    common::create_fails(root, &id, builder)
}

/// The setup error inside `e`, which `source()` must reach as well.
fn setup_error(e: &Error) -> &SetupError {
    let Error::Process(ProcessError::Setup(setup)) = e else {
        panic!("expected Error::Process(ProcessError::Setup(_)), got {e:?}")
    };
    let via_source = e.source().and_then(|s| s.downcast_ref::<SetupError>());
    assert_eq!(via_source, Some(setup), "source() reaches the setup error");
    assert_eq!(e.to_string(), setup.to_string(), "Display is the message");
    setup
}

/// The parts an embedder matches on.
#[track_caller]
fn assert_typed(setup: &SetupError, step: Step, errno: Errno, field: &str) {
    assert_eq!(setup.step(), step, "{setup:?}");
    assert_eq!(setup.errno(), Some(errno), "{setup:?}");
    assert_eq!(setup.field(), Some(field), "{setup:?}");
}

fn missing_program(rootfs: &Path, root: &Path) {
    let e = create_fails(root, "exec", config(rootfs, &["/no/such/program"]));
    let setup = setup_error(&e);
    assert_typed(setup, Step::Exec, Errno::ENOENT, "process.args[0]");
    // runc's words, which engines match on.
    assert_eq!(
        setup.to_string(),
        "exec: \"/no/such/program\": stat /no/such/program: no such file or directory"
    );
}

fn missing_bind_source(rootfs: &Path, root: &Path) {
    let mut config = config(rootfs, &["true"]);
    let mut mounts = config.mounts().clone().unwrap_or_default();
    let index = mounts.len();
    mounts.push(
        MountBuilder::default()
            .destination("/mnt")
            .typ("bind")
            .source(format!("/no/such/source-{}", std::process::id()))
            .options(vec!["rbind".to_string()])
            .build()
            .unwrap(),
    );
    config.set_mounts(Some(mounts));
    let e = create_fails(root, "mount", config);
    let setup = setup_error(&e);
    let field = format!("mounts[{index}]");
    assert_typed(setup, Step::Mounts, Errno::ENOENT, &field);
    assert!(setup.to_string().starts_with(&field), "{setup}");
}

fn failing_hook(rootfs: &Path, root: &Path) {
    let mut config = config(rootfs, &["true"]);
    let hook = HookBuilder::default()
        .path("/bin/sh")
        .args(vec!["sh".into(), "-c".into(), "exit 3".into()])
        .build()
        .unwrap();
    let hooks = HooksBuilder::default()
        .create_runtime(vec![hook])
        .build()
        .unwrap();
    config.set_hooks(Some(hooks));
    let e = create_fails(root, "hook", config);
    let Error::Process(ProcessError::Parent(inner)) = &e else {
        panic!("expected Error::Process(ProcessError::Parent(_)), got {e:?}")
    };
    let typed = |err: &(dyn std::error::Error + 'static)| match err.downcast_ref::<Error>() {
        Some(Error::Hook(HookError::Failed { phase, index, .. })) => (*phase, *index),
        other => panic!("expected the container layer's Error::Hook, got {other:?}"),
    };
    assert_eq!(typed(inner.as_ref()), ("createRuntime", 0));
    let source = e.source().expect("source() of a parent-side failure");
    assert_eq!(typed(source), ("createRuntime", 0));
    assert!(
        e.to_string()
            .starts_with("hooks.createRuntime[0] (/bin/sh): "),
        "{e}"
    );
}

/// Creates `config` (which must succeed), runs `break_it` on the host, then starts, which
/// must fail; checks the init gave up (exit 127) and deletes it. Returns start's error.
fn start_fails(root: &Path, name: &str, config: Spec, break_it: impl FnOnce()) -> Error {
    let id = format!("setup-err-{name}-{}", std::process::id());
    let mut created = ContainerBuilder::new(&id)
        .unwrap()
        .root(root)
        .config(config)
        .create()
        .unwrap_or_else(|e| panic!("{name}: create: {e}"));
    break_it();
    let result = created.start();
    // The init reported and exits 127 without running the program (waited for: right after
    // the report it may not have exited yet).
    let code = created.wait();
    created.delete(true).expect("delete after a failed start");
    let Err(e) = result else {
        panic!("{name}: start succeeded");
    };
    assert_eq!(code.ok(), Some(127), "{name}: {e}");
    e
}

/// The init's setup error inside start's `e`; `source()` must lead to it, through the
/// `StartError`.
fn start_setup_error(e: &Error) -> &SetupError {
    let Error::Start(StartError::Setup(setup)) = e else {
        panic!("expected Error::Start(StartError::Setup(_)), got {e:?}")
    };
    let start = e.source().and_then(|s| s.downcast_ref::<StartError>());
    assert!(matches!(start, Some(StartError::Setup(_))), "{start:?}");
    let via_source = start.and_then(|s| s.source()?.downcast_ref::<SetupError>());
    assert_eq!(via_source, Some(setup), "source() reaches the setup error");
    // What `berth start` prints: engines read the init's words after the prefix.
    assert_eq!(e.to_string(), format!("start: {setup}"));
    setup
}

/// args[0] passes create's lookup, then is removed from the rootfs: the execve after start
/// fails with ENOENT, in the words Docker maps to exit 127.
fn program_gone_at_start(rootfs: &Path, root: &Path) {
    let name = format!("gone-{}", std::process::id());
    let on_host = rootfs.join("bin").join(&name);
    std::os::unix::fs::symlink("busybox", &on_host).unwrap();
    let program = format!("/bin/{name}");
    let config = config(rootfs, &[&program]);
    let e = start_fails(root, "start-exec", config, || {
        std::fs::remove_file(&on_host).unwrap()
    });
    let setup = start_setup_error(&e);
    assert_typed(setup, Step::Exec, Errno::ENOENT, "process.args[0]");
    assert_eq!(
        setup.to_string(),
        format!("exec {program}: no such file or directory")
    );
}

/// process.cwd exists at create and is removed before start: chdir fails in the init.
fn cwd_gone_at_start(rootfs: &Path, root: &Path) {
    let name = format!("cwd-{}", std::process::id());
    let on_host = rootfs.join(&name);
    std::fs::create_dir(&on_host).unwrap();
    let mut config = config(rootfs, &["true"]);
    let cwd = format!("/{name}");
    let process = config.process_mut().as_mut().unwrap();
    process.set_cwd(cwd.clone().into());
    let e = start_fails(root, "start-cwd", config, || {
        std::fs::remove_dir(&on_host).unwrap()
    });
    let setup = start_setup_error(&e);
    assert_typed(setup, Step::Cwd, Errno::ENOENT, "process.cwd");
    assert!(
        setup
            .to_string()
            .starts_with(&format!("process.cwd {cwd}: ")),
        "{setup}"
    );
}
