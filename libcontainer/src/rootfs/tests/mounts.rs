//! Single mount entries and paths: symlinked destinations, bind flags, tmpcopyup, errors.

use super::super::{finish_rootfs, pivot_rootfs, prepare_rootfs};
use super::{
    assert_nothing_mounted_under, bundle, check, check_char_device, check_fs, err, expect_erofs,
    expect_writable, in_child, mount_at, spec,
};
use crate::identity::test_fork;
use nix::sys::stat::stat;
use nix::sys::statvfs::{statvfs, FsFlags};
use std::os::unix::fs::symlink;
use std::path::Path;

#[test]
fn symlinked_destinations_stay_inside_the_rootfs() {
    let b = bundle("symlinks");
    let outside = b.dir.0.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(b.dir.0.join("hosts"), "127.0.0.1 inside\n").unwrap();
    let escape = format!("berth-escape-{}", std::process::id());
    symlink(format!("/etc/../../{escape}"), b.rootfs.join("evil")).unwrap();
    symlink(&outside, b.rootfs.join("abs")).unwrap();
    let s = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [
          {"destination": "/proc", "type": "proc", "source": "proc"},
          {"destination": "/evil", "type": "tmpfs", "source": "tmpfs"},
          {"destination": "/abs/inner", "type": "tmpfs", "source": "tmpfs"},
          {"destination": "/files/hosts", "type": "bind", "source": "hosts", "options": ["ro"]}]}"#,
    );
    let inside_outside = b.rootfs.join(outside.strip_prefix("/").unwrap());
    in_child(false, || {
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        mount_at(&b.rootfs.join(&escape))?;
        mount_at(&inside_outside.join("inner"))?;
        check(!outside.join("inner").exists(), || {
            "created on the host".into()
        })?;
        check(!Path::new("/").join(&escape).exists(), || {
            "escaped to /".into()
        })?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        check_fs(&format!("/{escape}"), "tmpfs", false)?;
        let hosts = std::fs::read_to_string("/files/hosts").map_err(err("read /files/hosts"))?;
        check(hosts == "127.0.0.1 inside\n", || {
            format!("/files/hosts: {hosts:?}")
        })?;
        expect_erofs("/files/hosts")
    });
    assert!(!outside.join("inner").exists());
    assert!(!Path::new("/").join(&escape).exists());
    assert_nothing_mounted_under(&b.dir.0);
}

/// Read-only paths follow symlinks inside the rootfs; a masked path that is a symlink is
/// masked itself, never its target (the mask must land where the config says).
#[test]
fn readonly_paths_resolve_symlinks_inside_and_masks_do_not_follow_them() {
    readonly_and_masked_paths(Kernel::New);
}

/// The same on a kernel without openat2 (5.6) and mount_setattr (5.12): the walk resolves the
/// paths, a bind remount makes them read-only.
#[test]
fn readonly_and_masked_paths_without_openat2_or_mount_setattr() {
    readonly_and_masked_paths(Kernel::NoSetattr);
}

/// And before the mount API (5.2): mount(2) through /proc/self/fd, found again by path.
#[test]
fn readonly_and_masked_paths_without_the_mount_api() {
    readonly_and_masked_paths(Kernel::NoMountApi);
}

#[derive(Clone, Copy, PartialEq)]
enum Kernel {
    New,
    NoSetattr,
    NoMountApi,
}

fn readonly_and_masked_paths(kernel: Kernel) {
    let b = bundle("paths");
    for dir in ["target", "secret", "other"] {
        std::fs::create_dir_all(b.rootfs.join(dir)).unwrap();
    }
    std::fs::write(b.rootfs.join("secret/key"), "k").unwrap();
    symlink("/../../target", b.rootfs.join("link")).unwrap();
    symlink("../../../secret", b.rootfs.join("mlink")).unwrap();
    std::fs::create_dir_all(b.rootfs.join("masked")).unwrap();
    std::fs::write(b.rootfs.join("masked/f"), "f").unwrap();
    let s = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"readonlyPaths": ["/link"], "maskedPaths": ["/mlink", "/masked"]}}"#,
    );
    in_child(false, || {
        if kernel != Kernel::New {
            test_fork::refuse_with_enosys(libc::SYS_openat2)?;
            test_fork::refuse_with_enosys(libc::SYS_mount_setattr)?;
        }
        if kernel == Kernel::NoMountApi {
            for nr in [libc::SYS_open_tree, libc::SYS_move_mount, libc::SYS_fsopen] {
                test_fork::refuse_with_enosys(nr)?;
            }
        }
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        finish_rootfs(&s).map_err(err("finish"))?;
        expect_erofs("/target/f")?;
        expect_writable("/other/f")?;
        let key = std::fs::read_to_string("/secret/key").map_err(err("read /secret/key"))?;
        check(key == "k", || {
            "the mask followed the symlink to /secret".into()
        })?;
        check_char_device("/mlink", 0o666, (1, 3), (0, 0))?;
        let listing = std::fs::read_dir("/masked")
            .map_err(err("read /masked"))?
            .count();
        check(listing == 0, || "/masked is not masked".into())
    });
    assert_nothing_mounted_under(&b.dir.0);
}

