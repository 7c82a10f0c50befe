//! `linux.resources` checked against this host before anything exists: values out of range,
//! controllers the host does not mount, v2 keys on a v1-only host.

use super::hierarchy::{Layout, Mode};
use super::unified::check_key;
use super::{devices, CgroupError};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};
use std::path::Path;

/// Checks `linux.resources` against this host before anything is created.
pub fn validate(resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
    let layout = Layout::detect()?;
    let Some(res) = resources else {
        return Ok(());
    };
    validate_on(&layout, &super::without_unset_zeros(res))
}

pub(crate) fn validate_on(layout: &Layout, res: &LinuxResources) -> Result<(), CgroupError> {
    devices::rules(res.devices().as_deref())?;
    if let Some(m) = res.memory() {
        memory(layout, m)?;
    }
    if let Some(c) = res.cpu() {
        cpu(c)?;
    }
    if let Some(b) = res.block_io() {
        block_io(b)?;
    }
    for (i, l) in res.hugepage_limits().iter().flatten().enumerate() {
        let field = format!("hugepageLimits[{i}]");
        if l.limit() < 0 {
            return invalid(&field, format!("limit {} is negative", l.limit()));
        }
        if !page_sizes().iter().any(|s| s == l.page_size()) {
            let reason = format!(
                "page size {:?} is not one of this host's: {:?}",
                l.page_size(),
                page_sizes()
            );
            return invalid(&field, reason);
        }
    }
    if layout.mode == Mode::V2 {
        super::v2::validate(res)?;
    }
    controllers(layout, res)?;
    let hugepages = res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|l| !l.is_empty());
    if hugepages && layout.v1("hugetlb").is_none() && !unified_has(layout, "hugetlb") {
        let reason = "the hugetlb cgroup controller is not available on this host".into();
        return invalid("hugepageLimits", reason);
    }
    unified(layout, res)
}

fn invalid(field: &str, reason: String) -> Result<(), CgroupError> {
    Err(CgroupError::InvalidResource {
        field: field.into(),
        reason,
    })
}

/// -1 means unlimited; anything else below zero is a mistake.
fn limit(field: &str, value: Option<i64>) -> Result<(), CgroupError> {
    match value {
        Some(v) if v < -1 => invalid(field, format!("{v} is negative (only -1, unlimited)")),
        _ => Ok(()),
    }
}

fn memory(layout: &Layout, m: &LinuxMemory) -> Result<(), CgroupError> {
    limit("memory.limit", m.limit())?;
    limit("memory.reservation", m.reservation())?;
    limit("memory.swap", m.swap())?;
    limit("memory.kernel", m.kernel())?;
    limit("memory.kernelTCP", m.kernel_tcp())?;
    if let Some(s) = m.swappiness().filter(|s| *s > 100) {
        return invalid("memory.swappiness", format!("{s} is above 100"));
    }
    if layout.mode != Mode::V2 {
        if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            if l > 0 && s > 0 && s < l {
                let reason = format!(
                    "{s} is below memory.limit {l} (on cgroup v1 it limits memory plus swap)"
                );
                return invalid("memory.swap", reason);
            }
        }
    }
    Ok(())
}

fn cpu(c: &LinuxCpu) -> Result<(), CgroupError> {
    limit("cpu.quota", c.quota())?;
    limit("cpu.realtimeRuntime", c.realtime_runtime())?;
    if let Some(i) = c.idle().filter(|i| *i != 0 && *i != 1) {
        return invalid("cpu.idle", format!("{i} is not 0 or 1"));
    }
    for (field, list) in [("cpu.cpus", c.cpus()), ("cpu.mems", c.mems())] {
        if let Some(list) = list.as_deref().filter(|l| !l.is_empty()) {
            if !is_cpu_list(list) {
                return invalid(field, format!("{list:?} is not a list like 0-3,5"));
            }
        }
    }
    Ok(())
}

fn is_cpu_list(list: &str) -> bool {
    list.split(',').all(|part| {
        let mut ends = part.splitn(2, '-');
        let number = |s: Option<&str>| s.is_some_and(|s| s.trim().parse::<u32>().is_ok());
        let first = ends.next();
        let second = ends.next();
        number(first) && (second.is_none() || number(second))
    })
}

