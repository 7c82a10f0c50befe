//! Issue 2 item 5, the process: identity, limits, capabilities and environment, read from
//! inside the container.

use integration_tests::{assert_contains, skip_for_runc, TestEnv};
use serde_json::json;

/// The value of `field` in /proc/self/status as printed by the container.
fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from:\n{status}"))
        .trim()
}

#[test]
fn hostname() {
    let env = TestEnv::new("hostname");
    let mut b = env.bundle(&["hostname"]);
    b.config["hostname"] = json!("box-1");
    assert_eq!(env.run_ok(&b), "box-1\n");
}

#[test]
fn domainname() {
    if skip_for_runc("runc 1.1 ignores domainname") {
        return;
    }
    let env = TestEnv::new("domainname");
    let mut b = env.bundle(&["cat", "/proc/sys/kernel/domainname"]);
    b.config["domainname"] = json!("example.test");
    assert_eq!(env.run_ok(&b), "example.test\n");
}

#[test]
fn sysctls_are_applied() {
    let env = TestEnv::new("sysctls_are_applied");
    let mut b = env.bundle(&[
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
    ]);
    b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "4242"});
    assert_eq!(env.run_ok(&b), "1\n4242\n");
}

#[test]
fn oom_score_adj() {
    let env = TestEnv::new("oom_score_adj");
    let mut b = env.bundle(&["cat", "/proc/self/oom_score_adj"]);
    b.process()["oomScoreAdj"] = json!(423);
    assert_eq!(env.run_ok(&b).trim(), "423");
}

#[test]
fn rlimits() {
    let env = TestEnv::new("rlimits");
    let mut b = env.bundle(&["cat", "/proc/self/limits"]);
    // Lowered only: the machine lacks CAP_SYS_RESOURCE to raise a hard limit.
    b.process()["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 900},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
    ]);
    let out = env.run_ok(&b);
    let limit = |name: &str| -> Vec<String> {
        let line = out.lines().find(|l| l.starts_with(name)).unwrap();
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["512", "900"], "{out}");
    assert_eq!(limit("Max core file size"), ["0", "4096"], "{out}");
    assert_eq!(limit("Max processes"), ["300", "400"], "{out}");
}

/// podman as root asks for nofile=1048576; a host that cannot grant it must say which limit.
#[test]
fn an_rlimit_the_host_refuses_is_named() {
    if skip_for_runc("runc's error gives the rlimit's number, not its name") {
        return;
    }
    let env = TestEnv::new("rlimit_refused");
    let mut b = env.bundle(&["true"]);
    // Above fs.nr_open: refused even with CAP_SYS_RESOURCE.
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    b.process()["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": nr_open + 1, "hard": nr_open + 1}
    ]);
    env.run(&b).assert_fails_naming(&["RLIMIT_NOFILE"]);
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_AUDIT_WRITE: u64 = 1 << 29;

fn cap_mask(status: &str, field: &str) -> u64 {
    u64::from_str_radix(status_field(status, field), 16).unwrap()
}

#[test]
fn capabilities_all_five_sets() {
    let env = TestEnv::new("capabilities_all_five_sets");
    let mut b = env.bundle(&["cat", "/proc/self/status"]);
    // A non-root user: after exec its permitted and effective sets are exactly the ambient
    // set, which the kernel only lets hold what is both permitted and inheritable.
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process()["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_KILL"]
    });
    let out = env.run_ok(&b);
    let all4 = CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE | CAP_AUDIT_WRITE;
    assert_eq!(cap_mask(&out, "CapBnd"), all4, "{out}");
    assert_eq!(
        cap_mask(&out, "CapInh"),
        CAP_KILL | CAP_NET_BIND_SERVICE,
        "{out}"
    );
    assert_eq!(cap_mask(&out, "CapAmb"), CAP_KILL, "{out}");
    assert_eq!(cap_mask(&out, "CapPrm"), CAP_KILL, "{out}");
    assert_eq!(cap_mask(&out, "CapEff"), CAP_KILL, "{out}");
}

