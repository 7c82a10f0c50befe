//! Issue 2 item 5 and issue 13 item 5, namespaces, checked from inside the container.

use integration_tests::{assert_contains, host, is_runc, skip_for_runc, Bundle, TestEnv};
use serde_json::json;
use std::path::Path;

const NS_LINKS: &str =
    "for n in pid net ipc uts mnt cgroup user time; do echo $n $(readlink /proc/self/ns/$n); done";

/// Namespace links of the container's process, by /proc/self/ns name.
fn container_ns(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, link)| (n.to_owned(), link.to_owned()))
        .collect()
}

fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn pid_namespace_makes_the_process_pid_1() {
    let env = TestEnv::new("pid_namespace_pid_1");
    let out = env.run_ok(&env.bundle(&["sh", "-c", "echo $$"]));
    assert_eq!(out.trim(), "1");
}

#[test]
fn listed_namespaces_are_new_and_the_others_inherited() {
    let env = TestEnv::new("listed_namespaces_new_others_inherited");
    let out = env.run_ok(&env.bundle(&["sh", "-c", NS_LINKS]));
    let ns = container_ns(&out);
    assert_eq!(ns.len(), 8, "{out}");
    for (name, link) in ns {
        let new = ["pid", "net", "ipc", "uts", "mnt"].contains(&name.as_str());
        assert_eq!(
            link != host_ns(&name),
            new,
            "{name}: {link} (host {})",
            host_ns(&name)
        );
    }
}

#[test]
fn cgroup_namespace_roots_the_cgroup_view() {
    let env = TestEnv::new("cgroup_namespace");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup",
    ]);
    b.add_namespace("cgroup", None);
    let out = env.run_ok(&b);
    let mut lines = out.lines();
    assert_ne!(lines.next().unwrap(), host_ns("cgroup"));
    for l in lines {
        assert!(
            l.ends_with(":/"),
            "cgroup path not the namespace root: {l}\n{out}"
        );
    }
}

#[test]
fn user_namespace_applies_the_id_mappings() {
    let env = TestEnv::new("user_namespace_mappings");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
    ]);
    b.add_namespace("user", None);
    // Root stays host root (so the rootfs stays readable); 1..1000 map to 100001...
    let maps = json!([{"containerID": 0, "hostID": 0, "size": 1},
                      {"containerID": 1, "hostID": 100001, "size": 1000}]);
    b.linux()["uidMappings"] = maps.clone();
    b.linux()["gidMappings"] = maps;
    b.remove_mount("/sys/fs/cgroup");
    let out = env.run_ok(&b);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let expected = [vec!["0", "0", "1"], vec!["1", "100001", "1000"]];
    assert_eq!(rows[0..2], expected, "uid_map\n{out}");
    assert_eq!(rows[2..4], expected, "gid_map\n{out}");
    assert_eq!(rows[4], ["0"]);
}

#[test]
fn time_namespace_applies_the_offsets() {
    if skip_for_runc("runc 1.1 has no time namespace support") {
        return;
    }
    let env = TestEnv::new("time_namespace_offsets");
    let mut b = env.bundle(&["cat", "/proc/uptime"]);
    b.add_namespace("time", None);
    let ten_days = 864_000;
    b.linux()["timeOffsets"] = json!({"boottime": {"secs": ten_days, "nanosecs": 0},
                                      "monotonic": {"secs": ten_days, "nanosecs": 0}});
    let out = env.run_ok(&b);
    let uptime: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        uptime >= ten_days as f64,
        "uptime {uptime} lacks the boottime offset"
    );
}

#[test]
fn joining_namespaces_by_path() {
    let env = TestEnv::new("joining_namespaces_by_path");
    let mut first = env.bundle(&["sleep", "1000"]);
    first.config["hostname"] = json!("first-uts");
    let id = env.create(&first);
    let pid = env.rt.state(&id).unwrap()["pid"].as_i64().unwrap();
    let mut b = env.bundle(&["sh", "-c", "hostname; readlink /proc/self/ns/net"]);
    b.add_namespace("uts", Some(&format!("/proc/{pid}/ns/uts")));
    b.add_namespace("network", Some(&format!("/proc/{pid}/ns/net")));
    // Joining a uts namespace means not setting a hostname of one's own.
    b.config.as_object_mut().unwrap().remove("hostname");
    let out = env.run_ok(&b);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("first-uts"), "{out}");
    let first_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(lines.next(), first_net.to_str(), "{out}");
}

#[test]
fn network_namespace_has_only_loopback() {
    let env = TestEnv::new("network_namespace_loopback");
    let out = env.run_ok(&env.bundle(&["cat", "/proc/net/dev"]));
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(
        ifaces.iter().map(|i| i.trim()).collect::<Vec<_>>(),
        ["lo"],
        "{out}"
    );
}

#[test]
fn ipc_namespace_is_private() {
    let env = TestEnv::new("ipc_namespace_private");
    let out = env.run_ok(&env.bundle(&["cat", "/proc/sysvipc/shm"]));
    // A fresh IPC namespace has no System V shared memory segments: only the header.
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_contains(&out, "key");
}

/// A bundle printing its mount namespace and a marker file of its rootfs.
fn mount_ns_bundle(env: &TestEnv) -> Bundle {
    let mut b = env.bundle(&["sh", "-c", "readlink /proc/self/ns/mnt; cat /marker"]);
    std::fs::write(b.rootfs().join("marker"), "in-rootfs\n").unwrap();
    let linux = b.linux().as_object_mut().unwrap();
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    b
}