fn block_io(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // 0 means unset (see `set_weight`).
    let weight = |field: &str, w: Option<u16>| match set_weight(w) {
        Some(w) if !(10..=1000).contains(&w) => invalid(field, format!("{w} is not in 10..1000")),
        _ => Ok(()),
    };
    weight("blockIO.weight", b.weight())?;
    weight("blockIO.leafWeight", b.leaf_weight())?;
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("blockIO.weightDevice[{i}]");
        super::v1::device_numbers(&field, d.major(), d.minor())?;
        weight(&field, d.weight())?;
        weight(&field, d.leaf_weight())?;
    }
    Ok(())
}

/// A blkio weight to write: Docker sends `"weight": 0` for every container without
/// `--blkio-weight`, and runc reads 0 as unset; so does berth, rather than refusing the container.
pub(crate) fn set_weight(w: Option<u16>) -> Option<u16> {
    w.filter(|&w| w != 0)
}

/// Every requested resource needs its controller mounted.
fn controllers(layout: &Layout, res: &LinuxResources) -> Result<(), CgroupError> {
    let cpu = res.cpu().as_ref();
    let cpuset = cpu.is_some_and(|c| {
        c.cpus().as_deref().is_some_and(|s| !s.is_empty())
            || c.mems().as_deref().is_some_and(|s| !s.is_empty())
    });
    let network = res.network().as_ref();
    let cpu_sched = cpu.is_some_and(|c| {
        c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.idle().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
    });
    // (field, v1 controller, v2 controller, requested)
    let needs = [
        ("memory", "memory", "memory", res.memory().is_some()),
        ("cpu", "cpu", "cpu", cpu_sched),
        ("cpu.cpus", "cpuset", "cpuset", cpuset),
        (
            "pids",
            "pids",
            "pids",
            res.pids().is_some_and(|p| p.limit() != 0),
        ),
        ("blockIO", "blkio", "io", res.block_io().is_some()),
        (
            "network.classID",
            "net_cls",
            "",
            network.is_some_and(|n| n.class_id().is_some()),
        ),
        (
            "network.priorities",
            "net_prio",
            "",
            network.is_some_and(|n| n.priorities().as_ref().is_some_and(|p| !p.is_empty())),
        ),
        (
            "rdma",
            "rdma",
            "rdma",
            res.rdma().as_ref().is_some_and(|r| !r.is_empty()),
        ),
    ];
    let rules = res.devices().as_ref().is_some_and(|d| !d.is_empty());
    if rules && layout.v1("devices").is_none() && layout.unified().is_none() {
        let reason = "this host mounts neither the devices controller nor cgroup2".into();
        return invalid("devices", reason);
    }
    for (field, v1, v2, wanted) in needs {
        let (present, controller) = if layout.mode == Mode::V2 {
            (unified_has(layout, v2), v2)
        } else {
            (layout.v1(v1).is_some(), v1)
        };
        if wanted && !present {
            let reason =
                format!("the {controller} cgroup controller is not available on this host");
            return invalid(field, reason);
        }
    }
    Ok(())
}

fn unified(layout: &Layout, res: &LinuxResources) -> Result<(), CgroupError> {
    let Some(map) = res.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    if layout.unified().is_none() {
        let reason = "cgroup v2 keys, but this host has only cgroup v1".into();
        return invalid("unified", reason);
    }
    for key in map.keys() {
        let field = format!("unified.{key}");
        let controller = check_key(key, &field)?;
        if controller != "cgroup" && !unified_has(layout, controller) {
            let reason =
                format!("the {controller} controller is not on this host's cgroup v2 hierarchy");
            return invalid(&field, reason);
        }
    }
    Ok(())
}

fn unified_has(layout: &Layout, controller: &str) -> bool {
    layout.unified().is_some_and(|m| {
        std::fs::read_to_string(m.mount_point.join("cgroup.controllers"))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == controller))
    })
}

