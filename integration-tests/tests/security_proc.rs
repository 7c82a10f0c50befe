//! Issue 12 items 2, 3 and 4: a hostile image or config must not decide the capabilities the
//! container keeps, reach the host's /proc/sys through berth's writes, mount over /proc, or
//! un-mask a masked path. Each test performs the attack and asserts the host is untouched.

use integration_tests::{host, is_runc, skip_for_runc, Bundle, Out, TestEnv, STATE_TIMEOUT};
use serde_json::json;
use std::os::unix::fs::symlink;

/// CAP_KILL (5), CAP_NET_BIND_SERVICE (10) and CAP_AUDIT_WRITE (29): the test bundle's
/// bounding set.
const CONFIG_BOUNDING: u64 = (1 << 5) | (1 << 10) | (1 << 29);

fn cap_bnd(status: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap_or_else(|| panic!("no CapBnd in {status:?}"));
    let hex = line.split_whitespace().nth(1).expect("CapBnd value");
    u64::from_str_radix(hex, 16).expect("CapBnd is hex")
}

/// The words an error must contain: berth names the config field; runc 1.1 names the path.
fn field_or_path<'a>(field: &'a str, path: &'a str) -> Vec<&'a str> {
    if is_runc() {
        vec![path]
    } else {
        vec![field]
    }
}

/// True when the command failed naming one of `words`; false when it ran.
fn refused(out: &Out, words: &[&str]) -> bool {
    if out.success() {
        return false;
    }
    out.assert_fails_naming(words);
    true
}

/// (a) Item 2: an image symlink /data -> /proc/sys/kernel and a volume at /data with a
/// `cap_last_cap` of 0 must not leave every capability in the bounding set.
#[test]
fn cap_last_cap_from_a_volume_does_not_widen_the_bounding_set() {
    let env = TestEnv::new("cap_last_cap_volume");
    let mut b = env.bundle(&["grep", "CapBnd", "/proc/self/status"]);
    symlink("/proc/sys/kernel", b.rootfs().join("data")).unwrap();
    let vol = env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    std::fs::write(vol.join("cap_last_cap"), "0\n").unwrap();
    b.add_mount(json!({"destination": "/data", "type": "bind",
        "source": vol.to_str().unwrap(), "options": ["rbind"]}));
    let index = b.config["mounts"].as_array().unwrap().len() - 1;
    let field = format!("mounts[{index}]");
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
    if refused(&out, &field_or_path(&field, "/proc")) {
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
        return;
    }
    assert_eq!(
        cap_bnd(&out.stdout),
        CONFIG_BOUNDING,
        "the container's bounding set is not the config's: {out:#?}"
    );
}

/// (b) Item 2: without a proc mount, the image's own /proc/sys/kernel/cap_last_cap must not
/// decide how many capabilities are dropped.
#[test]
fn cap_last_cap_from_the_image_does_not_widen_the_bounding_set() {
    if skip_for_runc("runc 1.1.5 cannot start without a proc mount (it lists /proc/self/fd)") {
        return;
    }
    let env = TestEnv::new("cap_last_cap_image");
    let mut b = env.bundle(&["sleep", "1000"]);
    b.remove_mount("/proc");
    b.linux()["maskedPaths"] = json!([]);
    b.linux()["readonlyPaths"] = json!([]);
    let kernel = b.rootfs().join("proc/sys/kernel");
    std::fs::create_dir_all(&kernel).unwrap();
    std::fs::write(kernel.join("cap_last_cap"), "0\n").unwrap();
    let id = env.create(&b);
    let pid = env.wait_status(&id, "created")["pid"]
        .as_i64()
        .expect("state has the pid");
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    // The program runs once its command line is sleep's (after execve).
    let status = integration_tests::poll(STATE_TIMEOUT, "the container to exec", || {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        cmdline
            .starts_with(b"sleep\0")
            .then(|| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .flatten()
    });
    assert_eq!(
        cap_bnd(&status),
        CONFIG_BOUNDING,
        "the container's bounding set is not the config's"
    );
    env.rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete");
}

/// Restores a host sysctl when dropped, so a failing test does not leave the host changed.
struct RestoreSysctl {
    path: &'static str,
    value: String,
}

impl Drop for RestoreSysctl {
    fn drop(&mut self) {
        if std::fs::read_to_string(self.path).ok().as_deref() != Some(&self.value) {
            let _ = std::fs::write(self.path, &self.value);
        }
    }
}

/// (c) Item 3: a symlink /data -> /proc/sys/net and a volume there whose `x` links to
/// /proc/sys/kernel must not turn a namespaced `net.*` sysctl into a write of the host's
/// kernel.printk_ratelimit.
#[test]
fn sysctl_cannot_be_redirected_to_a_host_sysctl() {
    const HOST: &str = "/proc/sys/kernel/printk_ratelimit";
    let before = std::fs::read_to_string(HOST).unwrap();
    let _restore = RestoreSysctl {
        path: HOST,
        value: before.clone(),
    };
    let value = if before.trim() == "8" { "9" } else { "8" };
    let env = TestEnv::new("sysctl_redirect");
    let mut b = env.bundle(&["true"]);
    symlink("/proc/sys/net", b.rootfs().join("data")).unwrap();
    let vol = env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    symlink("/proc/sys/kernel", vol.join("x")).unwrap();
    b.add_mount(json!({"destination": "/data", "type": "bind",
        "source": vol.to_str().unwrap(), "options": ["rbind"]}));
    b.linux()["sysctl"] = json!({"net.x.printk_ratelimit": value});
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
    assert_eq!(
        std::fs::read_to_string(HOST).unwrap(),
        before,
        "the host's kernel.printk_ratelimit was changed: {out:#?}"
    );
    if !out.success() {
        host::assert_nothing_left(&env.rt.root, &id, &b.dir);
    }
}

/// (c') Item 3, without a proc mount: the sysctl goes to the container's own namespace
/// through berth's procfs, whatever the image has under /proc.
#[test]
fn sysctl_without_a_proc_mount_writes_the_container_namespace() {
    if skip_for_runc("runc 1.1 writes sysctls through the container's /proc") {
        return;
    }
    let env = TestEnv::new("sysctl_no_proc");
    let mut b = env.bundle(&["true"]);
    b.remove_mount("/proc");
    b.linux()["maskedPaths"] = json!([]);
    b.linux()["readonlyPaths"] = json!([]);
    let net = b.rootfs().join("proc/sys/net/ipv4");
    std::fs::create_dir_all(&net).unwrap();
    symlink("/etc/passwd", net.join("ip_forward")).unwrap();
    b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    env.run_ok(&b);
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n",
        "the sysctl was written through the image's /proc"
    );
}

