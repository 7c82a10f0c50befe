//! Path resolution inside the rootfs: the openat2 path and the component walk used where the
//! kernel has no openat2 must land on the same file, and neither may leave the root.

use super::super::paths::{self, Kind};
use super::TempDir;
use crate::identity::test_fork;
use nix::errno::Errno;
use nix::sys::stat::fstat;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::Path;

/// root/a/b (a dir), root/f (a file), and symlinks that try to leave: a relative one climbing
/// past the root, an absolute one, a chain, and a loop. Outside the root, a decoy `a/b` that
/// any escape would reach.
fn tree() -> (TempDir, OwnedFd) {
    let t = TempDir::new("paths");
    let root = t.0.join("root");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir_all(t.0.join("a/b/decoy")).unwrap();
    std::fs::write(root.join("f"), "").unwrap();
    symlink("../../..", root.join("a/up")).unwrap();
    symlink("/a", root.join("abs")).unwrap();
    symlink("abs/b", root.join("chain")).unwrap();
    symlink("loop", root.join("loop")).unwrap();
    let fd = paths::open_dir(&root).unwrap();
    (t, fd)
}

fn id(fd: &OwnedFd) -> (u64, u64) {
    let st = fstat(fd).unwrap();
    (st.st_dev, st.st_ino)
}

const SAME_AS_A_B: [&str; 6] = [
    "/a/b",
    "a/up/a/b",
    "/abs/b",
    "/chain",
    "/../../a/b",
    "/a/./b/../b",
];

#[test]
fn the_walk_and_openat2_agree_and_stay_inside() {
    let (_t, root) = tree();
    let want = id(&paths::resolve(&root, Path::new("/a/b")).unwrap());
    for p in SAME_AS_A_B {
        let by_kernel = paths::resolve(&root, Path::new(p)).unwrap();
        let by_walk = paths::walk_in_root(&root, Path::new(p), None).unwrap();
        assert_eq!(id(&by_kernel), want, "openat2 {p}");
        assert_eq!(id(&by_walk), want, "walk {p}");
    }
    for (p, err) in [("/missing", Errno::ENOENT), ("/a/missing/x", Errno::ENOENT)] {
        assert_eq!(
            paths::walk_in_root(&root, Path::new(p), None).err(),
            Some(err),
            "{p}"
        );
    }
    assert_eq!(
        paths::walk_in_root(&root, Path::new("/loop"), None).err(),
        Some(Errno::ELOOP)
    );
    // A file in the middle of a path is not a directory.
    assert!(paths::walk_in_root(&root, Path::new("/f/x"), None).is_err());
}

#[test]
fn the_walk_creates_what_is_missing_inside() {
    let (t, root) = tree();
    paths::walk_in_root(&root, Path::new("/a/up/new/dir"), Some(Kind::Dir)).unwrap();
    assert!(t.0.join("root/new/dir").is_dir());
    assert!(!t.0.join("new").exists(), "created outside the root");
}

/// The dispatch: with openat2 refused (ENOSYS, as a kernel before 5.6 answers), resolve still
/// finds the same files through the walk.
#[test]
fn resolve_walks_where_openat2_is_refused() {
    let (_t, root) = tree();
    let want = id(&paths::resolve(&root, Path::new("/a/b")).unwrap());
    test_fork::in_child(move || {
        test_fork::refuse_with_enosys(libc::SYS_openat2)?;
        for p in SAME_AS_A_B {
            let got = paths::resolve(&root, Path::new(p)).map_err(|e| format!("{p}: {e}"))?;
            if id(&got) != want {
                return Err(format!("{p} resolved elsewhere"));
            }
        }
        match paths::resolve(&root, Path::new("/missing")) {
            Err(Errno::ENOENT) => Ok(()),
            other => Err(format!("/missing: {other:?}")),
        }
    });
}
