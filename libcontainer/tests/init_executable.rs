//! `ContainerBuilder::init_executable` / `ExecOptions::init_executable`: the container's
//! processes start by exec'ing another executable that links libcontainer (what an embedder
//! whose own executable does not link it needs). Checked from the host while the init waits
//! for `start`: it is that executable (its inode), exec'd as the init; without the option,
//! this single-threaded program's init is a plain clone of itself. A program without
//! libcontainer, and a function executor with another init, are refused, leaving nothing.
//!
//! Its own `main` (harness = false): create refuses to run from an unsealed executable, so
//! this binary seals itself first; the tests run one after the other in this thread. Needs
//! root and busybox-static, as the rest of the suite does.

use libcontainer::errors::InitExecutableError;
use libcontainer::{
    Container, ContainerBuilder, Error, ExecOptions, ExecProcess, Executor, Overrides, Stdio,
};
use std::error::Error as _;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

mod common;
use common::{config, Cleanup, Test};

fn main() {
    let tests: [(&str, Test); 3] = [
        (
            "the_named_executable_is_the_init",
            named_executable_is_the_init,
        ),
        (
            "a_program_without_libcontainer_is_refused",
            without_libcontainer,
        ),
        ("a_function_with_another_init_is_refused", function_refused),
    ];
    common::run_sealed("init-exe-test", &["sh", "sleep", "true"], &tests);
}

fn id(name: &str) -> String {
    format!("init-exe-{name}-{}", std::process::id())
}

/// This test program's file (argv[0]: cargo runs it by its path; the sealing re-exec keeps
/// argv), and a copy of it next to the rootfs: another file with libcontainer in it.
fn this_and_a_copy(rootfs: &Path) -> (PathBuf, PathBuf) {
    let this = PathBuf::from(std::env::args_os().next().expect("argv[0]"));
    let copy = rootfs.parent().unwrap().join("init-copy");
    std::fs::copy(&this, &copy).expect("copy the test binary");
    (this, copy)
}

/// The init of a created container, seen from the host: its argv[0] and its executable's inode.
fn init_image(c: &Container) -> (String, u64) {
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", c.pid())).unwrap();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let ino = std::fs::metadata(format!("/proc/{}/exe", c.pid()))
        .unwrap()
        .ino();
    (String::from_utf8_lossy(argv0).into_owned(), ino)
}

fn named_executable_is_the_init(rootfs: &Path, root: &Path) {
    let (this, copy) = this_and_a_copy(rootfs);
    let (this_ino, copy_ino) = (
        std::fs::metadata(&this).unwrap().ino(),
        std::fs::metadata(&copy).unwrap().ino(),
    );
    for (name, init) in [("plain", None), ("named", Some(&copy))] {
        let _cleanup = Cleanup(root, id(name));
        let (mut out_r, out_w) = std::io::pipe().unwrap();
        let mut builder = ContainerBuilder::new(&id(name))
            .unwrap()
            .root(root)
            .config(config(rootfs, &["sh", "-c", "echo started"]))
            .stdio(Stdio::default().stdout(out_w));
        if let Some(path) = init {
            builder = builder.init_executable(path);
        }
        let mut created = builder.create().expect("create");
        let (argv0, ino) = init_image(created.container());
        match init {
            None => assert_eq!(
                (argv0.as_str() != "libcontainer-exec-init", ino),
                (true, this_ino)
            ),
            Some(_) => assert_eq!((argv0.as_str(), ino), ("libcontainer-exec-init", copy_ino)),
        }
        created.start().expect("start");
        let mut out = String::new();
        out_r.read_to_string(&mut out).unwrap();
        assert_eq!((out.as_str(), created.wait().unwrap()), ("started\n", 0));
        created.delete(false).expect("delete");
    }
    // exec takes it too: a process runs through the copy.
    let _cleanup = Cleanup(root, id("exec"));
    let mut created = ContainerBuilder::new(&id("exec"))
        .unwrap()
        .root(root)
        .config(config(rootfs, &["sleep", "300"]))
        .create()
        .expect("create");
    created.start().expect("start");
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let mut opts = ExecOptions::new(ExecProcess::Overrides(Overrides::command([
        "sh",
        "-c",
        "echo via-copy",
    ])));
    opts.stdio = Stdio::default().stdout(out_w);
    opts.init_executable = Some(copy.clone());
    let child = created.container().exec(opts).expect("exec");
    let mut out = String::new();
    out_r.read_to_string(&mut out).unwrap();
    assert_eq!((out.as_str(), child.wait().unwrap()), ("via-copy\n", 0));
    // A program without libcontainer named for exec: refused, nothing run.
    let mut opts = ExecOptions::new(ExecProcess::Overrides(Overrides::command(["true"])));
    opts.init_executable = Some("/bin/busybox".into());
    let e = created.container().exec(opts).unwrap_err();
    assert!(init_error(&e).is_some(), "{e:?}");
    common::kill_and_delete(created);
}

/// The typed error in `e`'s source chain, if there is one.
fn init_error(e: &Error) -> Option<&InitExecutableError> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(found) = s.downcast_ref::<InitExecutableError>() {
            return Some(found);
        }
        source = s.source();
    }
    None
}

fn without_libcontainer(rootfs: &Path, root: &Path) {
    let builder = ContainerBuilder::new(&id("busybox"))
        .unwrap()
        .root(root)
        .config(config(rootfs, &["true"]))
        .init_executable("/bin/busybox");
    let e = common::create_fails(root, &id("busybox"), builder);
    let typed = init_error(&e).unwrap_or_else(|| panic!("not typed: {e:?}"));
    assert_eq!(typed.path(), Path::new("/bin/busybox"));
    assert!(e.to_string().contains("does not link libcontainer"), "{e}");
}

fn function_refused(rootfs: &Path, root: &Path) {
    let (_, copy) = this_and_a_copy(rootfs);
    let builder = ContainerBuilder::new(&id("fn"))
        .unwrap()
        .root(root)
        .config(config(rootfs, &["true"]))
        .executor(Executor::function(|_| 0, Vec::new()))
        .init_executable(copy);
    let e = common::create_fails(root, &id("fn"), builder);
    assert!(matches!(e, Error::Executor(_)), "{e:?}");
    assert!(e.to_string().contains("init executable"), "{e}");
}
