//! Issue 2 item 5, namespaces, checked from inside the container.

use integration_tests::{assert_contains, skip_for_runc, TestEnv};
use serde_json::json;

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
