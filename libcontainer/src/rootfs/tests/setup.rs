use super::super::{finish_rootfs, pivot_rootfs, prepare_rootfs, RootfsOptions};
use super::{assert_nothing_mounted_under, check, in_child, mount_at, mounts, spec, TempDir};
use nix::sys::stat::{major, minor, stat};
use nix::sys::statvfs::{statvfs, FsFlags};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

struct Bundle {
    dir: TempDir,
    rootfs: PathBuf,
}

fn bundle(tag: &str) -> Bundle {
    let dir = TempDir::new(tag);
    let rootfs = dir.0.join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    Bundle { dir, rootfs }
}

impl Bundle {
    fn opts(&self, in_user_ns: bool) -> RootfsOptions {
        RootfsOptions {
            rootfs: self.rootfs.clone(),
            bundle: self.dir.0.clone(),
            in_user_ns,
            in_cgroup_ns: false,
        }
    }
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn expect_erofs(path: &str) -> Result<(), String> {
    match std::fs::write(path, "x") {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        other => Err(format!("writing {path}: expected EROFS, got {other:?}")),
    }
}

fn expect_writable(path: &str) -> Result<(), String> {
    std::fs::write(path, "x").map_err(|e| format!("writing {path}: {e}"))
}

fn check_char_device(
    path: &str,
    mode: u32,
    dev: (u64, u64),
    owner: (u32, u32),
) -> Result<(), String> {
    let st = stat(path).map_err(|e| format!("stat {path}: {e}"))?;
    let got = (
        st.st_mode,
        (major(st.st_rdev), minor(st.st_rdev)),
        (st.st_uid, st.st_gid),
    );
    check(got == (libc::S_IFCHR | mode, dev, owner), || {
        format!("{path}: got {got:?}")
    })
}

fn check_link(path: &str, target: &str) -> Result<(), String> {
    let got = std::fs::read_link(path).map_err(|e| format!("readlink {path}: {e}"))?;
    check(got == Path::new(target), || {
        format!("{path} -> {}", got.display())
    })
}

fn check_fs(path: &str, fs_type: &str, ro: bool) -> Result<(), String> {
    let m = mount_at(Path::new(path))?;
    check(m.fs_type == fs_type, || {
        format!("{path}: fs type {}", m.fs_type)
    })?;
    let is_ro = m.mount_options.contains_key("ro");
    check(is_ro == ro, || format!("{path}: read-only is {is_ro}"))
}

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
    let b = bundle("view");
    std::fs::create_dir_all(b.rootfs.join("secret")).unwrap();
    std::fs::write(b.rootfs.join("secret/key"), "k").unwrap();
    std::fs::write(b.rootfs.join("secret-file"), "s").unwrap();
    let s = spec(CONTAINER_SPEC);
    let host_kcore = Path::new("/proc/kcore").exists();
    in_child(false, || {
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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

#[test]
fn readonly_and_masked_paths_resolve_symlinks_inside() {
    let b = bundle("paths");
    for dir in ["target", "secret", "other"] {
        std::fs::create_dir_all(b.rootfs.join(dir)).unwrap();
    }
    std::fs::write(b.rootfs.join("secret/key"), "k").unwrap();
    symlink("/../../target", b.rootfs.join("link")).unwrap();
    symlink("../../../secret", b.rootfs.join("mlink")).unwrap();
    let s = spec(
        r#"{"ociVersion": "1.0.2", "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"readonlyPaths": ["/link"], "maskedPaths": ["/mlink"]}}"#,
    );
    in_child(false, || {
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
        pivot_rootfs(&b.rootfs, false).map_err(err("pivot"))?;
        finish_rootfs(&s).map_err(err("finish"))?;
        expect_erofs("/target/f")?;
        expect_writable("/other/f")?;
        let listing = std::fs::read_dir("/secret")
            .map_err(err("read /secret"))?
            .count();
        check(listing == 0, || "/secret is not masked".into())
    });
    assert_nothing_mounted_under(&b.dir.0);
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
            prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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
fn user_namespace_binds_devices_and_host_sysfs() {
    let b = bundle("userns");
    let s = spec(
        r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}, "mounts": [
          {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
          {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}]}"#,
    );
    in_child(true, || {
        prepare_rootfs(&s, &b.opts(true)).map_err(err("prepare"))?;
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
        prepare_rootfs(&s, &opts).map_err(err("prepare"))?;
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

/// The mounts and paths of `runc spec` (as scripts/mkbundle.sh writes them), with new pid,
/// network, ipc, uts and cgroup namespaces as a real container has them.
const RUNC_SPEC: &str = r#"{"ociVersion": "1.2.0",
 "root": {"path": "rootfs", "readonly": true},
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
 ],
 "linux": {
  "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
   "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
  "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
 }}"#;

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
            prepare_rootfs(&s, &opts).map_err(err("prepare"))?;
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
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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
        let message = match prepare_rootfs(&bad, &b.opts(false)) {
            Ok(()) => return Err("a missing bind source was accepted".into()),
            Err(e) => e.to_string(),
        };
        let expected = "mounts[1] (/data): stat bind source: ";
        check(message.starts_with(expected), || message.clone())
    });
    in_child(false, || {
        prepare_rootfs(&good, &b.opts(false)).map_err(err("prepare"))?;
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
        prepare_rootfs(&s, &b.opts(false)).map_err(err("prepare"))?;
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
