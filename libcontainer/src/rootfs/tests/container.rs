//! The whole container view: runc's usual config, namespaces, propagation, --no-pivot.

use super::super::{finish_rootfs, pivot_rootfs, prepare_rootfs};
use super::{
    assert_nothing_mounted_under, bundle, check, check_char_device, check_fs, check_link, err,
    expect_erofs, expect_writable, in_child, mount_at, mounts, spec,
};
use nix::sys::stat::{major, minor, stat};
use nix::sys::statvfs::{statvfs, FsFlags};
use std::path::Path;

const CONTAINER_SPEC: &str = r#"{"ociVersion": "1.0.2",
 "root": {"path": "rootfs", "readonly": true},
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
 ],
 "linux": {
  "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 416, "uid": 1, "gid": 2}],
  "maskedPaths": ["/proc/kcore", "/secret", "/secret-file", "/nonexistent/x"],
  "readonlyPaths": ["/proc/sys", "/dev/shm"]
 }}"#;

#[test]
fn container_view_from_inside() {
    container_view(false);
}

/// The same view where the fd-based mount API (5.2) and openat2 are missing: mount(2) through
/// /proc/self/fd, and the mounts found again by path.
#[test]
fn container_view_without_the_mount_api() {
    container_view(true);
}

fn container_view(old_kernel: bool) {
    let b = bundle(if old_kernel { "view-old" } else { "view" });
    std::fs::create_dir_all(b.rootfs.join("secret")).unwrap();
    std::fs::write(b.rootfs.join("secret/key"), "k").unwrap();
    std::fs::write(b.rootfs.join("secret-file"), "s").unwrap();
    let s = spec(CONTAINER_SPEC);
    let host_kcore = Path::new("/proc/kcore").exists();
    in_child(false, || {
        if old_kernel {
            for nr in [
                libc::SYS_open_tree,
                libc::SYS_move_mount,
                libc::SYS_fsopen,
                libc::SYS_mount_setattr,
                libc::SYS_openat2,
            ] {
                crate::identity::test_fork::refuse_with_enosys(nr)?;
            }
        }
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        finish_rootfs(&s).map_err(err("finish"))?;
        check_fs("/", mount_at(Path::new("/"))?.fs_type.as_str(), true)?;
        check_fs("/proc", "proc", false)?;
        check_fs("/dev", "tmpfs", false)?;
        check_fs("/dev/pts", "devpts", false)?;
        check_fs("/dev/mqueue", "mqueue", false)?;
        check_fs("/dev/shm", "tmpfs", true)?;
        check_fs("/sys", "sysfs", true)?;
        check_cgroup_mount()?;
        for (name, dev) in [("null", (1, 3)), ("zero", (1, 5)), ("full", (1, 7))] {
            check_char_device(&format!("/dev/{name}"), 0o666, dev, (0, 0))?;
        }
        check_char_device("/dev/random", 0o666, (1, 8), (0, 0))?;
        check_char_device("/dev/urandom", 0o666, (1, 9), (0, 0))?;
        check_char_device("/dev/tty", 0o666, (5, 0), (0, 0))?;
        check_char_device("/dev/fuse", 0o640, (10, 229), (1, 2))?;
        check_link("/dev/fd", "/proc/self/fd")?;
        check_link("/dev/stdin", "/proc/self/fd/0")?;
        check_link("/dev/stdout", "/proc/self/fd/1")?;
        check_link("/dev/stderr", "/proc/self/fd/2")?;
        check_link("/dev/ptmx", "pts/ptmx")?;
        check(Path::new("/dev/pts/ptmx").exists(), || {
            "no /dev/pts/ptmx".into()
        })?;
        expect_writable("/dev/scratch")?;
        expect_erofs("/new-file")?;
        expect_erofs("/dev/shm/x")?;
        expect_erofs("/proc/sys/kernel/hostname")?;
        if host_kcore {
            let st = stat("/proc/kcore").map_err(err("stat /proc/kcore"))?;
            check((major(st.st_rdev), minor(st.st_rdev)) == (1, 3), || {
                "/proc/kcore not masked".into()
            })?;
        }
        let listing = std::fs::read_dir("/secret")
            .map_err(err("read /secret"))?
            .count();
        check(listing == 0, || "/secret is not masked".into())?;
        expect_erofs("/secret/key")?;
        let content = std::fs::read_to_string("/secret-file").map_err(err("read /secret-file"))?;
        check(content.is_empty(), || "/secret-file is not masked".into())?;
        let cwd = std::env::current_dir().map_err(err("cwd"))?;
        check(cwd == Path::new("/"), || format!("cwd {}", cwd.display()))
    });
    assert_nothing_mounted_under(&b.dir.0);
}