/// Creates `b` (edited by the caller) and asserts it is refused naming `field` (runc: the
/// path), leaving nothing behind.
fn create_refused(env: &TestEnv, b: &Bundle, field: &str, path: &str) {
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
    out.assert_fails_naming(&field_or_path(field, path));
    host::assert_nothing_left(&env.rt.root, &id, &b.dir);
}

/// (d) Item 3: mounts whose destination is inside /proc are refused.
#[test]
fn bind_inside_proc_is_refused() {
    let env = TestEnv::new("bind_inside_proc");
    let mut b = env.bundle(&["true"]);
    let vol = env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    b.add_mount(json!({"destination": "/proc/sys/kernel", "type": "bind",
        "source": vol.to_str().unwrap(), "options": ["rbind"]}));
    let index = b.config["mounts"].as_array().unwrap().len() - 1;
    create_refused(&env, &b, &format!("mounts[{index}]"), "/proc");
}

/// (d) Item 3: not only binds: any filesystem mounted inside /proc is refused, also when the
/// destination reaches /proc through an image symlink.
#[test]
fn tmpfs_inside_proc_is_refused() {
    if skip_for_runc("runc 1.1.5 checks only bind destinations against /proc") {
        return;
    }
    for (link, dest) in [
        (None, "/proc/sys/kernel"),
        (Some("../proc/sys"), "/etc/sysdir/vm"),
    ] {
        let env = TestEnv::new("tmpfs_inside_proc");
        let mut b = env.bundle(&["true"]);
        if let Some(target) = link {
            symlink(target, b.rootfs().join("etc/sysdir")).unwrap();
        }
        b.add_mount(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}));
        let index = b.config["mounts"].as_array().unwrap().len() - 1;
        create_refused(&env, &b, &format!("mounts[{index}]"), "/proc");
    }
}

/// (d) Item 3: a volume over /proc is refused.
#[test]
fn volume_over_proc_is_refused() {
    let env = TestEnv::new("volume_over_proc");
    let mut b = env.bundle(&["true"]);
    let vol = env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    b.add_mount(json!({"destination": "/proc", "type": "bind",
        "source": vol.to_str().unwrap(), "options": ["rbind"]}));
    let index = b.config["mounts"].as_array().unwrap().len() - 1;
    create_refused(&env, &b, &format!("mounts[{index}]"), "proc");
}

/// (d) Item 3: something other than procfs at /proc is refused.
#[test]
fn tmpfs_at_proc_is_refused() {
    let env = TestEnv::new("tmpfs_at_proc");
    let mut b = env.bundle(&["true"]);
    b.remove_mount("/proc");
    b.add_mount(json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}));
    let index = b.config["mounts"].as_array().unwrap().len() - 1;
    create_refused(&env, &b, &format!("mounts[{index}]"), "proc");
}

