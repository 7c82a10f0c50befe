//! `linux.resources` on a pure cgroup v2 host, converted from the spec's v1 terms the way
//! runc converts them (shares → cpu.weight, blkio weight → io.weight, memory+swap → swap).
//!
//! Plain writes rather than cgroups-rs: its v2 setters write the spec's v1 numbers unconverted
//! (memory.swap.max gets memory+swap) and its swappiness setter writes memory.swap.max.

use super::unified::with_controller;
use super::v1::write;
use super::{CgroupError, CgroupPaths};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};
use std::path::Path;

/// What cannot be expressed on v2 at all, refused before anything is created.
pub(crate) fn validate(res: &LinuxResources) -> Result<(), CgroupError> {
    let invalid = |field: &str, reason: &str| {
        Err(CgroupError::InvalidResource {
            field: field.into(),
            reason: reason.into(),
        })
    };
    if res.network().is_some() {
        return invalid("network", "net_cls/net_prio exist only on cgroup v1");
    }
    if let Some(c) = res.cpu() {
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            let reason = "cgroup v2 has no realtime group scheduling";
            return invalid("cpu.realtimeRuntime", reason);
        }
    }
    if res.block_io().as_ref().is_some_and(has_leaf_weight) {
        return invalid("blockIO.leafWeight", "cgroup v2 has no leaf weights");
    }
    if let Some(m) = res.memory() {
        swap_value(m.swap(), m.limit())?;
    }
    Ok(())
}

fn has_leaf_weight(b: &LinuxBlockIo) -> bool {
    super::validate::set_weight(b.leaf_weight()).is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
}