/// The container sees the host's cgroup layout; on v1/hybrid hosts a read-only tmpfs holds
/// one mount per hierarchy.
fn check_cgroup_mount() -> Result<(), String> {
    let top = mount_at(Path::new("/sys/fs/cgroup"))?;
    if top.fs_type == "cgroup2" {
        return check(top.mount_options.contains_key("ro"), || {
            "cgroup2 not ro".into()
        });
    }
    check_fs("/sys/fs/cgroup", "tmpfs", true)?;
    let hierarchies: Vec<_> = mounts()?
        .into_iter()
        .filter(|m| m.mount_point.parent() == Some(Path::new("/sys/fs/cgroup")))
        .collect();
    check(!hierarchies.is_empty(), || "no cgroup hierarchies".into())?;
    for h in hierarchies {
        let ok = matches!(h.fs_type.as_str(), "cgroup" | "cgroup2")
            && h.mount_options.contains_key("ro");
        check(ok, || {
            format!(
                "{}: {} {:?}",
                h.mount_point.display(),
                h.fs_type,
                h.mount_options
            )
        })?;
    }
    Ok(())
}

#[test]
fn rootfs_propagation_is_what_the_container_root_has() {
    use procfs::process::MountOptFields;
    for (value, expected) in [
        ("rshared", "shared"),
        ("runbindable", "unbindable"),
        ("rprivate", ""),
    ] {
        let b = bundle("propagation");
        let s = spec(&format!(
            r#"{{"ociVersion": "1.0.2", "mounts": [{{"destination": "/proc", "type": "proc", "source": "proc"}}],
                "linux": {{"rootfsPropagation": "{value}"}}}}"#
        ));
        in_child(false, || {
            prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
            pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
            finish_rootfs(&s).map_err(err("finish"))?;
            let root = mount_at(Path::new("/"))?;
            let kinds: Vec<&str> = root
                .opt_fields
                .iter()
                .map(|f| match f {
                    MountOptFields::Shared(_) => "shared",
                    MountOptFields::Unbindable => "unbindable",
                    _ => "other",
                })
                .collect();
            let ok = kinds == [expected] || (expected.is_empty() && kinds.is_empty());
            check(ok, || format!("{value}: / has {:?}", root.opt_fields))
        });
        assert_nothing_mounted_under(&b.dir.0);
    }
}

#[test]
fn no_pivot_moves_the_rootfs_chroots_and_hides_host_proc() {
    let b = bundle("nopivot");
    std::fs::write(b.rootfs.join("marker"), "m").unwrap();
    let s = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}"#,
    );
    in_child(false, || {
        use nix::fcntl::{open, openat, OFlag};
        use nix::sys::stat::Mode;
        let path = OFlag::O_PATH | OFlag::O_CLOEXEC;
        // What a chroot escape would reach: the old root.
        let old_root =
            open("/", path | OFlag::O_DIRECTORY, Mode::empty()).map_err(err("open /"))?;
        prepare_rootfs(&s, &b.opts(false), &Default::default()).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, true).map_err(err("no-pivot"))?;
        finish_rootfs(&s).map_err(err("finish"))?;
        check(Path::new("/marker").exists(), || "not in the rootfs".into())?;
        check(Path::new("/proc/self").exists(), || "no /proc".into())?;
        let host_proc = openat(&old_root, "proc/self", path, Mode::empty());
        check(host_proc.is_err(), || {
            "the host's /proc is still mounted".into()
        })?;
        let host_sys = openat(&old_root, "sys/kernel", path, Mode::empty());
        check(host_sys.is_err(), || {
            "the host's /sys is still mounted".into()
        })
    });
    assert_nothing_mounted_under(&b.dir.0);
}

