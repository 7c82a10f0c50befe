//! Idmapped bind mounts (runtime-spec 1.2: a mount's `uidMappings`/`gidMappings`, options
//! `idmap` and `ridmap`), checked from inside the container: the ids files show through the
//! mount, where files made through it land on the host, which submounts are mapped, and bad
//! mappings refused naming the field with nothing left behind. runc 1.1.5 predates idmapped
//! mounts (runc 1.2) and ignores the mappings, so every test here is berth's alone.

use integration_tests::{host, skip_for_runc, Bundle, TestEnv};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const RUNC_LACKS: &str = "runc 1.1.5 predates idmapped mounts (runc 1.2): it ignores them";

/// Disk uid 0 shows as 1000, disk gid 0 as 2000.
fn uid_map() -> Value {
    json!([{"containerID": 0, "hostID": 1000, "size": 1}])
}
fn gid_map() -> Value {
    json!([{"containerID": 0, "hostID": 2000, "size": 1}])
}

fn overflow_id(which: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/kernel/overflow{which}"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A host directory for a bind source: `root-owned` (0:0) and `other` (7:7) in it.
fn source(env: &TestEnv, name: &str) -> PathBuf {
    let src = env.dir.join(name);
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("root-owned"), "x").unwrap();
    std::fs::write(src.join("other"), "x").unwrap();
    std::os::unix::fs::chown(src.join("other"), Some(7), Some(7)).unwrap();
    src
}

fn idmapped_bundle(env: &TestEnv, src: &Path, options: &[&str], script: &str) -> Bundle {
    let mut b = env.bundle(&["sh", "-c", script]);
    b.add_mount(
        json!({"destination": "/mnt/id", "type": "bind", "source": src,
        "options": options, "uidMappings": uid_map(), "gidMappings": gid_map()}),
    );
    b
}

#[test]
fn files_show_through_the_mapping_and_unmapped_ids_as_overflow() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let env = TestEnv::new("idmap_shows_mapped_ids");
    let src = source(&env, "src");
    let script = "stat -c '%n %u %g' /mnt/id/root-owned /mnt/id/other; \
                  touch /mnt/id/by-root 2>/dev/null && echo root-wrote || echo root-refused";
    let b = idmapped_bundle(&env, &src, &["bind", "idmap"], script);
    let (ou, og) = (overflow_id("uid"), overflow_id("gid"));
    assert_eq!(
        env.run_ok(&b),
        format!("/mnt/id/root-owned 1000 2000\n/mnt/id/other {ou} {og}\nroot-refused\n")
    );
    // Container root (uid 0) has no disk id through this mapping: nothing was written.
    assert!(!src.join("by-root").exists());
    // The mount's fd (and its user namespace's, which never left the parent) is not the
    // program's: it has stdio alone, and 3 is ls's own listing of the directory.
    let mut b = idmapped_bundle(&env, &src, &["bind", "idmap"], "");
    b.process()["args"] = json!(["ls", "/proc/self/fd"]);
    assert_eq!(env.run_ok(&b), "0\n1\n2\n3\n");
}

#[test]
fn files_made_through_the_mount_land_with_the_disk_ids() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let env = TestEnv::new("idmap_creates_with_disk_ids");
    let src = source(&env, "src");
    let script = "touch /mnt/id/made && stat -c '%u %g' /mnt/id/made";
    let mut b = idmapped_bundle(&env, &src, &["bind", "idmap"], script);
    b.process()["user"] = json!({"uid": 1000, "gid": 2000});
    assert_eq!(env.run_ok(&b), "1000 2000\n");
    let meta = std::fs::metadata(src.join("made")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "host owner of the new file"
    );
}

/// A tmpfs mounted on the host, unmounted on drop (the test's leak check counts mounts).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn new(at: PathBuf) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        let none: Option<&str> = None;
        nix::mount::mount(
            Some("tmpfs"),
            &at,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            none,
        )
        .unwrap();
        HostTmpfs(at)
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn ridmap_maps_submounts_and_idmap_only_the_mount_itself() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let env = TestEnv::new("ridmap_submounts");
    let src = source(&env, "src");
    let sub = HostTmpfs::new(src.join("sub"));
    std::fs::write(sub.0.join("inner"), "x").unwrap();
    let script =
        "stat -c '%n %u' /mnt/i/root-owned /mnt/i/sub/inner /mnt/r/root-owned /mnt/r/sub/inner";
    let mut b = env.bundle(&["sh", "-c", script]);
    for (dest, option) in [("/mnt/i", "idmap"), ("/mnt/r", "ridmap")] {
        b.add_mount(json!({"destination": dest, "type": "bind", "source": src,
            "options": ["rbind", option], "uidMappings": uid_map(), "gidMappings": gid_map()}));
    }
    let out = env.run_ok(&b);
    assert_eq!(
        out,
        "/mnt/i/root-owned 1000\n/mnt/i/sub/inner 0\n/mnt/r/root-owned 1000\n/mnt/r/sub/inner 1000\n"
    );
    drop(sub);
}

