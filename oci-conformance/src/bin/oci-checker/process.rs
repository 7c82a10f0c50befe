//! Checks of `process`: what the container's first process is and may do.

use crate::{errno, status_field, Check, Ctx};
use oci_conformance::names;
use serde_json::Value;
use std::str::FromStr;

fn process(ctx: &Ctx) -> &Value {
    &ctx.config["process"]
}

pub fn args(ctx: &Ctx) -> Check {
    let want: Vec<String> = process(ctx)["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let got: Vec<String> = std::env::args().collect();
    if got != want {
        return Err(format!("argv {got:?}, config says {want:?}"));
    }
    Ok(())
}

pub fn env(ctx: &Ctx) -> Check {
    for e in process(ctx)["env"].as_array().into_iter().flatten() {
        let e = e.as_str().unwrap_or("");
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        match std::env::var(k) {
            Ok(got) if got == v => {}
            Ok(got) => return Err(format!("{k}={got}, config says {v}")),
            Err(_) => return Err(format!("{k} not set")),
        }
    }
    Ok(())
}

pub fn cwd(ctx: &Ctx) -> Check {
    let want = process(ctx)["cwd"].as_str().unwrap_or("/");
    let got = std::env::current_dir().map_err(|e| e.to_string())?;
    if got.to_str() != Some(want) {
        return Err(format!("cwd {}, config says {want}", got.display()));
    }
    Ok(())
}

pub fn user(ctx: &Ctx) -> Check {
    let u = &process(ctx)["user"];
    let (uid, gid) = (
        u["uid"].as_u64().unwrap_or(0),
        u["gid"].as_u64().unwrap_or(0),
    );
    // SAFETY: these calls only read the calling process's credentials.
    let ids = unsafe {
        [
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        ]
    };
    if u64::from(ids[0]) != uid || u64::from(ids[1]) != uid {
        return Err(format!("uid {} euid {}, config says {uid}", ids[0], ids[1]));
    }
    if u64::from(ids[2]) != gid || u64::from(ids[3]) != gid {
        return Err(format!("gid {} egid {}, config says {gid}", ids[2], ids[3]));
    }
    let groups = status_field("Groups")?;
    let mut got: Vec<u64> = groups
        .split_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect();
    let mut want: Vec<u64> = u["additionalGids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    // Whether the primary gid also appears in the supplementary list differs between runtimes
    // and the spec says nothing of it.
    got.retain(|g| *g != gid);
    want.retain(|g| *g != gid);
    got.sort_unstable();
    want.sort_unstable();
    want.dedup();
    if got != want {
        return Err(format!(
            "supplementary groups {got:?}, config says {want:?}"
        ));
    }
    Ok(())
}

pub fn umask(ctx: &Ctx) -> Check {
    let Some(want) = process(ctx)["user"]["umask"].as_u64() else {
        return Err("config sets no umask".to_owned());
    };
    let got = u64::from_str_radix(&status_field("Umask")?, 8).map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!("umask {got:o}, config says {want:o}"));
    }
    Ok(())
}

/// The mask of the known capabilities a config lists; unknown names are the runtime's to
/// reject, which cases test on their own.
fn cap_mask(list: &Value) -> u64 {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| caps::Capability::from_str(v.as_str()?).ok())
        .fold(0, |m, c| m | (1u64 << c.index()))
}

pub fn caps(ctx: &Ctx) -> Check {
    let c = &process(ctx)["capabilities"];
    // A capability the host's bounding set lacks cannot be granted by any runtime.
    let host = ctx.expect["host_capbnd"].as_u64().unwrap_or(u64::MAX);
    let sets = [
        ("bounding", "CapBnd"),
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("inheritable", "CapInh"),
        ("ambient", "CapAmb"),
    ];
    for (set, field) in sets {
        let got = u64::from_str_radix(&status_field(field)?, 16).map_err(|e| e.to_string())?;
        let mut want = cap_mask(&c[set]) & host;
        // The kernel keeps ambient within permitted and inheritable; a runtime cannot do more.
        if set == "ambient" {
            want &= cap_mask(&c["permitted"]) & cap_mask(&c["inheritable"]);
        }
        if got != want {
            return Err(format!("{set}: {field} {got:#x}, config says {want:#x}"));
        }
    }
    Ok(())
}

pub fn no_new_privs(ctx: &Ctx) -> Check {
    let want = process(ctx)["noNewPrivileges"].as_bool().unwrap_or(false);
    let got = status_field("NoNewPrivs")? == "1";
    if got != want {
        return Err(format!("NoNewPrivs {got}, config says {want}"));
    }
    Ok(())
}

pub fn rlimits(ctx: &Ctx) -> Check {
    for r in process(ctx)["rlimits"].as_array().into_iter().flatten() {
        let name = r["type"].as_str().unwrap_or("");
        let Some(res) = names::rlimit(name) else {
            continue;
        };
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(res as _, &mut lim) } != 0 {
            return Err(format!("getrlimit {name}: errno {}", errno()));
        }
        let (soft, hard) = (
            r["soft"].as_u64().unwrap_or(0),
            r["hard"].as_u64().unwrap_or(0),
        );
        if lim.rlim_cur != soft || lim.rlim_max != hard {
            return Err(format!(
                "{name} soft {} hard {}, config says {soft} {hard}",
                lim.rlim_cur, lim.rlim_max
            ));
        }
    }
    Ok(())
}

