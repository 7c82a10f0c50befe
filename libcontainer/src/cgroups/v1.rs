//! `linux.resources` on v1 hierarchies (v1 and hybrid hosts).
//!
//! Values go through cgroups-rs's per-controller types, pointed at the container's directory.
//! A few files are written directly, each for a stated reason: cgroups-rs 0.3 has no setter
//! for cpu.cfs_burst_us, cpu.idle, blkio.bfq.* or rdma, and its kmem setter returns Ok when
//! the kernel refuses (EOPNOTSUPP) where berth must warn.

use super::{bpf, devices, CgroupError, CgroupPaths};
use cgroups_rs::blkio::BlkIoController;
use cgroups_rs::cpu::CpuController;
use cgroups_rs::cpuset::CpuSetController;
use cgroups_rs::memory::MemController;
use cgroups_rs::net_cls::NetClsController;
use cgroups_rs::net_prio::NetPrioController;
use cgroups_rs::pid::PidController;
use cgroups_rs::MaxValue;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources};
use std::path::{Path, PathBuf};

/// Everything on the v1 hierarchies; the device list only when `devices_too` (at create: an
/// update leaves it alone, as runc's does).
pub(crate) fn apply(
    paths: &CgroupPaths,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
    devices_too: bool,
) -> Result<(), CgroupError> {
    if devices_too {
        apply_devices(paths, res, warnings)?;
    }
    apply_rest(paths, res, warnings)
}

fn apply_devices(
    paths: &CgroupPaths,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    let rules = devices::rules(res.devices().as_deref())?;
    match (paths.v1_dir("devices"), paths.unified()) {
        (Some(dir), _) => devices::apply_v1(dir, &rules)?,
        // No v1 devices controller, but a cgroup2 hierarchy: the kernel also consults a device
        // program attached there.
        (None, Some(h)) => bpf::apply(&h.path, &rules)?,
        (None, None) if res.devices().as_ref().is_some_and(|d| !d.is_empty()) => {
            return Err(CgroupError::InvalidResource {
                field: "devices".into(),
                reason: "this host mounts neither the devices controller nor cgroup2".into(),
            });
        }
        (None, None) => warnings.push(
            "device access is not restricted: this host mounts neither the devices controller \
             nor cgroup2"
                .into(),
        ),
    }
    Ok(())
}

fn apply_rest(
    paths: &CgroupPaths,
    res: &LinuxResources,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    if let Some(m) = res.memory() {
        memory(paths, m, warnings)?;
    }
    if let Some(c) = res.cpu() {
        cpu(paths, c)?;
    }
    if let Some(p) = res.pids() {
        // runc leaves 0 unset (the kernel default, max); negative means unlimited.
        if p.limit() != 0 {
            let dir = need(paths, "pids", "pids.limit")?;
            let max = if p.limit() > 0 {
                MaxValue::Value(p.limit())
            } else {
                MaxValue::Max
            };
            let r = PidController::new(dir.into(), false).set_pid_max(max);
            ctl("pids.limit", dir, r)?;
        }
    }
    if let Some(b) = res.block_io() {
        block_io(paths, b)?;
    }
    if let Some(n) = res.network() {
        network(paths, n)?;
    }
    if let Some(rdma) = res.rdma() {
        for (device, limit) in rdma {
            let field = format!("rdma.{device}");
            let dir = need(paths, "rdma", &field)?;
            let mut value = device.clone();
            if let Some(h) = limit.hca_handles() {
                value.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = limit.hca_objects() {
                value.push_str(&format!(" hca_object={o}"));
            }
            write(&field, &dir.join("rdma.max"), &value)?;
        }
    }
    Ok(())
}

/// The directory of `controller`'s hierarchy, or an error naming `field` when the host does
/// not mount it.
pub(crate) fn need<'a>(
    paths: &'a CgroupPaths,
    controller: &str,
    field: &str,
) -> Result<&'a Path, CgroupError> {
    paths
        .v1_dir(controller)
        .ok_or_else(|| CgroupError::InvalidResource {
            field: field.into(),
            reason: format!("the {controller} cgroup controller is not mounted on this host"),
        })
}

pub(crate) fn ctl<T>(
    field: &str,
    dir: &Path,
    r: cgroups_rs::error::Result<T>,
) -> Result<T, CgroupError> {
    r.map_err(|source| CgroupError::Controller {
        field: field.into(),
        dir: dir.to_path_buf(),
        source: source.into(),
    })
}

pub(crate) fn write(field: &str, path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        field: field.into(),
        path: path.to_path_buf(),
        value: value.into(),
        source,
    })
}

