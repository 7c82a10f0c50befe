//! Issue 2 item 5, the root filesystem and mounts, checked from inside the container.

use integration_tests::{host, mount_at, skip_for_runc, TestEnv};
use serde_json::json;

const MOUNTINFO: [&str; 2] = ["cat", "/proc/self/mountinfo"];

#[test]
fn pivot_root_into_the_rootfs() {
    let env = TestEnv::new("pivot_root_into_the_rootfs");
    let b = env.bundle(&["sh", "-c", "cat /marker; ls /; cat /proc/self/mountinfo"]);
    std::fs::write(b.rootfs().join("marker"), "inside\n").unwrap();
    let out = env.run_ok(&b);
    assert!(out.starts_with("inside\n"), "{out}");
    // Nothing of the host's root is reachable: the bundle's own files are not there.
    assert!(!out.contains("config.json"), "{out}");
    assert!(mount_at(&out, "/").is_some(), "{out}");
}

#[test]
fn no_pivot_uses_move_mount_and_chroot() {
    let env = TestEnv::new("no_pivot");
    let b = env.bundle(&["cat", "/marker"]);
    std::fs::write(b.rootfs().join("marker"), "no-pivot\n").unwrap();
    b.save();
    let id = env.id();
    let out = env
        .rt
        .run_cmd(&["run", "--no-pivot", "-b", b.path_str(), &id]);
    out.assert_ok("run --no-pivot");
    assert_eq!(out.stdout, "no-pivot\n");
}

#[test]
fn absolute_root_path() {
    let env = TestEnv::new("absolute_root_path");
    let mut b = env.bundle(&["cat", "/marker"]);
    std::fs::write(b.rootfs().join("marker"), "absolute\n").unwrap();
    b.config["root"]["path"] = json!(b.rootfs().to_str().unwrap());
    assert_eq!(env.run_ok(&b), "absolute\n");
}

#[test]
fn readonly_root() {
    let env = TestEnv::new("readonly_root");
    let probe = "touch /probe 2>/dev/null && echo writable || echo readonly";
    let b = env.bundle(&["sh", "-c", probe]);
    assert_eq!(env.run_ok(&b), "readonly\n");
    let mut b = env.bundle(&["sh", "-c", probe]);
    b.set_writable();
    assert_eq!(env.run_ok(&b), "writable\n");
    assert!(
        b.rootfs().join("probe").exists(),
        "the write did not reach the rootfs"
    );
}

#[test]
fn rootfs_propagation_private() {
    let env = TestEnv::new("rootfs_propagation_private");
    let mut b = env.bundle(&MOUNTINFO);
    b.linux()["rootfsPropagation"] = json!("private");
    let out = env.run_ok(&b);
    assert_eq!(
        mount_at(&out, "/").expect("a root mount").tags,
        Vec::<String>::new()
    );
}

#[test]
fn rootfs_propagation() {
    if skip_for_runc("runc 1.1 leaves the container's / untagged for shared and fails unbindable") {
        return;
    }
    let env = TestEnv::new("rootfs_propagation");
    for (propagation, tag) in [("shared", "shared:"), ("unbindable", "unbindable")] {
        let mut b = env.bundle(&MOUNTINFO);
        b.linux()["rootfsPropagation"] = json!(propagation);
        let out = env.run_ok(&b);
        let root = mount_at(&out, "/").expect("a root mount");
        assert!(
            root.tags.iter().any(|t| t.starts_with(tag)),
            "{propagation}: {root:?}"
        );
    }
}

#[test]
fn default_mounts_have_their_types_and_flags() {
    let env = TestEnv::new("default_mounts");
    let out = env.run_ok(&env.bundle(&MOUNTINFO));
    for (dest, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = mount_at(&out, dest).unwrap_or_else(|| panic!("no mount at {dest}:\n{out}"));
        assert_eq!(m.fstype, fstype, "{m:?}");
    }
    let sys = mount_at(&out, "/sys").unwrap();
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(sys.has(flag), "/sys lacks {flag}: {sys:?}");
    }
    let mq = mount_at(&out, "/dev/mqueue").unwrap();
    assert!(
        mq.has("nosuid") && mq.has("nodev") && mq.has("noexec"),
        "{mq:?}"
    );
    let shm = mount_at(&out, "/dev/shm").unwrap();
    assert!(
        shm.super_options.iter().any(|o| o == "size=65536k"),
        "{shm:?}"
    );
}

#[test]
fn cgroup_mount_shows_the_hierarchies() {
    let env = TestEnv::new("cgroup_mount");
    let out = env.run_ok(&env.bundle(&["ls", "/sys/fs/cgroup"]));
    assert!(!out.trim().is_empty(), "empty /sys/fs/cgroup");
}