/// runc 1.1 leaves the mounts of a container without a mount namespace on the host.
fn unmount_runc_leftovers(b: &Bundle) {
    if is_runc() {
        while !host::mounts_under(&b.rootfs()).is_empty() {
            let detach = nix::mount::MntFlags::MNT_DETACH;
            if nix::mount::umount2(&b.rootfs(), detach).is_err() {
                break;
            }
        }
    }
}

/// Issue 13 item 5: without a `mount` namespace the container inherits the runtime's (as the spec
/// says, and runc does): it runs in it, chrooted into its rootfs, and (berth) leaves no mount
/// behind once deleted.
#[test]
fn a_container_without_a_mount_namespace_inherits_the_runtimes() {
    let env = TestEnv::new("mount_ns_inherited");
    let mut b = mount_ns_bundle(&env);
    b.remove_namespace("mount");
    let out = env.run(&b);
    unmount_runc_leftovers(&b);
    out.assert_ok("run without a mount namespace");
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(out.stdout, format!("{}\nin-rootfs\n", own.display()));
    let left = host::mounts_under(&b.dir);
    assert!(left.is_empty(), "mounts left on the host: {left:#?}");

    // A create failing after the mounts were made leaves none either.
    let mut b = mount_ns_bundle(&env);
    b.remove_namespace("mount");
    b.process()["args"] = json!(["/nonexistent"]);
    let out = env.run(&b);
    unmount_runc_leftovers(&b);
    assert!(!out.success(), "{out:#?}");
    let left = host::mounts_under(&b.dir);
    assert!(left.is_empty(), "mounts left on the host: {left:#?}");
}

/// Issue 13 item 5: masking paths needs a mount namespace of the container's own (runc: "unable to
/// restrict sys entries without a private MNT namespace"); nothing is left behind.
#[test]
fn masked_paths_without_a_mount_namespace_are_refused() {
    let env = TestEnv::new("mount_ns_inherited_masked");
    let mut b = env.bundle(&["true"]);
    b.remove_namespace("mount");
    let out = env.run(&b);
    unmount_runc_leftovers(&b);
    out.assert_fails_naming(&["maskedPaths", "private MNT namespace"]);
    let left = host::mounts_under(&b.dir);
    assert!(left.is_empty(), "mounts left on the host: {left:#?}");
}

/// Issue 13 item 5: a mount namespace joined by path is where the rootfs is set up (runc does it
/// there too). The namespace is a persistent one of the test's (`unshare --mount=FILE`).
#[test]
fn a_mount_namespace_joined_by_path_gets_the_rootfs() {
    use std::os::unix::fs::MetadataExt;
    let env = TestEnv::new("mount_ns_joined");
    let ns_dir = env.dir.join("ns");
    std::fs::create_dir(&ns_dir).unwrap();
    let _private = host::HostMount::tmpfs(&ns_dir);
    let ns_file = ns_dir.join("mnt");
    std::fs::write(&ns_file, "").unwrap();
    let made = std::process::Command::new("unshare")
        .arg(format!("--mount={}", ns_file.display()))
        .args(["--propagation", "private", "true"])
        .status()
        .expect("running unshare (util-linux)");
    assert!(made.success(), "unshare --mount={}", ns_file.display());
    let ns_id = std::fs::metadata(&ns_file).unwrap().ino();
    let mut b = mount_ns_bundle(&env);
    b.add_namespace("mount", Some(ns_file.to_str().unwrap()));
    let out = env.run(&b);
    out.assert_ok("run in a joined mount namespace");
    assert_eq!(out.stdout, format!("mnt:[{ns_id}]\nin-rootfs\n"));
}

/// Issue 13 item 5: joining the runtime's own mount namespace by path is inheriting it: the rootfs is
/// chrooted into, never pivoted there (runc 1.1 would pivot_root the host's own namespace,
/// moving the root of every process on it).
#[test]
fn joining_the_runtimes_own_mount_namespace_does_not_pivot_it() {
    if skip_for_runc("runc 1.1 would pivot_root the host's mount namespace") {
        return;
    }
    let env = TestEnv::new("mount_ns_join_own");
    let mut b = mount_ns_bundle(&env);
    b.add_namespace("mount", Some("/proc/self/ns/mnt"));
    let out = env.run(&b);
    out.assert_ok("run joining the runtime's own mount namespace");
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(out.stdout, format!("{}\nin-rootfs\n", own.display()));
    // A pivot_root would have made the container's rootfs this process's "/" too.
    assert!(!Path::new("/marker").exists(), "the host's root moved");
    let left = host::mounts_under(&b.dir);
    assert!(left.is_empty(), "mounts left on the host: {left:#?}");
}

/// Issue 13 item 5: sharing the runtime's mount namespace changes no host mount: a shared host mount
/// stays shared (runc 1.1 makes the host's `/` rslave, recursively, which ends its peers).
#[test]
fn inheriting_the_mount_namespace_leaves_host_propagation_alone() {
    if skip_for_runc("runc 1.1 makes the host's / rslave without a mount ns") {
        return;
    }
    let env = TestEnv::new("mount_ns_inherited_propagation");
    let shared_dir = env.dir.join("shared");
    std::fs::create_dir(&shared_dir).unwrap();
    let _shared = host::HostMount::tmpfs(&shared_dir).make_shared();
    let mut b = mount_ns_bundle(&env);
    b.remove_namespace("mount");
    env.run_ok(&b);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let m = integration_tests::mount_at(&mountinfo, shared_dir.to_str().unwrap())
        .expect("the test's tmpfs");
    assert!(m.tags.iter().any(|t| t.starts_with("shared:")), "{m:?}");
}
