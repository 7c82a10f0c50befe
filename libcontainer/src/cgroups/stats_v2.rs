//! `stats` on a pure v2 host: cgroup2 file names mapped onto runc's (v1-shaped) stats.

use super::stats::{keyed, number, pids, BlkioEntry, Stats, Throttling};
use std::path::Path;

pub(crate) fn fill(dir: &Path, s: &mut Stats) {
    // cpu.stat counts microseconds; runc reports nanoseconds.
    let cpu = keyed(dir, "cpu.stat");
    let get = |k: &str| cpu.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = get("usage_usec") * 1000;
    s.cpu.usage.user = get("user_usec") * 1000;
    s.cpu.usage.kernel = get("system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_usec") * 1000,
    };
    s.memory.usage.usage = number(dir, "memory.current");
    s.memory.usage.limit = number(dir, "memory.max");
    s.memory.usage.max = number(dir, "memory.peak");
    s.memory.usage.failcnt = keyed(dir, "memory.events").get("max").copied().unwrap_or(0);
    s.memory.swap.usage = number(dir, "memory.swap.current");
    s.memory.swap.limit = number(dir, "memory.swap.max");
    s.memory.raw = keyed(dir, "memory.stat");
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = pids(dir);
    io(dir, s);
}

/// io.stat lines: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...".
fn io(dir: &Path, s: &mut Stats) {
    let text = std::fs::read_to_string(dir.join("io.stat")).unwrap_or_default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse() else { continue };
            let (list, op) = match key {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
}