#[test]
fn tmpfs_at_a_missing_destination_with_options() {
    let env = TestEnv::new("tmpfs_missing_destination");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "stat -c %a /data/deep; cat /proc/self/mountinfo",
    ]);
    b.add_mount(
        json!({"destination": "/data/deep", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "noatime", "mode=700", "size=1m"]}),
    );
    let out = env.run_ok(&b);
    assert!(out.starts_with("700\n"), "{out}");
    let m = mount_at(&out, "/data/deep").expect("the tmpfs");
    for flag in ["rw", "nosuid", "nodev", "noexec", "noatime"] {
        assert!(m.has(flag), "lacks {flag}: {m:?}");
    }
    assert!(m.super_options.iter().any(|o| o == "size=1024k"), "{m:?}");
}

#[test]
fn atime_options() {
    let env = TestEnv::new("atime_options");
    let mut b = env.bundle(&MOUNTINFO);
    for opt in ["noatime", "relatime", "strictatime", "nodiratime"] {
        b.add_mount(
            json!({"destination": format!("/{opt}"), "type": "tmpfs", "source": "tmpfs",
            "options": [opt]}),
        );
    }
    let out = env.run_ok(&b);
    let at = |d: &str| mount_at(&out, d).unwrap_or_else(|| panic!("no {d}:\n{out}"));
    assert!(at("/noatime").has("noatime"), "{out}");
    assert!(at("/relatime").has("relatime"), "{out}");
    let strict = at("/strictatime");
    assert!(
        !strict.has("relatime") && !strict.has("noatime"),
        "{strict:?}"
    );
    assert!(at("/nodiratime").has("nodiratime"), "{out}");
}

#[test]
fn mounts_are_made_in_config_order() {
    let env = TestEnv::new("mounts_in_config_order");
    let mut b = env.bundle(&["stat", "-c", "%a", "/a/b"]);
    b.add_mount(json!({"destination": "/a", "type": "tmpfs", "source": "tmpfs"}));
    b.add_mount(
        json!({"destination": "/a/b", "type": "tmpfs", "source": "tmpfs",
        "options": ["mode=711"]}),
    );
    assert_eq!(env.run_ok(&b), "711\n");
}

#[test]
fn read_only_bind_mount() {
    let env = TestEnv::new("read_only_bind_mount");
    let share = env.dir.join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("hello"), "from the host\n").unwrap();
    let probe = "cat /share/hello; touch /share/new 2>/dev/null && echo writable || echo readonly";
    let mut b = env.bundle(&["sh", "-c", probe]);
    b.add_mount(
        json!({"destination": "/share", "type": "bind", "source": share,
        "options": ["bind", "ro"]}),
    );
    assert_eq!(env.run_ok(&b), "from the host\nreadonly\n");
}

#[test]
fn bind_mount_of_a_file() {
    let env = TestEnv::new("bind_mount_of_a_file");
    let file = env.dir.join("hosts");
    std::fs::write(&file, "127.0.0.1 berth\n").unwrap();
    let mut b = env.bundle(&["cat", "/etc/hosts"]);
    b.add_mount(
        json!({"destination": "/etc/hosts", "type": "none", "source": file,
        "options": ["rbind", "rprivate"]}),
    );
    assert_eq!(env.run_ok(&b), "127.0.0.1 berth\n");
}

#[test]
fn mount_propagation_options() {
    let env = TestEnv::new("mount_propagation_options");
    let mut b = env.bundle(&MOUNTINFO);
    for (dest, prop) in [
        ("/m-shared", "shared"),
        ("/m-unbindable", "unbindable"),
        ("/m-private", "private"),
    ] {
        b.add_mount(
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": [prop]}),
        );
    }
    let out = env.run_ok(&b);
    let tags = |d: &str| {
        mount_at(&out, d)
            .unwrap_or_else(|| panic!("{d}:\n{out}"))
            .tags
    };
    assert!(
        tags("/m-shared").iter().any(|t| t.starts_with("shared:")),
        "{out}"
    );
    assert!(
        tags("/m-unbindable").iter().any(|t| t == "unbindable"),
        "{out}"
    );
    assert!(tags("/m-private").is_empty(), "{out}");
}