pub fn oom_score_adj(ctx: &Ctx) -> Check {
    let Some(want) = process(ctx)["oomScoreAdj"].as_i64() else {
        return Err("config sets no oomScoreAdj".to_owned());
    };
    let got = std::fs::read_to_string("/proc/self/oom_score_adj").map_err(|e| e.to_string())?;
    if got.trim() != want.to_string() {
        return Err(format!("oom_score_adj {}, config says {want}", got.trim()));
    }
    Ok(())
}

/// Syscalls the checker can make on purpose to see a seccomp rule act, with how.
fn probe(name: &str) -> Option<i64> {
    let dir = c"/tmp/seccomp-probe";
    // SAFETY: raw syscalls on a constant path; each either fails or makes/enters a directory.
    let r = unsafe {
        match name {
            "mkdirat" => libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, dir.as_ptr(), 0o700),
            "mkdir" => libc::syscall(libc::SYS_mkdir, dir.as_ptr(), 0o700),
            "chdir" => libc::syscall(libc::SYS_chdir, c".".as_ptr()),
            "getpriority" => libc::syscall(libc::SYS_getpriority, 0, 0),
            _ => return None,
        }
    };
    Some(r)
}

pub fn seccomp(ctx: &Ctx) -> Check {
    let profile = &ctx.config["linux"]["seccomp"];
    let mode = status_field("Seccomp")?;
    if profile.is_null() {
        return if mode == "0" {
            Ok(())
        } else {
            Err(format!("Seccomp mode {mode} without a profile"))
        };
    }
    if mode != "2" {
        return Err(format!("Seccomp mode {mode}, want 2 (filter)"));
    }
    for rule in profile["syscalls"].as_array().into_iter().flatten() {
        if rule["action"] != "SCMP_ACT_ERRNO" || !rule["args"].is_null() {
            continue;
        }
        let want = rule["errnoRet"].as_i64().unwrap_or(i64::from(libc::EPERM));
        for name in rule["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let Some(r) = probe(name) else { continue };
            let got = errno();
            if r != -1 || i64::from(got) != want {
                return Err(format!(
                    "{name} returned {r} errno {got}, rule says errno {want}"
                ));
            }
        }
    }
    Ok(())
}

const POLICIES: &[(&str, i32)] = &[
    ("SCHED_OTHER", libc::SCHED_OTHER),
    ("SCHED_BATCH", libc::SCHED_BATCH),
    ("SCHED_IDLE", libc::SCHED_IDLE),
    ("SCHED_FIFO", libc::SCHED_FIFO),
    ("SCHED_RR", libc::SCHED_RR),
];

pub fn scheduler(ctx: &Ctx) -> Check {
    let s = &process(ctx)["scheduler"];
    let policy = s["policy"].as_str().ok_or("config sets no scheduler")?;
    let want = POLICIES
        .iter()
        .find(|(n, _)| *n == policy)
        .ok_or("unknown policy")?
        .1;
    // SAFETY: queries the calling process's own policy and nice value.
    let got = unsafe { libc::sched_getscheduler(0) };
    if got != want {
        return Err(format!("policy {got}, config says {policy} ({want})"));
    }
    if let Some(nice) = s["nice"].as_i64() {
        // SAFETY: as above.
        let got = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        if i64::from(got) != nice {
            return Err(format!("nice {got}, config says {nice}"));
        }
    }
    Ok(())
}

pub fn io_priority(ctx: &Ctx) -> Check {
    let p = &process(ctx)["ioPriority"];
    let class = match p["class"].as_str() {
        Some("IOPRIO_CLASS_RT") => 1,
        Some("IOPRIO_CLASS_BE") => 2,
        Some("IOPRIO_CLASS_IDLE") => 3,
        _ => return Err("config sets no known ioPriority class".to_owned()),
    };
    let want = (class << 13) | p["priority"].as_i64().unwrap_or(0);
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS, self) only reads.
    let got = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    if got != want {
        return Err(format!("ioprio {got:#x}, config says {want:#x}"));
    }
    Ok(())
}

/// A syscall the runner's seccomp agent answers with the errno it names.
pub fn seccomp_notify(ctx: &Ctx) -> Check {
    let p = &ctx.expect["notify_probe"];
    let name = p["syscall"].as_str().ok_or("runner named no probe")?;
    let want = p["errno"].as_i64().unwrap_or(0);
    let r = probe(name).ok_or("no probe for that syscall")?;
    let got = errno();
    if r != -1 || i64::from(got) != want {
        return Err(format!(
            "{name} returned {r} errno {got}, the agent answers errno {want}"
        ));
    }
    Ok(())
}