/// cgroups-rs reports a file the kernel lacks as a failed create; say what it means.
fn require(field: &str, dir: &Path, file: &str) -> Result<(), CgroupError> {
    if dir.join(file).exists() {
        return Ok(());
    }
    Err(missing(field, dir, &[file]))
}

fn missing(field: &str, dir: &Path, files: &[&str]) -> CgroupError {
    CgroupError::InvalidResource {
        field: field.into(),
        reason: format!(
            "this host's kernel has no {} in {} (not supported here)",
            files.join(" or "),
            dir.display()
        ),
    }
}

/// Writes `value` to the first of `files` (in `dir`) that exists; errors naming `field` when
/// the kernel has none of them.
fn write_first(field: &str, dir: &Path, files: &[&str], value: &str) -> Result<(), CgroupError> {
    match files.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
        Some(path) => write(field, &path, value),
        None => Err(missing(field, dir, files)),
    }
}

fn memory(
    paths: &CgroupPaths,
    m: &LinuxMemory,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    if *m == LinuxMemory::default() {
        return Ok(());
    }
    let dir = need(paths, "memory", "memory")?;
    let c = MemController::new(dir.into(), false);
    // Unlimited memory without a word on swap lifts memory+swap too, as runc does: the kernel
    // refuses a memory limit above the memory+swap limit a container may still have.
    let swap = match (m.limit(), m.swap()) {
        (Some(-1), None) if dir.join("memory.memsw.limit_in_bytes").exists() => Some(-1),
        (_, swap) => swap,
    };
    // The kernel keeps memory <= memory+swap at every step: when the new memory limit is
    // above the current memory+swap limit (raising both in an update), swap goes first.
    let swap_first = match (m.limit(), current_memsw(dir)) {
        (Some(limit), Some(memsw)) => swap.is_some() && (limit == -1 || limit > memsw),
        _ => false,
    };
    let set_swap = |v: i64| {
        // On v1 this is the memory+swap limit, as runc passes it.
        require("memory.swap", dir, "memory.memsw.limit_in_bytes")?;
        ctl("memory.swap", dir, c.set_memswap_limit(v))
    };
    if swap_first {
        swap.map(set_swap).transpose()?;
    }
    if let Some(v) = m.limit() {
        ctl("memory.limit", dir, c.set_limit(v))?;
    }
    if !swap_first {
        swap.map(set_swap).transpose()?;
    }
    if let Some(v) = m.reservation() {
        ctl("memory.reservation", dir, c.set_soft_limit(v))?;
    }
    if let Some(v) = m.swappiness() {
        require("memory.swappiness", dir, "memory.swappiness")?;
        ctl("memory.swappiness", dir, c.set_swappiness(v))?;
    }
    if m.disable_oom_killer() == Some(true) {
        ctl("memory.disableOOMKiller", dir, c.disable_oom_killer())?;
    }
    if let Some(v) = m.use_hierarchy() {
        let value = if v { "1" } else { "0" };
        write(
            "memory.useHierarchy",
            &dir.join("memory.use_hierarchy"),
            value,
        )?;
    }
    // checkBeforeUpdate is `update`'s (see there): a cgroup being created has no usage.
    if let Some(v) = m.kernel() {
        kernel_limit(
            "memory.kernel",
            &dir.join("memory.kmem.limit_in_bytes"),
            v,
            warnings,
        )?;
    }
    if let Some(v) = m.kernel_tcp() {
        let file = dir.join("memory.kmem.tcp.limit_in_bytes");
        kernel_limit("memory.kernelTCP", &file, v, warnings)?;
    }
    Ok(())
}

/// The current memory+swap limit, None when unlimited or without swap accounting.
fn current_memsw(dir: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(dir.join("memory.memsw.limit_in_bytes")).ok()?;
    let value: i64 = text.trim().parse().ok()?;
    // "Unlimited" reads back as the largest page-aligned value.
    (value < 1 << 62).then_some(value)
}

/// Kernel memory limits are gone from newer kernels (the file is missing, or refuses writes
/// with EOPNOTSUPP): runc then carries on, and so does berth, with a warning.
pub(crate) fn kernel_limit(
    field: &str,
    file: &Path,
    value: i64,
    warnings: &mut Vec<String>,
) -> Result<(), CgroupError> {
    if !file.exists() {
        warnings.push(format!(
            "linux.resources.{field}: not applied, this kernel has no {}",
            file.display()
        ));
        return Ok(());
    }
    match std::fs::write(file, value.to_string()) {
        Ok(()) if value >= 0 && !holds(file, value) => {
            // Kernels since 5.16 accept the write and ignore it.
            warnings.push(format!(
                "linux.resources.{field}: not applied, this kernel accepts but ignores {}",
                file.display()
            ));
            Ok(())
        }
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            warnings.push(format!(
                "linux.resources.{field}: not applied, this kernel no longer supports {}",
                file.display()
            ));
            Ok(())
        }
        Err(source) => Err(CgroupError::Write {
            field: field.into(),
            path: file.into(),
            value: value.to_string(),
            source,
        }),
    }
}