/// `idmap` without mappings of its own takes the container's user namespace mappings: host
/// root's files show as the container's root, and its files land as host root's.
#[test]
fn idmap_without_mappings_takes_the_container_user_namespace() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let env = TestEnv::new("idmap_container_userns");
    let src = source(&env, "src");
    let script = "stat -c '%u %g' /tmp/root-owned; touch /tmp/made && stat -c '%u %g' /tmp/made";
    let mut b = env.bundle(&["sh", "-c", script]);
    b.add_namespace("user", None);
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.linux()["uidMappings"] = maps.clone();
    b.linux()["gidMappings"] = maps;
    b.remove_mount("/sys/fs/cgroup");
    b.add_mount(json!({"destination": "/tmp", "type": "bind", "source": src,
        "options": ["rbind", "idmap"]}));
    assert_eq!(env.run_ok(&b), "0 0\n0 0\n");
    let meta = std::fs::metadata(src.join("made")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "host owner of the new file"
    );
}

/// Bad idmapped entries: refused by `create`, naming the field, leaving nothing behind.
#[test]
fn bad_idmapped_mounts_are_refused_naming_the_field() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let env = TestEnv::new("idmap_bad_input");
    let src = source(&env, "src");
    let cases: [(Value, &[&str]); 5] = [
        (
            json!({"type": "bind", "source": src, "options": ["bind", "idmap"], "uidMappings": uid_map()}),
            &["mounts[7]", "gidMappings: missing"],
        ),
        (
            json!({"type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
                   "uidMappings": uid_map(), "gidMappings": gid_map()}),
            &["mounts[7]", "only for bind mounts"],
        ),
        (
            json!({"type": "bind", "source": src, "options": ["bind", "idmap"],
                   "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}],
                   "gidMappings": gid_map()}),
            &["mounts[7]", "uidMappings[0]: size is 0"],
        ),
        (
            json!({"type": "bind", "source": src, "options": ["bind", "ridmap"]}),
            &["mounts[7]", "linux.uidMappings"],
        ),
        (
            json!({"type": "bind", "source": env.dir.join("missing"), "options": ["bind", "idmap"],
                   "uidMappings": uid_map(), "gidMappings": gid_map()}),
            &["mounts[7]", "open bind source"],
        ),
    ];
    for (mut mount, words) in cases {
        let mut b = env.bundle(&["true"]);
        mount["destination"] = json!("/mnt/id");
        b.add_mount(mount);
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
        assert!(!out.success(), "{out:#?}");
        for w in words {
            assert!(out.stderr.contains(w), "stderr lacks {w:?}: {out:#?}");
        }
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
}

/// Rootless, the kernel would refuse the idmapping (it needs privilege over the source's
/// filesystem): refused naming the entry, as runc 1.2 refuses it, with nothing left behind.
#[test]
fn rootless_idmapped_mounts_are_refused() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let r = integration_tests::rootless::RootlessEnv::new("idmap_rootless");
    let src = r.env.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut b = r.bundle(&["true"]);
    let own = json!([{"containerID": 0, "hostID": r.user.uid, "size": 1}]);
    let mounts = b.config["mounts"].as_array().map_or(0, Vec::len);
    b.add_mount(
        json!({"destination": "/mnt/id", "type": "bind", "source": src,
        "options": ["bind", "idmap"], "uidMappings": own, "gidMappings": own}),
    );
    let id = r.env.id();
    let out = r.on_bundle(&b, &["create", "--bundle", b.path_str(), &id]);
    assert!(!out.success(), "{out:#?}");
    for w in [&format!("mounts[{mounts}]"), "a runtime running as root"] {
        assert!(out.stderr.contains(w), "stderr lacks {w:?}: {out:#?}");
    }
    host::assert_nothing_left(&r.runtime().root, &id, &b.dir);
    let procs = host::processes_mentioning(&r.env.dir.to_string_lossy());
    assert!(procs.is_empty(), "processes left behind: {procs:#?}");
}

/// The idmapped clone of a shared host mount is made a slave before the container gets it:
/// a mount made under it inside the container does not appear on the host.
#[test]
fn mounts_made_under_an_idmapped_mount_do_not_reach_the_host() {
    if skip_for_runc(RUNC_LACKS) {
        return;
    }
    let env = TestEnv::new("idmap_propagation");
    let shared = HostTmpfs::new(env.dir.join("shared"));
    let none: Option<&str> = None;
    let flags = nix::mount::MsFlags::MS_SHARED;
    nix::mount::mount(none, &shared.0, none, flags, none).unwrap();
    std::fs::create_dir(shared.0.join("sub")).unwrap();
    let script = "mount -t tmpfs tmpfs /mnt/id/sub && echo x > /mnt/id/sub/leak && echo mounted";
    let mut b = idmapped_bundle(&env, &shared.0, &["bind", "idmap"], script);
    for set in ["bounding", "effective", "permitted"] {
        b.process()["capabilities"][set] = json!(["CAP_SYS_ADMIN"]);
    }
    assert_eq!(env.run_ok(&b), "mounted\n");
    assert!(
        !shared.0.join("sub/leak").exists(),
        "the file reached the host"
    );
    let leaked = host::mounts_under(&shared.0.join("sub"));
    assert!(leaked.is_empty(), "the mount reached the host: {leaked:#?}");
}
