//! What the library's own-`main` tests share: sealing the test binary (create and exec refuse
//! an unsealed executable, as every embedder learns), a busybox-static rootfs, and berth's
//! default config pointed at it. Each test runs in the single main thread, one after another.

// Each test binary uses a part of this.
#![allow(dead_code)]

use libcontainer::spec::{RootBuilder, Spec};
use libcontainer::{Container, ContainerBuilder, Created, Error};
use std::path::Path;

/// A test: the rootfs and the state root.
pub type Test = fn(&Path, &Path);

/// Seals this binary, makes a rootfs with busybox and `applets` under a fresh temp dir named
/// after `name`, runs `tests` in order (a failing one panics, failing the binary) and removes
/// the dir.
pub fn run_sealed(name: &str, applets: &[&str], tests: &[(&str, Test)]) {
    libcontainer::ensure_sealed_exe().expect("sealing the test binary");
    let dir = std::env::temp_dir().join(format!("berth-{name}-{}", std::process::id()));
    let rootfs = dir.join("rootfs");
    make_rootfs(&rootfs, applets);
    let root = dir.join("state");
    for (name, test) in tests {
        test(&rootfs, &root);
        println!("test {name} ... ok");
    }
    std::fs::remove_dir_all(&dir).expect("removing the test dir");
}

/// busybox-static and the applets the tests run, nothing else.
fn make_rootfs(rootfs: &Path, applets: &[&str]) {
    for d in ["bin", "proc", "dev", "sys", "tmp", "mnt"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static (apt-get install busybox-static)");
    std::fs::copy(bb, rootfs.join("bin/busybox")).unwrap();
    for applet in applets {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
}

/// berth's default config running `args` from `rootfs` (absolute: no bundle directory).
pub fn config(rootfs: &Path, args: &[&str]) -> Spec {
    let mut config = libcontainer::spec::default_spec(false);
    let root = RootBuilder::default().path(rootfs).build().unwrap();
    config.set_root(Some(root));
    let process = config.process_mut().as_mut().unwrap();
    process.set_terminal(Some(false));
    process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
    config
}

/// Force-deletes container `.1` under root `.0` when dropped, so a test that fails half-way
/// leaves nothing behind.
pub struct Cleanup<'a>(pub &'a Path, pub String);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Ok(c) = Container::load(self.0, &self.1) {
            let _ = c.delete(true);
        }
    }
}

/// `builder` (container `id` under `root`) must fail to create; checks that nothing is left of
/// it, and returns the error.
pub fn create_fails(root: &Path, id: &str, builder: ContainerBuilder) -> Error {
    let Err(e) = builder.create() else {
        let _ = Container::load(root, id).map(|c| c.delete(true));
        panic!("{id}: create succeeded");
    };
    assert!(
        matches!(Container::load(root, id), Err(Error::NotFound(_))),
        "{id}: the failed create left the container behind"
    );
    e
}

/// Kills a started container's init, reaps it and deletes the container.
pub fn kill_and_delete(created: Created) {
    created
        .container()
        .kill(libcontainer::Signal::SIGKILL, false)
        .unwrap();
    created.wait().unwrap();
    created.delete(false).expect("delete");
}