/// Whether a memory limit file now holds `value` (the kernel rounds down to whole pages).
fn holds(file: &Path, value: i64) -> bool {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096);
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .is_some_and(|v| v == value / page * page)
}

/// A child's realtime budget must fit in its parent's, and new cgroups start with none: give
/// every ancestor below the hierarchy's root at least `runtime`, top-down (as crun does), or
/// a container under a nested cgroupsPath could never get realtime time.
fn raise_parent_rt_runtime(
    paths: &CgroupPaths,
    dir: &Path,
    runtime: i64,
) -> Result<(), CgroupError> {
    let Some(mount) = paths
        .hierarchies
        .iter()
        .find(|h| h.path == dir)
        .map(|h| &h.mount_point)
    else {
        return Ok(());
    };
    let ancestors: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| *a != mount.as_path())
        .collect();
    for parent in ancestors.into_iter().rev() {
        let file = parent.join("cpu.rt_runtime_us");
        let current: i64 = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        if current < runtime {
            std::fs::write(&file, runtime.to_string()).map_err(|e| {
                CgroupError::InvalidResource {
                    field: "cpu.realtimeRuntime".into(),
                    reason: format!("{}: {e}", file.display()),
                }
            })?;
        }
    }
    Ok(())
}

fn cpu(paths: &CgroupPaths, c: &LinuxCpu) -> Result<(), CgroupError> {
    // Docker sends `"shares": 0` for every container, and `docker update` a period and quota
    // of 0 too: runc reads 0 as unset for these five, and so does berth.
    let shares = c.shares().filter(|v| *v != 0);
    let period = c.period().filter(|v| *v != 0);
    let quota = c.quota().filter(|v| *v != 0);
    let rt_period = c.realtime_period().filter(|v| *v != 0);
    let rt_runtime = c.realtime_runtime().filter(|v| *v != 0);
    let scheduler = shares.is_some()
        || quota.is_some()
        || period.is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || rt_period.is_some()
        || rt_runtime.is_some();
    if scheduler {
        let dir = need(paths, "cpu", "cpu")?;
        let ctl_cpu = CpuController::new(dir.into(), false);
        if let Some(v) = shares {
            ctl("cpu.shares", dir, ctl_cpu.set_shares(v))?;
            // The kernel clamps out-of-range shares silently; runc refuses them, as berth does.
            let actual = ctl("cpu.shares", dir, ctl_cpu.shares())?;
            if actual != v {
                return Err(CgroupError::InvalidResource {
                    field: "cpu.shares".into(),
                    reason: format!("{v} is out of the kernel's range (it would be {actual})"),
                });
            }
        }
        bandwidth(dir, &ctl_cpu, period, quota)?;
        if let Some(v) = c.burst() {
            write_first("cpu.burst", dir, &["cpu.cfs_burst_us"], &v.to_string())?;
        }
        if let Some(v) = c.idle() {
            write_first("cpu.idle", dir, &["cpu.idle"], &v.to_string())?;
        }
        if let Some(v) = rt_period {
            require("cpu.realtimePeriod", dir, "cpu.rt_period_us")?;
            ctl("cpu.realtimePeriod", dir, ctl_cpu.set_rt_period_us(v))?;
        }
        if let Some(v) = rt_runtime {
            require("cpu.realtimeRuntime", dir, "cpu.rt_runtime_us")?;
            raise_parent_rt_runtime(paths, dir, v)?;
            ctl("cpu.realtimeRuntime", dir, ctl_cpu.set_rt_runtime(v))?;
        }
    }
    let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
    let mems = c.mems().as_deref().filter(|s| !s.is_empty());
    if cpus.is_some() || mems.is_some() {
        let dir = need(paths, "cpuset", "cpu.cpus")?;
        let set = CpuSetController::new(dir.into(), false);
        if let Some(v) = cpus {
            ctl("cpu.cpus", dir, set.set_cpus(v))?;
        }
        if let Some(v) = mems {
            ctl("cpu.mems", dir, set.set_mems(v))?;
        }
    }
    Ok(())
}

