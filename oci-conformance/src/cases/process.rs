//! `process`: args, env, cwd, user, umask, capabilities, rlimits, oom_score_adj, scheduling.

use super::{checked, refused, strs, Case};
use crate::bundle::{Suite, CHECKER};
use crate::outcome::CaseResult;
use serde_json::json;

pub const CASES: &[Case] = &[
    Case::new("process_defaults", defaults),
    Case::new("process_args", args),
    Case::new("process_env", env),
    Case::new("process_cwd", cwd),
    Case::new("process_user", user),
    Case::new("process_umask", umask),
    Case::new("process_capabilities", capabilities),
    Case::new("process_capabilities_ambient", capabilities_ambient),
    Case::new("process_capability_sys_resource", capability_sys_resource),
    Case::new("process_capability_unknown", capability_unknown),
    Case::new("process_no_new_privileges_off", nnp_off),
    Case::new("process_rlimits", rlimits),
    Case::new("process_rlimit_unknown", rlimit_unknown),
    Case::new("process_oom_score_adj", oom_score_adj),
    Case::new("process_scheduler", scheduler),
    Case::new("process_io_priority", io_priority),
];

fn defaults(s: &Suite) -> CaseResult {
    checked(
        s,
        "defaults",
        &[
            "args", "env", "cwd", "user", "caps", "nnp", "rlimits", "seccomp",
        ],
        |_| {},
    )
}

fn args(s: &Suite) -> CaseResult {
    let mut b = crate::bundle::Bundle::new(s, "args")?;
    b.config["process"]["args"] = strs(&[CHECKER, "args", "--", "two words", "", "ünïcode"]);
    let out = b.run()?;
    crate::bundle::verdict(&["args"], &out)
}

fn env(s: &Suite) -> CaseResult {
    checked(s, "env", &["env"], |b| {
        b.config["process"]["env"] = strs(&["PATH=/bin", "WITH_SPACE=a b", "EMPTY=", "EQ=x=y"]);
    })
}

fn cwd(s: &Suite) -> CaseResult {
    checked(s, "cwd", &["cwd"], |b| {
        b.config["process"]["cwd"] = json!("/root")
    })
}

fn user(s: &Suite) -> CaseResult {
    checked(s, "user", &["user"], |b| {
        b.config["process"]["user"] =
            json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 1002]});
    })
}

fn umask(s: &Suite) -> CaseResult {
    checked(s, "umask", &["umask"], |b| {
        b.config["process"]["user"]["umask"] = json!(0o077)
    })
}

// After execve the kernel recomputes the sets, so only configs it leaves unchanged can be
// compared exactly: for root with noNewPrivileges, effective = permitted and nothing beyond
// permitted; for another user only the ambient set survives into permitted and effective.
fn capabilities(s: &Suite) -> CaseResult {
    checked(s, "caps", &["caps"], |b| {
        let perm = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"];
        b.config["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETPCAP"],
            "permitted": perm,
            "effective": perm,
            "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
            "ambient": ["CAP_KILL"]
        });
    })
}

fn capabilities_ambient(s: &Suite) -> CaseResult {
    checked(s, "capsamb", &["caps", "user"], |b| {
        let set = ["CAP_KILL", "CAP_NET_RAW"];
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.config["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
            "permitted": set, "effective": set, "inheritable": set, "ambient": set
        });
    })
}

fn capability_sys_resource(s: &Suite) -> CaseResult {
    if crate::bundle::host_bounding_set() & (1 << caps::Capability::CAP_SYS_RESOURCE.index()) == 0 {
        crate::skip!("CAP_SYS_RESOURCE is not in this host's bounding set");
    }
    checked(s, "capsysres", &["caps"], |b| {
        let set = ["CAP_KILL", "CAP_SYS_RESOURCE"];
        b.config["process"]["capabilities"] =
            json!({"bounding": set, "permitted": set, "effective": set});
    })
}

fn capability_unknown(s: &Suite) -> CaseResult {
    refused(s, "capunknown", |b| {
        let caps = &mut b.config["process"]["capabilities"];
        for set in ["bounding", "permitted", "effective"] {
            caps[set] = strs(&["CAP_KILL", "CAP_CONFORMANCE_UNKNOWN"]);
        }
    })
}

fn nnp_off(s: &Suite) -> CaseResult {
    checked(s, "nnpoff", &["nnp"], |b| {
        b.config["process"]["noNewPrivileges"] = json!(false)
    })
}

fn rlimits(s: &Suite) -> CaseResult {
    checked(s, "rlimits", &["rlimits"], |b| {
        // Only lowering: raising a hard limit needs CAP_SYS_RESOURCE, which this host lacks.
        b.config["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192}
        ]);
    })
}

fn rlimit_unknown(s: &Suite) -> CaseResult {
    refused(s, "rlimitunknown", |b| {
        b.config["process"]["rlimits"] =
            json!([{"type": "RLIMIT_CONFORMANCE", "soft": 1, "hard": 1}]);
    })
}

fn oom_score_adj(s: &Suite) -> CaseResult {
    checked(s, "oom", &["oom"], |b| {
        b.config["process"]["oomScoreAdj"] = json!(345)
    })
}

fn scheduler(s: &Suite) -> CaseResult {
    checked(s, "sched", &["scheduler"], |b| {
        b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    })
}

fn io_priority(s: &Suite) -> CaseResult {
    checked(s, "ioprio", &["ioprio"], |b| {
        b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 5});
    })
}
