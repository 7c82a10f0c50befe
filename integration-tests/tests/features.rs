//! Issue 5 item 2, `features`: runc's JSON shape, and every claim checked against behaviour:
//! what is advertised is accepted, what is not (or is disabled) is refused.

use integration_tests::{skip_for_runc, Bundle, TestEnv};
use serde_json::{json, Value};

fn features(env: &TestEnv) -> Value {
    let out = env.rt.run_cmd(&["features"]);
    out.assert_ok("features");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.stdout))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn features_has_runcs_shape() {
    let env = TestEnv::new("features_shape");
    let f = features(&env);
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(
        f["ociVersionMax"].as_str().unwrap().starts_with("1."),
        "{f}"
    );
    let hooks = strings(&f["hooks"]);
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.iter().any(|x| x == h), "{h} missing: {hooks:?}");
    }
    let linux = &f["linux"];
    for ns in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(
            strings(&linux["namespaces"]).iter().any(|x| x == ns),
            "{ns}"
        );
    }
    assert_eq!(linux["cgroup"]["v1"], true);
    assert_eq!(linux["seccomp"]["enabled"], true);
    assert!(strings(&linux["seccomp"]["actions"]).contains(&"SCMP_ACT_ERRNO".to_owned()));
    assert!(strings(&linux["seccomp"]["archs"]).contains(&"SCMP_ARCH_X86_64".to_owned()));
    assert!(linux["apparmor"]["enabled"].is_boolean());
    assert!(linux["selinux"]["enabled"].is_boolean());
    assert!(f["annotations"].is_object());
    // runc leaves out what it has nothing to say about rather than printing null.
    assert!(!out_has_null(&f), "{f}");
}

fn out_has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().any(out_has_null),
        Value::Array(a) => a.iter().any(out_has_null),
        _ => false,
    }
}

/// A bundle mounting something at /mnt with `option`: a bind of a host dir for the options
/// that make a bind (with the mappings `idmap` and `ridmap` need), else a tmpfs.
fn mount_bundle(env: &TestEnv, option: &str) -> Bundle {
    let mut b = env.bundle(&["true"]);
    let mount = if option == "bind" || option == "rbind" {
        let src = env.dir.join(format!("src-{option}"));
        std::fs::create_dir_all(&src).unwrap();
        json!({"destination": "/mnt", "type": "bind", "source": src, "options": [option]})
    } else if option == "idmap" || option == "ridmap" {
        let src = env.dir.join(format!("src-{option}"));
        std::fs::create_dir_all(&src).unwrap();
        let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        json!({"destination": "/mnt", "type": "bind", "source": src,
               "options": ["rbind", option], "uidMappings": map, "gidMappings": map})
    } else {
        json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": [option]})
    };
    b.add_mount(mount);
    b
}

/// Options that only make sense on an existing mount: `remount` of a fresh tmpfs at /mnt
/// (not yet a mount point) fails in every runtime, advertised or not.
const NEEDS_EXISTING_MOUNT: &[&str] = &["remount"];

#[test]
fn every_advertised_mount_option_is_accepted_by_create() {
    let env = TestEnv::new("features_mount_options");
    let f = features(&env);
    let mut refused = Vec::new();
    for option in strings(&f["mountOptions"]) {
        if NEEDS_EXISTING_MOUNT.contains(&option.as_str()) {
            continue;
        }
        if option == "defaults"
            && skip_for_runc("runc 1.1.5 advertises `defaults` but passes it to mount(2) as data")
        {
            continue;
        }
        let b = mount_bundle(&env, &option);
        b.save();
        let id = env.id();
        let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
        if !out.success() {
            refused.push(format!("{option}: {}", out.stderr.trim()));
        }
        let _ = env.rt.run_cmd(&["delete", "--force", &id]);
    }
    assert!(
        refused.is_empty(),
        "advertised but refused:\n{}",
        refused.join("\n")
    );
}

#[test]
fn an_unadvertised_mount_option_is_refused() {
    let env = TestEnv::new("features_unadvertised_option");
    let f = features(&env);
    let options = strings(&f["mountOptions"]);
    let advertised = |o: &str| options.iter().any(|x| x == o);
    if f["linux"]["mountExtensions"]["idmap"]["enabled"] == true {
        // Enabled: both spellings are advertised, so the test above creates a container with
        // each; there is nothing unadvertised left to refuse.
        assert!(advertised("idmap") && advertised("ridmap"), "{f}");
        return;
    }
    assert!(!advertised("idmap"));
    // A tmpfs with the option: a runtime that does not know it must not take it for data.
    let mut b = env.bundle(&["true"]);
    b.add_mount(
        json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
    );
    b.save();
    let id = env.id();
    let out = env.rt.run_cmd(&["create", "--bundle", b.path_str(), &id]);
    out.assert_fails_naming(&["idmap"]);
}