pub(crate) fn apply(
    paths: &CgroupPaths,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    validate(res)?;
    if let Some(m) = res
        .memory()
        .as_ref()
        .filter(|m| **m != LinuxMemory::default())
    {
        memory(paths, m, warnings)?;
    }
    if let Some(c) = res.cpu() {
        cpu(paths, c)?;
    }
    if let Some(p) = res.pids().as_ref().filter(|p| p.limit() != 0) {
        let dir = &with_controller(paths, "pids", "pids.limit")?.path;
        write("pids.limit", &dir.join("pids.max"), &max_or(p.limit()))?;
    }
    if let Some(b) = res
        .block_io()
        .as_ref()
        .filter(|b| **b != LinuxBlockIo::default())
    {
        io(paths, b)?;
    }
    for (device, limit) in res.rdma().iter().flatten() {
        let field = format!("rdma.{device}");
        let dir = &with_controller(paths, "rdma", &field)?.path;
        let mut value = device.clone();
        if let Some(h) = limit.hca_handles() {
            value.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limit.hca_objects() {
            value.push_str(&format!(" hca_object={o}"));
        }
        write(&field, &dir.join("rdma.max"), &value)?;
    }
    Ok(())
}

/// -1 (and any negative) is "max" in v2 files.
fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// A file only some kernels have: an error naming the field when missing.
fn write_existing(field: &str, dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    if !path.exists() {
        return Err(CgroupError::InvalidResource {
            field: field.into(),
            reason: format!("this host's kernel has no {}", path.display()),
        });
    }
    write(field, &path, value)
}

/// The spec's swap is memory+swap (v1); v2's memory.swap.max is swap alone. As runc: 0 leaves
/// it unset, -1 is unlimited, and with memory unlimited and swap unset both are unlimited.
pub(crate) fn swap_value(swap: Option<i64>, memory: Option<i64>) -> Result<i64, CgroupError> {
    let (swap, memory) = (swap.unwrap_or(0), memory.unwrap_or(0));
    let invalid = |reason: String| CgroupError::InvalidResource {
        field: "memory.swap".into(),
        reason,
    };
    match (swap, memory) {
        (0, -1) => Ok(-1),
        (-1 | 0, _) => Ok(swap),
        (_, 0 | -1) => Err(invalid(
            "a swap limit needs a memory limit on cgroup v2".into(),
        )),
        (s, m) if s < m => Err(invalid(format!("{s} is below memory.limit {m}"))),
        (s, m) => Ok(s - m),
    }
}

fn memory(
    paths: &CgroupPaths,
    m: &LinuxMemory,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let dir = &with_controller(paths, "memory", "memory")?.path;
    if let Some(v) = m.limit() {
        write("memory.limit", &dir.join("memory.max"), &max_or(v))?;
    }
    if let Some(v) = m.reservation() {
        write("memory.reservation", &dir.join("memory.low"), &max_or(v))?;
    }
    let swap = swap_value(m.swap(), m.limit())?;
    if swap != 0 {
        write_existing("memory.swap", dir, "memory.swap.max", &max_or(swap))?;
    }
    // No v2 file for these: say so rather than drop them.
    let unsupported = [
        ("kernel", m.kernel().is_some()),
        ("kernelTCP", m.kernel_tcp().is_some()),
        ("swappiness", m.swappiness().is_some()),
        ("disableOOMKiller", m.disable_oom_killer() == Some(true)),
        ("useHierarchy", m.use_hierarchy() == Some(false)),
    ];
    for (field, set) in unsupported {
        if set {
            warnings.push(format!(
                "linux.resources.memory.{field}: not applied, cgroup v2 has no such setting"
            ));
        }
    }
    Ok(())
}

/// runc's current shares → cpu.weight mapping: a curve through 2 → 1, 1024 → 100 (both
/// defaults) and 262144 → 10000.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

fn cpu(paths: &CgroupPaths, c: &LinuxCpu) -> Result<(), CgroupError> {
    let bandwidth = c.quota().is_some() || c.period().is_some();
    if c.shares().is_some() || bandwidth || c.burst().is_some() || c.idle().is_some() {
        let dir = &with_controller(paths, "cpu", "cpu")?.path;
        if let Some(v) = c.shares().filter(|s| *s != 0) {
            write(
                "cpu.shares",
                &dir.join("cpu.weight"),
                &shares_to_weight(v).to_string(),
            )?;
        }
        if bandwidth {
            let mut value = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            if let Some(p) = c.period().filter(|p| *p != 0) {
                value.push_str(&format!(" {p}"));
            }
            write("cpu.quota", &dir.join("cpu.max"), &value)?;
        }
        if let Some(v) = c.burst() {
            write_existing("cpu.burst", dir, "cpu.max.burst", &v.to_string())?;
        }
        if let Some(v) = c.idle() {
            write_existing("cpu.idle", dir, "cpu.idle", &v.to_string())?;
        }
    }
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        let dir = &with_controller(paths, "cpuset", "cpu.cpus")?.path;
        if let Some(v) = cpus {
            write("cpu.cpus", &dir.join("cpuset.cpus"), v)?;
        }
        if let Some(v) = mems {
            write("cpu.mems", &dir.join("cpuset.mems"), v)?;
        }
    }
    Ok(())
}

/// runc's blkio weight (10..1000) → io.weight (1..10000).
pub(crate) fn io_weight(blkio: u16) -> u64 {
    if blkio == 0 {
        return 0;
    }
    1 + (u64::from(blkio).saturating_sub(10)) * 9999 / 990
}

fn io(paths: &CgroupPaths, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let dir = &with_controller(paths, "io", "blockIO")?.path;
    // With BFQ the v1 scale is kept (io.bfq.weight); otherwise io.weight's scale, as runc.
    let bfq = dir.join("io.bfq.weight").exists();
    let weight = |w: u16| {
        if bfq {
            ("io.bfq.weight", u64::from(w))
        } else {
            ("io.weight", io_weight(w))
        }
    };
    if let Some(w) = super::validate::set_weight(b.weight()) {
        let (file, value) = weight(w);
        write_existing("blockIO.weight", dir, file, &value.to_string())?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight() {
            let (file, value) = weight(w);
            let line = format!("{}:{} {value}", d.major(), d.minor());
            write_existing(&format!("blockIO.weightDevice[{i}]"), dir, file, &line)?;
        }
    }
    let lists = [
        (
            "throttleReadBpsDevice",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ];
    for (name, key, list) in lists {
        for (i, d) in list.iter().flatten().enumerate() {
            let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
            write_existing(&format!("blockIO.{name}[{i}]"), dir, "io.max", &line)?;
        }
    }
    Ok(())
}