#[test]
fn capabilities_of_root() {
    let env = TestEnv::new("capabilities_of_root");
    let mut b = env.bundle(&["cat", "/proc/self/status"]);
    b.process()["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL"],
        "effective": ["CAP_CHOWN", "CAP_KILL"]
    });
    let out = env.run_ok(&b);
    for set in ["CapBnd", "CapPrm", "CapEff"] {
        assert_eq!(cap_mask(&out, set), CAP_CHOWN | CAP_KILL, "{set}\n{out}");
    }
    assert_eq!(cap_mask(&out, "CapInh"), 0, "{out}");
    assert_eq!(cap_mask(&out, "CapAmb"), 0, "{out}");
}

#[test]
fn no_new_privileges() {
    let env = TestEnv::new("no_new_privileges");
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let mut b = env.bundle(&["cat", "/proc/self/status"]);
        b.process()["noNewPrivileges"] = json!(nnp);
        assert_eq!(status_field(&env.run_ok(&b), "NoNewPrivs"), want);
    }
}

#[test]
fn user_group_and_additional_groups() {
    let env = TestEnv::new("user_group_additional_groups");
    let mut b = env.bundle(&["cat", "/proc/self/status"]);
    b.process()["user"] = json!({"uid": 1234, "gid": 2345, "additionalGids": [10, 20]});
    let out = env.run_ok(&b);
    let ids = |f: &str| {
        status_field(&out, f)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("Uid"), ["1234"; 4], "{out}");
    assert_eq!(ids("Gid"), ["2345"; 4], "{out}");
    assert_eq!(ids("Groups"), ["10", "20"], "{out}");
}

#[test]
fn umask() {
    let env = TestEnv::new("umask");
    let mut b = env.bundle(&["sh", "-c", "umask"]);
    b.process()["user"]["umask"] = json!(0o027);
    assert_eq!(env.run_ok(&b).trim(), "0027");
}

#[test]
fn cwd() {
    let env = TestEnv::new("cwd");
    let mut b = env.bundle(&["pwd"]);
    b.process()["cwd"] = json!("/tmp");
    assert_eq!(env.run_ok(&b).trim(), "/tmp");
}

#[test]
fn env_is_exactly_the_configured_one() {
    let env = TestEnv::new("env_exact");
    let mut b = env.bundle(&["env"]);
    // HOME given, since runtimes add it from /etc/passwd when it is missing.
    b.process()["env"] = json!(["PATH=/bin", "GREETING=hello world", "EMPTY=", "HOME=/h"]);
    let out = env.run_ok(&b);
    let mut vars: Vec<&str> = out.lines().collect();
    vars.sort();
    // busybox sh is not involved (env is exec'd directly), so nothing is added.
    assert_eq!(
        vars,
        ["EMPTY=", "GREETING=hello world", "HOME=/h", "PATH=/bin"],
        "{out}"
    );
}

#[test]
fn args_reach_the_program_intact() {
    let env = TestEnv::new("args_intact");
    let b = env.bundle(&["sh", "-c", "printf '%s|' \"$@\"", "argv0", "a b", "", "c'd"]);
    assert_eq!(env.run_ok(&b), "a b||c'd|");
}

#[test]
fn personality() {
    if skip_for_runc("runc 1.1 ignores linux.personality") {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: LINUX32 is checked on x86_64 only");
        return;
    }
    let env = TestEnv::new("personality");
    let mut b = env.bundle(&["uname", "-m"]);
    b.linux()["personality"] = json!({"domain": "LINUX32"});
    assert_contains(&env.run_ok(&b), "i686");
}

/// runc gives every container a session keyring of its own, `_ses.<id>`; `--no-new-keyring`
/// keeps the caller's. Read from inside, with /proc/keys unmasked.
#[test]
fn session_keyring_of_its_own_unless_no_new_keyring() {
    let env = TestEnv::new("session_keyring");
    let mut b = env.bundle(&["cat", "/proc/keys"]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.save();
    for (flag, expect_own) in [(None, true), (Some("--no-new-keyring"), false)] {
        let id = env.id();
        let mut args = vec!["run", "--bundle", b.path_str()];
        args.extend(flag);
        args.push(&id);
        let out = env.rt.run_cmd(&args);
        out.assert_ok("run");
        let own = format!("keyring   _ses.{id}:");
        assert_eq!(
            out.stdout.contains(&own),
            expect_own,
            "{flag:?}:\n{}",
            out.stdout
        );
    }
}