/// Every advertised namespace can be made: one container with all of them, each of its
/// namespaces different from the host's.
#[test]
fn every_advertised_namespace_is_created() {
    let env = TestEnv::new("features_namespaces");
    let f = features(&env);
    let kinds = strings(&f["linux"]["namespaces"]);
    let mut b = env.bundle(&["sh", "-c", "for f in /proc/self/ns/*; do readlink $f; done"]);
    for kind in &kinds {
        b.remove_namespace(kind);
        b.add_namespace(kind, None);
    }
    if kinds.iter().any(|k| k == "user") {
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.linux()["uidMappings"] = map.clone();
        b.linux()["gidMappings"] = map;
    }
    let out = env.run_ok(&b);
    for kind in &kinds {
        let proc_name = match kind.as_str() {
            "mount" => "mnt",
            "network" => "net",
            k => k,
        };
        let host = std::fs::read_link(format!("/proc/self/ns/{proc_name}")).unwrap();
        let host = host.to_string_lossy();
        let prefix = format!("{proc_name}:[");
        let inside = out
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {proc_name} in:\n{out}"));
        assert_ne!(inside, host, "{kind} is the host's");
    }
}

/// The kernel's capability numbers (linux/capability.h), to read CapEff masks.
const KERNEL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn cap_eff(status: &str) -> u64 {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff in:\n{status}"));
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

/// Every capability the kernel knows is advertised, and each one this machine lets us hold
/// (no CAP_SYS_RESOURCE here) is granted: CapEff inside has exactly those bits.
#[test]
fn every_advertised_capability_is_granted() {
    let env = TestEnv::new("features_capabilities");
    let f = features(&env);
    let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let advertised = strings(&f["linux"]["capabilities"]);
    let ours = cap_eff(&std::fs::read_to_string("/proc/self/status").unwrap());
    let mut grant = Vec::new();
    let mut want = 0u64;
    for (bit, name) in KERNEL_CAPS.iter().enumerate().take(last + 1) {
        assert!(
            advertised.iter().any(|a| a == name),
            "{name} not advertised"
        );
        if ours & (1 << bit) != 0 {
            grant.push(*name);
            want |= 1 << bit;
        }
    }
    let mut b = env.bundle(&["cat", "/proc/self/status"]);
    let set = json!(grant);
    b.process()["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set,
    });
    assert_eq!(cap_eff(&env.run_ok(&b)), want);
}

/// A profile using every advertised action (but NOTIFY, which needs an agent), operator,
/// architecture and supported flag runs; an unadvertised architecture is refused.
#[test]
fn every_advertised_seccomp_feature_is_accepted() {
    let env = TestEnv::new("features_seccomp");
    let f = features(&env);
    let sc = &f["linux"]["seccomp"];
    // Syscalls `echo` never makes, one per rule.
    let mut unused = [
        "acct",
        "swapon",
        "swapoff",
        "reboot",
        "kexec_load",
        "init_module",
        "delete_module",
        "quotactl",
        "syslog",
        "vhangup",
        "iopl",
        "ioperm",
        "settimeofday",
        "adjtimex",
        "sethostname",
        "setdomainname",
    ]
    .into_iter();
    let mut rules = Vec::new();
    for act in strings(&sc["actions"]) {
        if act != "SCMP_ACT_NOTIFY" {
            rules.push(json!({"names": [unused.next().unwrap()], "action": act}));
        }
    }
    for op in strings(&sc["operators"]) {
        let arg = if op == "SCMP_CMP_MASKED_EQ" {
            json!({"index": 0, "value": 1, "valueTwo": 1, "op": op})
        } else {
            json!({"index": 0, "value": 1, "op": op})
        };
        rules.push(
            json!({"names": [unused.next().unwrap()], "action": "SCMP_ACT_ERRNO",
            "args": [arg]}),
        );
    }
    let mut archs = strings(&sc["archs"]);
    if skip_for_runc("runc 1.1.5 advertises every libseccomp arch but cannot add foreign ones") {
        archs.retain(|a| a.starts_with("SCMP_ARCH_X"));
    }
    let mut b = env.bundle(&["echo", "filtered"]);
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": archs,
        "flags": sc["supportedFlags"],
        "syscalls": rules,
    });
    assert_eq!(env.run_ok(&b), "filtered\n");

    let archs = strings(&sc["archs"]);
    let Some(other) = ["SCMP_ARCH_ARM", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64"]
        .into_iter()
        .find(|a| !archs.iter().any(|x| x == a))
    else {
        return; // every architecture advertised (runc's libseccomp)
    };
    let mut b = env.bundle(&["true"]);
    b.linux()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [other]});
    let out = env.run(&b);
    out.assert_fails_naming(&[other]);
}

/// Turns a working bundle into one using a feature.
type Change = fn(&mut Bundle);

/// What is reported disabled is refused, not silently ignored.
#[test]
fn disabled_features_are_refused() {
    let env = TestEnv::new("features_disabled");
    let f = features(&env);
    let linux = &f["linux"];
    let mut checked = 0;
    let cases: [(&Value, &str, Change); 3] = [
        (&linux["apparmor"]["enabled"], "apparmorProfile", |b| {
            b.process()["apparmorProfile"] = json!("berth-test");
        }),
        (&linux["selinux"]["enabled"], "selinuxLabel", |b| {
            b.process()["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
        }),
        (&linux["intelRdt"]["enabled"], "intelRdt", |b| {
            b.linux()["intelRdt"] = json!({"closID": "berth-test"});
        }),
    ];
    for (enabled, field, change) in cases {
        if enabled != false {
            continue; // enabled or not reported: nothing claimed
        }
        let mut b = env.bundle(&["true"]);
        change(&mut b);
        env.run(&b).assert_fails_naming(&[field]);
        checked += 1;
    }
    if !integration_tests::is_runc() {
        assert_eq!(checked, 3, "berth reports all of these disabled");
    }
}
