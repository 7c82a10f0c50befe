//! Checks of `linux` and `hostname`: kernel-side isolation seen from inside.

use crate::{Check, Ctx};
use oci_conformance::names::NAMESPACES;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;

fn linux(ctx: &Ctx) -> &Value {
    &ctx.config["linux"]
}

fn read_trim(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("{path}: {e}"))
}

pub fn hostname(ctx: &Ctx) -> Check {
    let got = read_trim("/proc/sys/kernel/hostname")?;
    let want = ctx.config["hostname"].as_str().unwrap_or("");
    if got != want {
        return Err(format!("hostname {got:?}, config says {want:?}"));
    }
    if let Some(want) = ctx.config["domainname"].as_str() {
        let got = read_trim("/proc/sys/kernel/domainname")?;
        if got != want {
            return Err(format!("domainname {got:?}, config says {want:?}"));
        }
    }
    Ok(())
}

pub fn sysctl(ctx: &Ctx) -> Check {
    let map = linux(ctx)["sysctl"]
        .as_object()
        .ok_or("config sets no sysctl")?;
    for (k, v) in map {
        let got = read_trim(&format!("/proc/sys/{}", k.replace('.', "/")))?;
        let want = v.as_str().unwrap_or("");
        // The kernel prints some multi-value sysctls with tabs.
        if got.split_whitespace().ne(want.split_whitespace()) {
            return Err(format!("{k} = {got:?}, config says {want:?}"));
        }
    }
    Ok(())
}

fn ns_inode(file: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/ns/{file}"))
        .ok()
        .map(|m| m.ino())
}

pub fn namespaces(ctx: &Ctx) -> Check {
    let list = linux(ctx)["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (kind, file) in NAMESPACES {
        let Some(got) = ns_inode(file) else { continue };
        let host = ctx.expect["host_ns"][file].as_u64();
        let entry = list.iter().find(|n| n["type"] == *kind);
        match entry {
            None if host != Some(got) => {
                return Err(format!(
                    "{kind}: not in config but not the runtime's namespace"
                ))
            }
            Some(n) if n["path"].is_string() => {
                let want = ctx.expect["joined"][file].as_u64();
                if want != Some(got) {
                    return Err(format!("{kind}: inode {got}, joined path has {want:?}"));
                }
            }
            Some(_) if host == Some(got) => {
                return Err(format!(
                    "{kind}: requested a new namespace but shares the runtime's"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn mapping_lines(list: &Value) -> Vec<Vec<u64>> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            vec![
                m["containerID"].as_u64().unwrap_or(0),
                m["hostID"].as_u64().unwrap_or(0),
                m["size"].as_u64().unwrap_or(0),
            ]
        })
        .collect()
}

pub fn id_mappings(ctx: &Ctx) -> Check {
    for (key, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let text = read_trim(&format!("/proc/self/{file}"))?;
        let got: Vec<Vec<u64>> = text
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|n| n.parse().ok())
                    .collect()
            })
            .collect();
        let want = mapping_lines(&linux(ctx)[key]);
        if got != want {
            return Err(format!("{file} {got:?}, config says {want:?}"));
        }
    }
    Ok(())
}

pub fn personality(ctx: &Ctx) -> Check {
    let want = match linux(ctx)["personality"]["domain"].as_str() {
        Some("LINUX") => 0,
        Some("LINUX32") => 0x0008,
        _ => return Err("config sets no known personality domain".to_owned()),
    };
    // SAFETY: 0xffffffff queries the persona without changing it.
    let got = unsafe { libc::personality(0xffff_ffff) } & 0xff;
    if got != want {
        return Err(format!("personality {got:#x}, config says {want:#x}"));
    }
    Ok(())
}

pub fn time_offsets(ctx: &Ctx) -> Check {
    let offsets = linux(ctx)["timeOffsets"]
        .as_object()
        .ok_or("config sets no timeOffsets")?;
    for (clock, id) in [
        ("monotonic", libc::CLOCK_MONOTONIC),
        ("boottime", libc::CLOCK_BOOTTIME),
    ] {
        let Some(secs) = offsets.get(clock).and_then(|o| o["secs"].as_i64()) else {
            continue;
        };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the struct we own.
        unsafe { libc::clock_gettime(id, &mut ts) };
        // The host's clock started at boot, far less than the offset the cases ask for.
        if ts.tv_sec < secs {
            return Err(format!(
                "{clock} clock at {}s, below the {secs}s offset",
                ts.tv_sec
            ));
        }
    }
    Ok(())
}

/// Resource fields and the cgroup v1 file that shows each, relative to /sys/fs/cgroup.
const CGROUP_FILES: &[(&str, &str, &str)] = &[
    ("memory", "limit", "memory/memory.limit_in_bytes"),
    ("memory", "reservation", "memory/memory.soft_limit_in_bytes"),
    ("memory", "swappiness", "memory/memory.swappiness"),
    ("memory", "swap", "memory/memory.memsw.limit_in_bytes"),
    ("cpu", "shares", "cpu/cpu.shares"),
    ("cpu", "quota", "cpu/cpu.cfs_quota_us"),
    ("cpu", "period", "cpu/cpu.cfs_period_us"),
    ("cpu", "realtimeRuntime", "cpu/cpu.rt_runtime_us"),
    ("cpu", "realtimePeriod", "cpu/cpu.rt_period_us"),
    ("cpu", "cpus", "cpuset/cpuset.cpus"),
    ("cpu", "mems", "cpuset/cpuset.mems"),
    ("pids", "limit", "pids/pids.max"),
    ("blockIO", "weight", "blkio/blkio.weight"),
    ("memory", "kernel", "memory/memory.kmem.limit_in_bytes"),
    ("network", "classID", "net_cls/net_cls.classid"),
];

pub fn cgroups(ctx: &Ctx) -> Check {
    let res = &linux(ctx)["resources"];
    let mut checked = 0;
    for (group, field, file) in CGROUP_FILES {
        let v = &res[group][field];
        if v.is_null() {
            continue;
        }
        let got = read_trim(&format!("/sys/fs/cgroup/{file}"))?;
        let want = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if *group == "pids" && n.as_i64() == Some(-1) => "max".to_owned(),
            other => other.to_string(),
        };
        if got != want {
            return Err(format!("{file} = {got}, config says {want}"));
        }
        checked += 1;
    }
    for (field, file) in [
        ("throttleReadBpsDevice", "read_bps_device"),
        ("throttleWriteBpsDevice", "write_bps_device"),
    ] {
        for d in res["blockIO"][field].as_array().into_iter().flatten() {
            let line = format!("{}:{} {}", d["major"], d["minor"], d["rate"]);
            let got = read_trim(&format!("/sys/fs/cgroup/blkio/blkio.throttle.{file}"))?;
            if !got.lines().any(|l| l == line) {
                return Err(format!("blkio.throttle.{file} is {got:?}, lacks {line}"));
            }
            checked += 1;
        }
    }
    for h in res["hugepageLimits"].as_array().into_iter().flatten() {
        let file = format!(
            "/sys/fs/cgroup/hugetlb/hugetlb.{}.limit_in_bytes",
            h["pageSize"].as_str().unwrap_or("")
        );
        let got = read_trim(&file)?;
        let want = h["limit"]
            .as_u64()
            .map(|l| l.to_string())
            .unwrap_or_default();
        if got != want {
            return Err(format!("{file} = {got}, config says {}", h["limit"]));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err("config sets no resource the checker knows".to_owned());
    }
    Ok(())
}