#[test]
fn bind_flags_and_recursive_attributes() {
    let b = bundle("binds");
    let source = b.dir.0.join("src");
    std::fs::create_dir_all(source.join("sub")).unwrap();
    let s = spec(&format!(
        r#"{{"ociVersion": "1.0.2", "mounts": [
          {{"destination": "/rb", "type": "bind", "source": "{src}", "options": ["rbind", "ro"]}},
          {{"destination": "/rr", "type": "bind", "source": "{src}", "options": ["rbind", "rro", "rnosuid"]}},
          {{"destination": "/b", "source": "{src}", "options": ["bind", "nosuid", "noexec", "nodev", "private"]}}]}}"#,
        src = source.display()
    ));
    let root = b.rootfs.clone();
    in_child(false, || {
        let sub = source.join("sub");
        nix::mount::mount(
            Some("tmpfs"),
            &sub,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .map_err(err("mount tmpfs on src/sub"))?;
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        let at = |p: &str| root.join(p).display().to_string();
        expect_erofs(&at("rb/f"))?;
        expect_writable(&at("rb/sub/f"))?;
        expect_erofs(&at("rr/f"))?;
        expect_erofs(&at("rr/sub/f"))?;
        let flags = statvfs(root.join("rr/sub").as_path())
            .map_err(err("statvfs"))?
            .flags();
        check(flags.contains(FsFlags::ST_NOSUID), || {
            "rr/sub not nosuid".into()
        })?;
        let flags = statvfs(root.join("b").as_path())
            .map_err(err("statvfs"))?
            .flags();
        let want = FsFlags::ST_NOSUID | FsFlags::ST_NOEXEC | FsFlags::ST_NODEV;
        check(
            flags.contains(want) && !flags.contains(FsFlags::ST_RDONLY),
            || format!("b: {flags:?}"),
        )?;
        expect_writable(&at("b/f"))?;
        let b_mount = mount_at(&root.join("b"))?;
        check(b_mount.opt_fields.is_empty(), || {
            format!("b not private: {:?}", b_mount.opt_fields)
        })
    });
    assert_nothing_mounted_under(&b.dir.0);
}

#[test]
fn tmpcopyup_fills_the_tmpfs_with_what_it_covers() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let b = bundle("copyup");
    let run = b.rootfs.join("run");
    std::fs::create_dir_all(run.join("sub")).unwrap();
    std::fs::write(run.join("sub/file"), "content").unwrap();
    std::os::unix::fs::chown(run.join("sub/file"), Some(7), Some(8)).unwrap();
    std::fs::set_permissions(
        run.join("sub/file"),
        std::fs::Permissions::from_mode(0o4750),
    )
    .unwrap();
    symlink("sub/file", run.join("link")).unwrap();
    let s = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [
          {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "ro", "mode=755"]}]}"#,
    );
    in_child(false, || {
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        check(
            statvfs("/run")
                .map_err(err("statvfs"))?
                .flags()
                .contains(FsFlags::ST_RDONLY),
            || "/run is writable".into(),
        )?;
        let meta = std::fs::metadata("/run/sub/file").map_err(err("stat /run/sub/file"))?;
        let got = (meta.mode() & 0o7777, meta.uid(), meta.gid());
        check(got == (0o4750, 7, 8), || format!("/run/sub/file: {got:?}"))?;
        let content = std::fs::read_to_string("/run/link").map_err(err("read /run/link"))?;
        check(content == "content", || format!("/run/link: {content:?}"))?;
        expect_erofs("/run/new")
    });
    assert_nothing_mounted_under(&b.dir.0);
}

#[test]
fn runtime_errors_name_the_entry_and_nested_devices_get_their_directory() {
    let b = bundle("errors");
    let missing = b.dir.0.join("missing");
    let bad = spec(&format!(
        r#"{{"ociVersion": "1.0.2", "mounts": [
          {{"destination": "/proc", "type": "proc", "source": "proc"}},
          {{"destination": "/data", "type": "bind", "source": "{}"}}]}}"#,
        missing.display()
    ));
    let good = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
            "linux": {"devices": [{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 438},
                                  {"path": "/dev/fifo", "type": "p", "major": 0, "minor": 0, "fileMode": 384}]}}"#,
    );
    in_child(false, || {
        let message = match prepare_rootfs(&bad, &b.opts(false), &Default::default()) {
            Ok(()) => return Err("a missing bind source was accepted".into()),
            Err(e) => e.to_string(),
        };
        let expected = "mounts[1] (/data): stat bind source: ";
        check(message.starts_with(expected), || message.clone())
    });
    in_child(false, || {
        prepare_rootfs(&good, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        let dev = |p: &str| b.rootfs.join(p).display().to_string();
        check_char_device(&dev("dev/net/tun"), 0o666, (10, 200), (0, 0))?;
        let st = stat(dev("dev/fifo").as_str()).map_err(err("stat /dev/fifo"))?;
        check(st.st_mode == libc::S_IFIFO | 0o600, || {
            format!("/dev/fifo mode {:o}", st.st_mode)
        })
    });
    assert_nothing_mounted_under(&b.dir.0);
}

#[test]
fn masked_and_readonly_paths_need_procfs_at_proc() {
    let b = bundle("noproc");
    std::fs::create_dir_all(b.rootfs.join("proc/self/fd")).unwrap();
    std::fs::create_dir_all(b.rootfs.join("data")).unwrap();
    let s = spec(r#"{"ociVersion": "1.0.2", "linux": {"readonlyPaths": ["/data"]}}"#);
    in_child(false, || {
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        let message = match finish_rootfs(&s) {
            Ok(()) => return Err("finished without a procfs at /proc".into()),
            Err(e) => e.to_string(),
        };
        let expected = "linux.maskedPaths and linux.readonlyPaths (/proc): need a proc mount";
        check(message.starts_with(expected), || message.clone())
    });
    assert_nothing_mounted_under(&b.dir.0);
}