#[test]
fn user_namespace_binds_devices_and_host_sysfs() {
    let b = bundle("userns");
    let s = spec(
        r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}, "mounts": [
          {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
          {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}]}"#,
    );
    in_child(true, || {
        prepare_rootfs(&s, &b.opts(true), &Default::default()).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        finish_rootfs(&s).map_err(err("finish"))?;
        let st = stat("/dev/null").map_err(err("stat /dev/null"))?;
        let dev = (
            st.st_mode & libc::S_IFMT,
            major(st.st_rdev),
            minor(st.st_rdev),
        );
        check(dev == (libc::S_IFCHR, 1, 3), || {
            format!("/dev/null: {dev:?}")
        })?;
        std::fs::write("/dev/null", "discarded").map_err(err("write /dev/null"))?;
        for dir in ["/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/memory"] {
            if Path::new(dir).exists() {
                let flags = statvfs(dir).map_err(err("statvfs"))?.flags();
                check(flags.contains(FsFlags::ST_RDONLY), || {
                    format!("{dir} is writable")
                })?;
            }
        }
        expect_erofs("/new-file")
    });
    assert_nothing_mounted_under(&b.dir.0);
}

#[test]
fn cgroup_namespace_mounts_hierarchies_fresh() {
    let b = bundle("cgroupns");
    let s = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [
          {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "rro", "rprivate"]}]}"#,
    );
    let mut opts = b.opts(false);
    opts.in_cgroup_ns = true;
    let cgroup_root = b.rootfs.join("sys/fs/cgroup");
    in_child(false, || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(err("unshare cgroup"))?;
        prepare_rootfs(&s, &opts, &Default::default()).map_err(err("prepare"))?;
        let found: Vec<_> = mounts()?
            .into_iter()
            .filter(|m| m.mount_point.starts_with(&cgroup_root) && m.fs_type.starts_with("cgroup"))
            .collect();
        check(!found.is_empty(), || "no cgroup hierarchy mounted".into())?;
        for m in found {
            let ok = m.root == "/"
                && m.mount_options.contains_key("nosuid")
                && m.mount_options.contains_key("ro");
            check(ok, || {
                format!(
                    "{}: root {} {:?}",
                    m.mount_point.display(),
                    m.root,
                    m.mount_options
                )
            })?;
        }
        Ok(())
    });
    assert_nothing_mounted_under(&b.dir.0);
}

/// `runc spec`'s own output, the config every test bundle starts from (see integration-tests).
const RUNC_SPEC: &str = include_str!("../../../../integration-tests/fixtures/runc-1.1.5-spec.json");

/// Its mounts and paths, in new pid, network, ipc, uts and cgroup namespaces.
#[test]
fn runc_spec_config_in_new_namespaces() {
    use nix::sched::{unshare, CloneFlags};
    let b = bundle("runcspec");
    let s = spec(RUNC_SPEC);
    let mut opts = b.opts(false);
    opts.in_cgroup_ns = true;
    in_child(false, || {
        let namespaces = CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWCGROUP;
        unshare(namespaces).map_err(err("unshare"))?;
        // The new pid namespace holds this process's next child, which plays the init.
        super::forked(|| {
            prepare_rootfs(&s, &opts, &Default::default()).map_err(err("prepare"))?;
            pivot_rootfs(&opts.rootfs, false).map_err(err("pivot"))?;
            finish_rootfs(&s).map_err(err("finish"))?;
            let me = std::fs::read_link("/proc/self").map_err(err("readlink /proc/self"))?;
            check(me == Path::new("1"), || {
                format!("/proc/self -> {}", me.display())
            })?;
            check_fs("/sys", "sysfs", true)?;
            check_cgroup_mount()?;
            for m in mounts()?.iter().filter(|m| m.fs_type.starts_with("cgroup")) {
                check(m.root == "/", || {
                    format!("{}: root {}", m.mount_point.display(), m.root)
                })?;
            }
            check_fs("/proc/sys", "proc", true)?;
            expect_erofs("/proc/sys/kernel/domainname")?;
            check(stat("/dev/pts/ptmx").is_ok(), || "no /dev/pts/ptmx".into())?;
            expect_writable("/dev/shm/x")?;
            expect_erofs("/x")
        })
    });
    assert_nothing_mounted_under(&b.dir.0);
}