/// (d) Item 3: /proc and /sys must be ordinary directories in the image: a symlink there is
/// refused rather than followed (berth mounted proc at the link's target).
#[test]
fn symlinked_proc_or_sys_is_refused() {
    for (dir, typ) in [("proc", "proc"), ("sys", "sysfs")] {
        let env = TestEnv::new(&format!("symlinked_{dir}"));
        let b = env.bundle(&["true"]);
        let target = b.rootfs().join("tmp").join(dir);
        std::fs::create_dir(&target).unwrap();
        std::fs::remove_dir(b.rootfs().join(dir)).unwrap();
        symlink(format!("tmp/{dir}"), b.rootfs().join(dir)).unwrap();
        let index = b.config["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .position(|m| m["destination"] == format!("/{dir}"))
            .unwrap();
        let field = format!("mounts[{index}]");
        create_refused(&env, &b, &field, if is_runc() { typ } else { &field });
        assert!(
            host::dir_entries(&target).is_empty(),
            "{typ} was mounted at the symlink's target"
        );
    }
}

/// (e) Item 4: a bind-mounted /dev whose `null` is not the null device (a symlink to
/// /proc/timer_list, or a regular file) must not be used to mask /proc/keys.
#[test]
fn masking_uses_only_the_real_null_device() {
    if skip_for_runc("runc 1.1.5 is vulnerable to CVE-2025-31133 (it binds whatever /dev/null is)")
    {
        return;
    }
    for fake in ["symlink", "file"] {
        let env = TestEnv::new(&format!("mask_null_{fake}"));
        let mut b = env.bundle(&[
            "sh",
            "-c",
            "stat -c 'dev %t:%T' /proc/keys; head -c 4096 /proc/keys",
        ]);
        for dest in ["/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"] {
            b.remove_mount(dest);
        }
        let dev = env.dir.join("dev");
        std::fs::create_dir(&dev).unwrap();
        match fake {
            "symlink" => symlink("/proc/timer_list", dev.join("null")).unwrap(),
            _ => std::fs::write(dev.join("null"), "not the null device\n").unwrap(),
        }
        b.add_mount(json!({"destination": "/dev", "type": "bind",
            "source": dev.to_str().unwrap(), "options": ["rbind"]}));
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["run", "--bundle", b.path_str(), &id]);
        if !out.success() {
            out.assert_fails_naming(&["linux.maskedPaths", "/dev/null"]);
            host::assert_nothing_left(&env.rt.root, &id, &b.dir);
            continue;
        }
        assert!(
            out.stdout.starts_with("dev 1:3\n") && out.stdout.len() == "dev 1:3\n".len(),
            "/proc/keys is not masked by the null device ({fake}): {out:#?}"
        );
    }
}

/// Berth's own procfs works where it is hardest to make: a container in a user namespace of
/// unprivileged host ids, with a time namespace (offsets written before the init exists), a
/// sysctl, oomScoreAdj, and an exec'd process.
#[test]
fn private_procfs_in_an_unprivileged_user_namespace() {
    if skip_for_runc("runc 1.1 has no time namespace support") {
        return;
    }
    let env = TestEnv::new("private_procfs_userns");
    let mut b = env.bundle(&["sleep", "1000"]);
    for ns in ["user", "time"] {
        b.add_namespace(ns, None);
    }
    let maps = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.linux()["uidMappings"] = maps.clone();
    b.linux()["gidMappings"] = maps;
    b.remove_mount("/sys/fs/cgroup");
    b.linux()["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
    b.linux()["sysctl"] = json!({"kernel.msgmax": "4343"});
    b.process()["oomScoreAdj"] = json!(321);
    let id = env.create(&b);
    env.rt.run_cmd(&["start", &id]).assert_ok("start");
    let script = "cat /proc/self/oom_score_adj /proc/sys/kernel/msgmax; cut -d. -f1 /proc/uptime";
    let out = env.rt.run_cmd(&["exec", &id, "sh", "-c", script]);
    out.assert_ok("exec");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..2], ["321", "4343"], "{out:#?}");
    let uptime: u64 = lines[2].parse().expect("uptime");
    assert!(uptime >= 864000, "no boottime offset: {out:#?}");
    env.rt
        .run_cmd(&["delete", "--force", &id])
        .assert_ok("delete");
}

/// An image without /proc or /sys directories gets them made (as runc does), not refused.
#[test]
fn missing_proc_and_sys_directories_are_made() {
    let env = TestEnv::new("missing_proc_sys");
    let b = env.bundle(&["sh", "-c", "stat -f -c %T /proc /sys"]);
    for dir in ["proc", "sys"] {
        std::fs::remove_dir(b.rootfs().join(dir)).unwrap();
    }
    let out = env.run_ok(&b);
    assert_eq!(out, "proc\nsysfs\n");
}
