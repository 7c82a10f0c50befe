//! Issue 2 item 5, /dev and the masked and read-only paths, checked from inside the container.

use integration_tests::{assert_contains, mount_at, skip_for_runc, TestEnv};
use serde_json::json;

#[test]
fn default_devices() {
    let env = TestEnv::new("default_devices");
    let devs = "/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty";
    let b = env.bundle(&["sh", "-c", &format!("stat -c '%n %F %t:%T' {devs}")]);
    let out = env.run_ok(&b);
    let expected = [
        ("/dev/null", "1:3"),
        ("/dev/zero", "1:5"),
        ("/dev/full", "1:7"),
        ("/dev/random", "1:8"),
        ("/dev/urandom", "1:9"),
        ("/dev/tty", "5:0"),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{out}");
    for ((name, numbers), line) in expected.iter().zip(lines) {
        assert_eq!(
            line,
            format!("{name} character special file {numbers}"),
            "{out}"
        );
    }
}

#[test]
fn default_devices_work() {
    let env = TestEnv::new("default_devices_work");
    let script = "echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && \
                  head -c 8 /dev/urandom | wc -c";
    let out = env.run_ok(&env.bundle(&["sh", "-c", script]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["00", "00", "00", "00", "8"]
    );
}

#[test]
fn dev_links() {
    let env = TestEnv::new("dev_links");
    let links = "/dev/ptmx /dev/fd /dev/stdin /dev/stdout /dev/stderr";
    let out = env.run_ok(&env.bundle(&[
        "sh",
        "-c",
        &format!("for l in {links}; do readlink $l; done"),
    ]));
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got,
        [
            "pts/ptmx",
            "/proc/self/fd",
            "/proc/self/fd/0",
            "/proc/self/fd/1",
            "/proc/self/fd/2"
        ]
    );
}

#[test]
fn linux_devices_are_created() {
    let env = TestEnv::new("linux_devices_are_created");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "stat -c '%F %t:%T %a %u:%g' /dev/berthnull && echo hi > /dev/berthnull",
    ]);
    b.linux()["devices"] = json!([{"path": "/dev/berthnull", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o620, "uid": 0, "gid": 34}]);
    b.linux()["resources"]["devices"] = json!([{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]);
    assert_eq!(env.run_ok(&b), "character special file 1:3 620 0:34\n");
}

#[test]
fn default_masked_paths() {
    let env = TestEnv::new("default_masked_paths");
    // Only those this kernel has: masking a missing path is a no-op.
    let files: Vec<&str> = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]
    .into_iter()
    .filter(|f| std::path::Path::new(f).exists())
    .collect();
    assert!(!files.is_empty(), "no maskable /proc file on this kernel");
    let script = format!(
        "for f in {}; do echo $f $(wc -c < $f); done; ls -A /sys/firmware | wc -l",
        files.join(" ")
    );
    let out = env.run_ok(&env.bundle(&["sh", "-c", &script]));
    let lines: Vec<&str> = out.lines().collect();
    for (f, line) in files.iter().zip(&lines) {
        assert_eq!(*line, format!("{f} 0"), "{f} readable:\n{out}");
    }
    assert_eq!(
        lines[files.len()].trim(),
        "0",
        "/sys/firmware listed:\n{out}"
    );
}

#[test]
fn masked_paths_hide_files_and_dirs() {
    let env = TestEnv::new("masked_paths_hide");
    let mut b = env.bundle(&["sh", "-c", "cat /secret.txt; ls -A /secretdir; echo end"]);
    std::fs::write(b.rootfs().join("secret.txt"), "s3cret\n").unwrap();
    std::fs::create_dir(b.rootfs().join("secretdir")).unwrap();
    std::fs::write(b.rootfs().join("secretdir/inner"), "x").unwrap();
    b.linux()["maskedPaths"] = json!(["/secret.txt", "/secretdir", "/does/not/exist"]);
    assert_eq!(env.run_ok(&b), "end\n");
}

#[test]
fn readonly_paths() {
    let env = TestEnv::new("readonly_paths");
    let script = "touch /tmp/x 2>/dev/null && echo tmp-writable || echo tmp-readonly; \
                  touch /x && echo root-writable; cat /proc/self/mountinfo";
    let mut b = env.bundle(&["sh", "-c", script]);
    b.set_writable();
    b.linux()["readonlyPaths"] = json!(["/tmp", "/proc/sys", "/does/not/exist"]);
    let out = env.run_ok(&b);
    assert!(out.starts_with("tmp-readonly\nroot-writable\n"), "{out}");
    assert!(
        mount_at(&out, "/proc/sys")
            .expect("/proc/sys remounted")
            .has("ro"),
        "{out}"
    );
}

#[test]
fn devpts_gives_a_private_ptmx() {
    let env = TestEnv::new("devpts_private_ptmx");
    let out = env.run_ok(&env.bundle(&["sh", "-c", "ls /dev/pts; cat /proc/self/mountinfo"]));
    let pts = mount_at(&out, "/dev/pts").expect("devpts");
    assert!(
        pts.super_options.iter().any(|o| o == "ptmxmode=666"),
        "{pts:?}"
    );
    // A new instance: none of the host's ptys show.
    assert_eq!(out.lines().next(), Some("ptmx"), "{out}");
}

/// A bundle with CAP_MKNOD, running `script`, whose device list is deny-all then `allow`.
fn device_bundle(
    env: &TestEnv,
    script: &str,
    allow: serde_json::Value,
) -> integration_tests::Bundle {
    let mut b = env.bundle(&["sh", "-c", script]);
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_MKNOD"]);
    for set in ["bounding", "effective", "permitted"] {
        b.process()["capabilities"][set] = caps.clone();
    }
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    rules.extend(allow.as_array().unwrap().iter().cloned());
    b.linux()["resources"]["devices"] = json!(rules);
    // Listed, so the runtime creates it; opening it still takes a rule.
    b.linux()["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]);
    b
}

#[test]
fn mknod_of_a_device_not_allowed_fails() {
    if skip_for_runc("runc allows mknod of every device (c *:* m, b *:* m)") {
        return;
    }
    let env = TestEnv::new("mknod_not_allowed");
    let script = "mknod /dev/disk b 8 0 && echo made; mknod /dev/mem c 1 1 && echo made; \
                  mknod /dev/fuse c 10 229 && echo fuse made";
    let b = device_bundle(
        &env,
        script,
        json!([
        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "m"}]),
    );
    let out = env.run(&b);
    out.assert_ok("run");
    assert_eq!(out.stdout, "fuse made\n", "{out:#?}");
    assert_eq!(
        out.stderr.matches("Operation not permitted").count(),
        2,
        "{out:#?}"
    );
}

#[test]
fn a_denied_device_cannot_be_opened_an_allowed_one_can() {
    let env = TestEnv::new("device_open");
    // Writing to /dev/kmsg needs no capability, only the device cgroup's permission.
    let script = "echo '<7>berth device test' > /dev/kmsg && echo written";
    let denied = device_bundle(&env, script, json!([]));
    let out = env.run(&denied);
    assert_eq!(out.stdout, "", "{out:#?}");
    assert_contains(&out.stderr, "Operation not permitted");

    let allowed = device_bundle(
        &env,
        script,
        json!([
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]),
    );
    assert_eq!(env.run_ok(&allowed), "written\n");
}