/// Page sizes as runtime-spec writes them ("2MB", "1GB"), from /sys/kernel/mm/hugepages.
pub(crate) fn page_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(Path::new("/sys/kernel/mm/hugepages")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(match kb {
                kb if kb % (1 << 20) == 0 => format!("{}GB", kb >> 20),
                kb if kb % (1 << 10) == 0 => format!("{}MB", kb >> 10),
                kb => format!("{kb}KB"),
            })
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::super::hierarchy;
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
        LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxNetworkBuilder, LinuxPidsBuilder,
        LinuxResourcesBuilder,
    };
    use std::collections::HashMap;

    fn check(res: &LinuxResources, layout: &str, field: &str) {
        let layout = hierarchy::Layout::from_mountinfo(layout).unwrap();
        let err = validate_on(&layout, res).unwrap_err();
        assert!(err.to_string().contains(field), "{err} should name {field}");
    }

    const V1_ONLY: &str = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";

    #[test]
    fn validate_refuses_what_cannot_work_before_anything_exists() {
        let mut map = HashMap::new();
        map.insert("memory.max".to_string(), "1".to_string());
        let res = LinuxResourcesBuilder::default()
            .unified(map)
            .build()
            .unwrap();
        check(&res, V1_ONLY, "unified");
        let mem = LinuxMemoryBuilder::default().limit(-5).build().unwrap();
        let res = LinuxResourcesBuilder::default()
            .memory(mem)
            .build()
            .unwrap();
        check(&res, V1_ONLY, "memory.limit");
        let mem = LinuxMemoryBuilder::default()
            .swappiness(101u64)
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .memory(mem)
            .build()
            .unwrap();
        check(&res, V1_ONLY, "memory.swappiness");
        let mem = LinuxMemoryBuilder::default()
            .limit(100)
            .swap(50)
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .memory(mem)
            .build()
            .unwrap();
        check(&res, V1_ONLY, "memory.swap");
    }

    #[test]
    fn validate_refuses_bad_devices_cpus_weights_and_missing_controllers() {
        let dev = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwx")
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .devices(vec![dev])
            .build()
            .unwrap();
        check(&res, V1_ONLY, "devices[0].access");
        let dev = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::P)
            .access("r")
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .devices(vec![dev])
            .build()
            .unwrap();
        check(&res, V1_ONLY, "devices[0].type");
        let dev = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .devices(vec![dev])
            .build()
            .unwrap();
        check(&res, V1_ONLY, "devices");
        let cpu = LinuxCpuBuilder::default().cpus("0-x").build().unwrap();
        let res = LinuxResourcesBuilder::default().cpu(cpu).build().unwrap();
        check(&res, V1_ONLY, "cpu.cpus");
        let blkio = LinuxBlockIoBuilder::default().weight(5u16).build().unwrap();
        let res = LinuxResourcesBuilder::default()
            .block_io(blkio)
            .build()
            .unwrap();
        check(&res, V1_ONLY, "blockIO.weight");
        let pids = LinuxPidsBuilder::default().limit(5).build().unwrap();
        let res = LinuxResourcesBuilder::default().pids(pids).build().unwrap();
        check(&res, V1_ONLY, "pids");
        let v2 = "41 23 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let mem = LinuxMemoryBuilder::default()
            .limit(1 << 20)
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .memory(mem)
            .build()
            .unwrap();
        check(&res, v2, "memory");
    }

    #[test]
    fn validate_reads_a_zero_blkio_weight_as_unset() {
        let blkio = LinuxBlockIoBuilder::default()
            .weight(0u16)
            .leaf_weight(0u16)
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .block_io(blkio)
            .build()
            .unwrap();
        let layout = hierarchy::Layout::from_mountinfo(
            "35 31 0:32 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n",
        )
        .unwrap();
        validate_on(&layout, &res).unwrap();
    }

    #[test]
    fn validate_on_this_host_refuses_unmounted_network_controllers() {
        let net = LinuxNetworkBuilder::default()
            .class_id(0x100001u32)
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .network(net)
            .build()
            .unwrap();
        let err = validate(Some(&res)).unwrap_err();
        assert!(err.to_string().contains("network.classID"), "{err}");
        let limit = LinuxHugepageLimitBuilder::default()
            .page_size("3MB")
            .limit(0)
            .build()
            .unwrap();
        let res = LinuxResourcesBuilder::default()
            .hugepage_limits(vec![limit])
            .build()
            .unwrap();
        let err = validate(Some(&res)).unwrap_err();
        assert!(err.to_string().contains("hugepageLimits[0]"), "{err}");
    }
}