/// Period before quota, as runc: the kernel checks each new value against the other one.
/// A shorter period can be refused (EINVAL) because the *old* quota over it exceeds a parent's
/// bandwidth (Kubernetes pod cgroups have one); with a quota to write, the period is then
/// written again after it. Plain writes for the period, to see the errno.
fn bandwidth(
    dir: &Path,
    ctl_cpu: &CpuController,
    period: Option<u64>,
    quota: Option<i64>,
) -> Result<(), CgroupError> {
    let period_file = dir.join("cpu.cfs_period_us");
    let mut retry_period = None;
    if let Some(v) = period {
        require("cpu.period", dir, "cpu.cfs_period_us")?;
        match std::fs::write(&period_file, v.to_string()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota.is_some() => {
                retry_period = Some(v);
            }
            r => r.map_err(|source| CgroupError::Write {
                field: "cpu.period".into(),
                path: period_file.clone(),
                value: v.to_string(),
                source,
            })?,
        }
    }
    if let Some(v) = quota {
        require("cpu.quota", dir, "cpu.cfs_quota_us")?;
        ctl("cpu.quota", dir, ctl_cpu.set_cfs_quota(v))?;
    }
    if let Some(v) = retry_period {
        write("cpu.period", &period_file, &v.to_string())?;
    }
    Ok(())
}

fn block_io(paths: &CgroupPaths, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if *b == LinuxBlockIo::default() {
        return Ok(());
    }
    let dir = need(paths, "blkio", "blockIO")?;
    // Proportional weights exist only with CFQ (blkio.weight) or BFQ (blkio.bfq.weight), as
    // runc tries them; hosts with neither get an error naming the field.
    if let Some(w) = super::validate::set_weight(b.weight()) {
        let files = ["blkio.weight", "blkio.bfq.weight"];
        write_first("blockIO.weight", dir, &files, &w.to_string())?;
    }
    if let Some(w) = super::validate::set_weight(b.leaf_weight()) {
        write_first(
            "blockIO.leafWeight",
            dir,
            &["blkio.leaf_weight"],
            &w.to_string(),
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("blockIO.weightDevice[{i}]");
        let (major, minor) = (d.major(), d.minor());
        if let Some(w) = d.weight() {
            let files = ["blkio.weight_device", "blkio.bfq.weight_device"];
            write_first(&field, dir, &files, &format!("{major}:{minor} {w}"))?;
        }
        if let Some(w) = d.leaf_weight() {
            let files = ["blkio.leaf_weight_device"];
            write_first(&field, dir, &files, &format!("{major}:{minor} {w}"))?;
        }
    }
    throttle(dir, b)
}

fn throttle(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let c = BlkIoController::new(PathBuf::from(dir), false);
    type Setter = fn(&BlkIoController, u64, u64, u64) -> cgroups_rs::error::Result<()>;
    let lists: [(&str, &Option<Vec<_>>, Setter); 4] = [
        (
            "throttleReadBpsDevice",
            b.throttle_read_bps_device(),
            BlkIoController::throttle_read_bps_for_device,
        ),
        (
            "throttleWriteBpsDevice",
            b.throttle_write_bps_device(),
            BlkIoController::throttle_write_bps_for_device,
        ),
        (
            "throttleReadIOPSDevice",
            b.throttle_read_iops_device(),
            BlkIoController::throttle_read_iops_for_device,
        ),
        (
            "throttleWriteIOPSDevice",
            b.throttle_write_iops_device(),
            BlkIoController::throttle_write_iops_for_device,
        ),
    ];
    for (name, list, set) in lists {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("blockIO.{name}[{i}]");
            let (major, minor) = device_numbers(&field, d.major(), d.minor())?;
            ctl(&field, dir, set(&c, major, minor, d.rate()))?;
        }
    }
    Ok(())
}

pub(crate) fn device_numbers(
    field: &str,
    major: i64,
    minor: i64,
) -> Result<(u64, u64), CgroupError> {
    match (u64::try_from(major), u64::try_from(minor)) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => Err(CgroupError::InvalidResource {
            field: field.into(),
            reason: format!("device {major}:{minor} has a negative number"),
        }),
    }
}

fn network(paths: &CgroupPaths, n: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(id) = n.class_id() {
        let dir = need(paths, "net_cls", "network.classID")?;
        let r = NetClsController::new(dir.into()).set_class(u64::from(id));
        ctl("network.classID", dir, r)?;
    }
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let field = format!("network.priorities[{i}]");
        let dir = need(paths, "net_prio", &field)?;
        let r = NetPrioController::new(dir.into()).set_if_prio(p.name(), u64::from(p.priority()));
        ctl(&field, dir, r)?;
    }
    Ok(())
}
