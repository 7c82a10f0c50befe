//! Usage statistics (`events --stats`) in the JSON shape runc prints, read from v1 or v2
//! files, and the OOM-kill count `events` watches.
//!
//! Read directly: cgroups-rs has readers for some v1 files, but none for the cgroup2 hierarchy
//! of a hybrid host (where hugetlb lives here), and the shape must be runc's anyway.

use super::{fs, CgroupError, CgroupPaths};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Everything `events --stats` reports of one container's cgroup.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// CPU time used and throttling.
    pub cpu: Cpu,
    /// Memory usage and limits.
    pub memory: Memory,
    /// Number of processes and their limit.
    pub pids: Pids,
    /// Block I/O done (v1: blkio; v2: io.stat).
    pub blkio: Blkio,
    /// By page size ("2MB").
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

/// CPU statistics.
#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    /// Time used.
    pub usage: CpuUsage,
    /// Time the CFS quota held it back.
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    /// All CPU time used.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Time used on each CPU (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Time in the kernel.
    pub kernel: u64,
    /// Time in user space.
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    /// Enforcement periods elapsed.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which it was throttled.
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total time throttled, in nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// Memory statistics, in bytes.
#[derive(Debug, Default, Serialize)]
pub struct Memory {
    /// Page cache, in bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory plus swap (v1) or swap (v2).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// Every counter of memory.stat, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// One memory counter with its limit, in bytes.
#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    /// The limit (u64::MAX: none).
    pub limit: u64,
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Highest usage seen.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// The pids controller's numbers.
#[derive(Debug, Default, Serialize)]
pub struct Pids {
    /// Processes in the cgroup now.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// The limit (0 or u64::MAX: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// Block I/O statistics.
#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    /// Bytes read and written, per device and operation.
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// I/O operations, per device and operation.
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One counter of one device.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard` or `Total`.
    pub op: String,
    /// The count.
    pub value: u64,
}

/// Huge-page use of one page size.
#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    /// Bytes of huge pages in use.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Highest usage seen.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How often an allocation hit the limit.
    pub failcnt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A number from a cgroup file; "max" (unlimited) reads as u64::MAX, as runc reports it.
pub(crate) fn number(dir: &Path, file: &str) -> u64 {
    match fs::read_trimmed(&dir.join(file)) {
        Ok(s) if s == "max" => u64::MAX,
        Ok(s) => s.parse().unwrap_or(0),
        Err(_) => 0,
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events...).
pub(crate) fn keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    let text = fs::read_trimmed(&dir.join(file)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// How many processes of the container the kernel has OOM-killed so far.
pub fn oom_kills(paths: &CgroupPaths) -> Result<u64, CgroupError> {
    let (dir, file) = match paths.v1_dir("memory") {
        Some(dir) => (dir, "memory.oom_control"),
        None => match paths.unified() {
            Some(h) => (h.path.as_path(), "memory.events"),
            None => return Ok(0),
        },
    };
    fs::read_trimmed(&dir.join(file))?;
    Ok(keyed(dir, file).get("oom_kill").copied().unwrap_or(0))
}

/// The container's usage now.
pub fn stats(paths: &CgroupPaths) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if paths.is_pure_v2() {
        let h = paths.unified().map(|h| h.path.as_path());
        if let Some(dir) = h {
            super::stats_v2::fill(dir, &mut s);
        }
    } else {
        v1(paths, &mut s);
    }
    hugetlb(paths, &mut s);
    Ok(s)
}

fn v1(paths: &CgroupPaths, s: &mut Stats) {
    if let Some(dir) = paths.v1_dir("cpuacct") {
        s.cpu.usage.total = number(dir, "cpuacct.usage");
        let percpu = fs::read_trimmed(&dir.join("cpuacct.usage_percpu")).unwrap_or_default();
        s.cpu.usage.percpu = percpu
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // cpuacct.stat counts clock ticks.
        let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|t| *t > 0)
            .unwrap_or(100) as u64;
        let stat = keyed(dir, "cpuacct.stat");
        let ns = |k: &str| stat.get(k).copied().unwrap_or(0) * (1_000_000_000 / tick);
        s.cpu.usage.user = ns("user");
        s.cpu.usage.kernel = ns("system");
    }
    if let Some(dir) = paths.v1_dir("cpu") {
        let stat = keyed(dir, "cpu.stat");
        let get = |k: &str| stat.get(k).copied().unwrap_or(0);
        s.cpu.throttling = Throttling {
            periods: get("nr_periods"),
            throttled_periods: get("nr_throttled"),
            throttled_time: get("throttled_time"),
        };
    }
    if let Some(dir) = paths.v1_dir("memory") {
        let entry = |prefix: &str| MemoryEntry {
            limit: number(dir, &format!("{prefix}limit_in_bytes")),
            usage: number(dir, &format!("{prefix}usage_in_bytes")),
            max: number(dir, &format!("{prefix}max_usage_in_bytes")),
            failcnt: number(dir, &format!("{prefix}failcnt")),
        };
        s.memory.usage = entry("memory.");
        s.memory.swap = entry("memory.memsw.");
        s.memory.kernel = entry("memory.kmem.");
        s.memory.kernel_tcp = entry("memory.kmem.tcp.");
        s.memory.raw = keyed(dir, "memory.stat");
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(dir) = paths.v1_dir("pids") {
        s.pids = pids(dir);
    }
    if let Some(dir) = paths.v1_dir("blkio") {
        let file = |name: &str| {
            let throttle = format!("blkio.throttle.{name}");
            let cfq = dir.join(format!("blkio.{name}"));
            blkio_entries(
                dir,
                if cfq.exists() {
                    &cfq
                } else {
                    Path::new(&throttle)
                },
            )
        };
        s.blkio.io_service_bytes_recursive = file("io_service_bytes_recursive");
        s.blkio.io_serviced_recursive = file("io_serviced_recursive");
    }
}

pub(crate) fn pids(dir: &Path) -> Pids {
    let limit = number(dir, "pids.max");
    Pids {
        current: number(dir, "pids.current"),
        // runc reports an unlimited pids.max as 0.
        limit: if limit == u64::MAX { 0 } else { limit },
    }
}

/// v1 blkio lines: "MAJ:MIN Op value" (plus a "Total" line without device).
fn blkio_entries(dir: &Path, file: &Path) -> Vec<BlkioEntry> {
    let text = fs::read_trimmed(&dir.join(file)).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// hugetlb from the v1 controller, else from cgroup2 (hybrid hosts keep it there).
fn hugetlb(paths: &CgroupPaths, s: &mut Stats) {
    let (dir, v2) = match paths.v1_dir("hugetlb") {
        Some(dir) => (dir, false),
        None => match paths.unified() {
            Some(h) => (h.path.as_path(), true),
            None => return,
        },
    };
    for size in super::validate::page_sizes() {
        let file = |suffix: &str| format!("hugetlb.{size}.{suffix}");
        let entry = if v2 {
            Hugetlb {
                usage: number(dir, &file("current")),
                max: 0,
                failcnt: keyed(dir, &file("events")).get("max").copied().unwrap_or(0),
            }
        } else {
            Hugetlb {
                usage: number(dir, &file("usage_in_bytes")),
                max: number(dir, &file("max_usage_in_bytes")),
                failcnt: number(dir, &file("failcnt")),
            }
        };
        if dir
            .join(file(if v2 { "current" } else { "usage_in_bytes" }))
            .exists()
        {
            s.hugetlb.insert(size, entry);
        }
    }
}