#[test]
fn bind_propagation_of_a_shared_host_mount() {
    let env = TestEnv::new("bind_propagation_shared_host");
    let src = env.dir.join("shared-src");
    std::fs::create_dir(&src).unwrap();
    let _shared = host::HostMount::tmpfs(&src).make_shared();
    let mut b = env.bundle(&MOUNTINFO);
    for (dest, prop) in [
        ("/slave", "rslave"),
        ("/shared", "rshared"),
        ("/private", "rprivate"),
    ] {
        b.add_mount(json!({"destination": dest, "type": "bind", "source": &src,
            "options": ["rbind", prop]}));
    }
    let out = env.run_ok(&b);
    let tags = |d: &str| {
        mount_at(&out, d)
            .unwrap_or_else(|| panic!("no {d}:\n{out}"))
            .tags
    };
    assert!(
        tags("/slave").iter().any(|t| t.starts_with("master:")),
        "{out}"
    );
    assert!(
        !tags("/slave").iter().any(|t| t.starts_with("shared:")),
        "{out}"
    );
    assert!(
        tags("/shared").iter().any(|t| t.starts_with("shared:")),
        "{out}"
    );
    assert!(tags("/private").is_empty(), "{out}");
}

#[test]
fn nosymfollow_option() {
    let env = TestEnv::new("nosymfollow_option");
    let mut b = env.bundle(&["sh", "-c", "cat /proc/self/mountinfo"]);
    b.add_mount(
        json!({"destination": "/nsf", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosymfollow"]}),
    );
    let out = env.run_ok(&b);
    let m = mount_at(&out, "/nsf").expect("the tmpfs");
    assert!(m.has("nosymfollow"), "{m:?}");
}

/// A host dir with a tmpfs mounted at its `sub`, for testing what binds carry along.
fn dir_with_submount(env: &TestEnv) -> (std::path::PathBuf, host::HostMount) {
    let src = env.dir.join("bind-src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let sub = host::HostMount::tmpfs(&src.join("sub"));
    (src, sub)
}

#[test]
fn rbind_carries_submounts_and_bind_does_not() {
    let env = TestEnv::new("rbind_carries_submounts");
    let (src, _sub) = dir_with_submount(&env);
    let mut b = env.bundle(&MOUNTINFO);
    b.add_mount(json!({"destination": "/rb", "type": "bind", "source": src, "options": ["rbind"]}));
    b.add_mount(json!({"destination": "/b", "type": "bind", "source": src, "options": ["bind"]}));
    let out = env.run_ok(&b);
    assert!(
        mount_at(&out, "/rb/sub").is_some(),
        "rbind lost the submount:\n{out}"
    );
    assert!(
        mount_at(&out, "/b/sub").is_none(),
        "bind carried the submount:\n{out}"
    );
}

#[test]
fn recursive_read_only() {
    if skip_for_runc("runc 1.1 has no recursive mount attributes (rro, rnosuid...)") {
        return;
    }
    let env = TestEnv::new("recursive_read_only");
    let (src, _sub) = dir_with_submount(&env);
    let mut b = env.bundle(&MOUNTINFO);
    b.add_mount(
        json!({"destination": "/rro", "type": "bind", "source": &src,
        "options": ["rbind", "rro"]}),
    );
    b.add_mount(json!({"destination": "/ro", "type": "bind", "source": &src,
        "options": ["rbind", "ro"]}));
    b.add_mount(
        json!({"destination": "/rflags", "type": "bind", "source": &src,
        "options": ["rbind", "rnosuid", "rnodev", "rnoexec"]}),
    );
    let out = env.run_ok(&b);
    let at = |d: &str| mount_at(&out, d).unwrap_or_else(|| panic!("no {d}:\n{out}"));
    assert!(at("/rro").has("ro") && at("/rro/sub").has("ro"), "{out}");
    // Plain ro applies to the top mount only.
    assert!(at("/ro").has("ro") && at("/ro/sub").has("rw"), "{out}");
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(
            at("/rflags").has(flag) && at("/rflags/sub").has(flag),
            "{flag}\n{out}"
        );
    }
}

#[test]
fn mount_destination_symlink_cannot_escape_the_rootfs() {
    let env = TestEnv::new("mount_symlink_escape");
    let outside = env.dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let mut b = env.bundle(&["sh", "-c", "cat /proc/self/mountinfo"]);
    std::os::unix::fs::symlink(&outside, b.rootfs().join("evil")).unwrap();
    b.add_mount(json!({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"}));
    let out = env.run(&b);
    // Either refused, or resolved inside the rootfs; never a mount or a dir on the host.
    assert!(
        !outside.join("x").exists(),
        "mount destination escaped the rootfs"
    );
    if out.success() {
        let inside = format!("{}/x", outside.display());
        assert!(mount_at(&out.stdout, &inside).is_some(), "{}", out.stdout);
    } else {
        out.assert_fails_naming(&["evil", "symlink"]);
    }
}
