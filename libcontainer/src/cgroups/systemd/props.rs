//! `linux.resources` as systemd unit properties, converted as runc converts them: what systemd
//! knows is set on the unit (so it survives a `systemctl daemon-reload`, which re-applies the
//! unit's properties to its cgroup), everything is also written to the cgroup files.
//!
//! Kept free of D-Bus types so the conversion is unit-tested; `dbus` turns them into variants.

use super::super::devices::Rule;
use super::super::v2::{io_weight, shares_to_weight, swap_value};
use super::super::CgroupError;
use cgroups_rs::devices::{DevicePermissions, DeviceType};
use oci_spec::runtime::LinuxResources;

/// systemd's "infinity" for a u64 property.
const INFINITY: u64 = u64::MAX;
/// The kernel's default CFS period, which systemd assumes when only a quota is given.
const DEFAULT_PERIOD_US: u64 = 100_000;
/// Cap on a CPU or memory-node number in a cpuset list, so a hostile `0-4294967295` does not
/// become a half-gigabyte mask (the kernel's own NR_CPUS limit is 8192).
const MAX_CPUSET_BIT: u32 = 8192;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Bool(bool),
    U64(u64),
    U32s(Vec<u32>),
    Bytes(Vec<u8>),
    /// DeviceAllow: (device, access) pairs.
    Devices(Vec<(String, String)>),
}

pub(crate) type Property = (&'static str, Value);

/// The properties of a new scope (runc's set), resources included.
pub(crate) fn for_new_scope(
    unit: &super::Unit,
    pid: u32,
    res: &LinuxResources,
    rules: &[Rule],
) -> Result<Vec<Property>, CgroupError> {
    let mut out = vec![
        (
            "Description",
            Value::Str(format!("berth container {}", unit.name)),
        ),
        ("Slice", Value::Str(unit.slice.clone())),
        ("Delegate", Value::Bool(true)),
        ("PIDs", Value::U32s(vec![pid])),
        ("MemoryAccounting", Value::Bool(true)),
        ("CPUAccounting", Value::Bool(true)),
        ("IOAccounting", Value::Bool(true)),
        ("TasksAccounting", Value::Bool(true)),
        ("DefaultDependencies", Value::Bool(false)),
    ];
    out.extend(devices(rules));
    out.extend(resources(res)?);
    Ok(out)
}

/// The properties of the resources systemd knows (`update`: runtime properties).
pub(crate) fn resources(res: &LinuxResources) -> Result<Vec<Property>, CgroupError> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        if let Some(v) = m.limit() {
            out.push(("MemoryMax", Value::U64(limit(v))));
        }
        if let Some(v) = m.reservation() {
            out.push(("MemoryLow", Value::U64(limit(v))));
        }
        let swap = swap_value(m.swap(), m.limit())?;
        if swap != 0 {
            out.push(("MemorySwapMax", Value::U64(limit(swap))));
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            out.push(("CPUWeight", Value::U64(shares_to_weight(s))));
        }
        cpu_quota(c.quota(), c.period(), &mut out);
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            out.push(("AllowedCPUs", Value::Bytes(cpuset_mask("cpu.cpus", cpus)?)));
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            let mask = cpuset_mask("cpu.mems", mems)?;
            out.push(("AllowedMemoryNodes", Value::Bytes(mask)));
        }
    }
    if let Some(p) = res.pids().filter(|p| p.limit() != 0) {
        out.push(("TasksMax", Value::U64(limit(p.limit()))));
    }
    if let Some(w) = res
        .block_io()
        .as_ref()
        .and_then(|b| super::super::validate::set_weight(b.weight()))
    {
        out.push(("IOWeight", Value::U64(io_weight(w))));
    }
    if let Some(map) = res.unified() {
        let mut keys: Vec<_> = map.iter().collect();
        keys.sort();
        for (key, value) in keys {
            unified(key, value.trim(), &mut out)?;
        }
    }
    Ok(out)
}

/// runc's conversion of the `unified` keys systemd has a property for; the others are only
/// written to the files. After the converted resources, so they win, as in the files.
fn unified(key: &str, v: &str, out: &mut Vec<Property>) -> Result<(), CgroupError> {
    let bad = || CgroupError::InvalidResource {
        field: format!("unified.{key}"),
        reason: format!("{v:?} is not a value systemd can take"),
    };
    let max_or_num = || match v {
        "max" => Ok(INFINITY),
        v => v.parse::<u64>().map_err(|_| bad()),
    };
    let name = match key {
        "memory.high" => "MemoryHigh",
        "memory.low" => "MemoryLow",
        "memory.min" => "MemoryMin",
        "memory.max" => "MemoryMax",
        "memory.swap.max" => "MemorySwapMax",
        "pids.max" => "TasksMax",
        "cpu.weight" => {
            let w = v.parse::<u64>().map_err(|_| bad())?;
            out.push(("CPUWeight", Value::U64(w)));
            return Ok(());
        }
        "cpu.max" => {
            let mut f = v.split_whitespace();
            let quota = match f.next() {
                Some("max") => -1,
                Some(q) => q.parse::<i64>().map_err(|_| bad())?,
                None => return Err(bad()),
            };
            let period = f
                .next()
                .map(str::parse::<u64>)
                .transpose()
                .map_err(|_| bad())?;
            if f.next().is_some() {
                return Err(bad());
            }
            cpu_quota(Some(quota), period.or(Some(DEFAULT_PERIOD_US)), out);
            return Ok(());
        }
        "cpuset.cpus" | "cpuset.mems" => {
            let name = match key {
                "cpuset.cpus" => "AllowedCPUs",
                _ => "AllowedMemoryNodes",
            };
            out.push((
                name,
                Value::Bytes(cpuset_mask(&format!("unified.{key}"), v)?),
            ));
            return Ok(());
        }
        _ => return Ok(()),
    };
    out.push((name, Value::U64(max_or_num()?)));
    Ok(())
}

/// A negative limit is "no limit".
fn limit(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(INFINITY)
}

/// runc's conversion: quota per period as µs of CPU time per second, rounded up to systemd's
/// 10 ms granularity (it would round down, giving less than asked); the period too when given.
fn cpu_quota(quota: Option<i64>, period: Option<u64>, out: &mut Vec<Property>) {
    let (q, p) = (quota.unwrap_or(0), period.unwrap_or(0));
    if q == 0 && p == 0 {
        return;
    }
    let per_sec = match u64::try_from(q) {
        Ok(q) if q > 0 => {
            let p = if p == 0 { DEFAULT_PERIOD_US } else { p };
            let v = q.saturating_mul(1_000_000) / p;
            v.div_ceil(10_000).saturating_mul(10_000)
        }
        _ => INFINITY,
    };
    out.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    if p != 0 {
        out.push(("CPUQuotaPeriodUSec", Value::U64(p)));
    }
}

/// A cpuset list (`0-3,5`) as systemd's little-endian bit mask: bit n of byte n/8.
fn cpuset_mask(field: &str, list: &str) -> Result<Vec<u8>, CgroupError> {
    let bad = |reason: String| CgroupError::InvalidResource {
        field: field.into(),
        reason,
    };
    let num = |s: &str| -> Result<u32, CgroupError> {
        let n: u32 = s
            .trim()
            .parse()
            .map_err(|_| bad(format!("{list:?}: {s:?} is not a number")))?;
        if n >= MAX_CPUSET_BIT {
            return Err(bad(format!("{list:?}: {n} is beyond {MAX_CPUSET_BIT}")));
        }
        Ok(n)
    };
    let mut mask = Vec::new();
    for part in list.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (num(lo)?, num(hi)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi {
            return Err(bad(format!("{list:?}: range {part:?} is reversed")));
        }
        for n in lo..=hi {
            let byte = (n / 8) as usize;
            if mask.len() <= byte {
                mask.resize(byte + 1, 0);
            }
            mask[byte] |= 1 << (n % 8);
        }
    }
    Ok(mask)
}

/// DevicePolicy and DeviceAllow from berth's resolved rules. berth attaches its own device
/// program as well (the exact rules, deny ones included), and the kernel requires every
/// attached program to allow an access, so this list is the allowed ones only (a superset
/// where a later deny narrows an allow), as runc does. An allow-everything rule is `auto`.
pub(crate) fn devices(rules: &[Rule]) -> Vec<Property> {
    let all = rules.iter().any(|r| {
        r.allow && r.typ == DeviceType::All && r.major < 0 && r.minor < 0 && r.access.len() == 3
    });
    if all {
        return vec![("DevicePolicy", Value::Str("auto".into()))];
    }
    let allow: Vec<(String, String)> = rules
        .iter()
        .filter(|r| r.allow)
        .flat_map(device_entries)
        .collect();
    vec![
        ("DevicePolicy", Value::Str("strict".into())),
        ("DeviceAllow", Value::Devices(allow)),
    ]
}

/// `/dev/char/M:m` for one device, `char-<name>` for every minor of a major (systemd looks the
/// name up in /proc/devices), `char-*` for all.
fn device_entries(r: &Rule) -> Vec<(String, String)> {
    let access: String = r
        .access
        .iter()
        .map(|a| match a {
            DevicePermissions::Read => 'r',
            DevicePermissions::Write => 'w',
            DevicePermissions::MkNod => 'm',
        })
        .collect();
    let kinds: &[(&str, &str)] = match r.typ {
        DeviceType::Char => &[("char", "character")],
        DeviceType::Block => &[("block", "block")],
        DeviceType::All => &[("char", "character"), ("block", "block")],
    };
    let mut out = Vec::new();
    for (kind, section) in kinds {
        let device = match (r.major, r.minor) {
            (maj, min) if maj >= 0 && min >= 0 => format!("/dev/{kind}/{maj}:{min}"),
            (maj, _) if maj >= 0 => match proc_devices_name(section, maj) {
                Some(name) => format!("{kind}-{name}"),
                // No driver of that major: nothing to allow.
                None => continue,
            },
            _ => format!("{kind}-*"),
        };
        out.push((device, access.clone()));
    }
    out
}

/// The driver name of `major` in /proc/devices' `section` ("character" or "block").
fn proc_devices_name(section: &str, major: i64) -> Option<String> {
    let text = std::fs::read_to_string("/proc/devices").ok()?;
    let mut in_section = false;
    for line in text.lines() {
        if let Some(head) = line.strip_suffix(" devices:") {
            in_section = head.eq_ignore_ascii_case(section);
            continue;
        }
        let mut f = line.split_whitespace();
        if let (true, Some(m), Some(name)) = (in_section, f.next(), f.next()) {
            if m.parse() == Ok(major) {
                return Some(name.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: serde_json::Value) -> Vec<Property> {
        resources(&serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn converts_limits_as_runc() {
        let p = props(json!({
            "memory": {"limit": 33554432, "reservation": -1, "swap": 67108864},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,9"},
            "pids": {"limit": 42},
            "blockIO": {"weight": 500},
        }));
        let want = [
            ("MemoryMax", Value::U64(33554432)),
            ("MemoryLow", Value::U64(u64::MAX)),
            ("MemorySwapMax", Value::U64(33554432)),
            ("CPUWeight", Value::U64(100)),
            ("CPUQuotaPerSecUSec", Value::U64(500_000)),
            ("CPUQuotaPeriodUSec", Value::U64(100_000)),
            ("AllowedCPUs", Value::Bytes(vec![0b0000_0111, 0b0000_0010])),
            ("TasksMax", Value::U64(42)),
            ("IOWeight", Value::U64(io_weight(500))),
        ];
        assert_eq!(p, want);
    }

    #[test]
    fn quota_rounds_up_to_10ms_and_unlimited_is_infinity() {
        let p = props(json!({"cpu": {"quota": 12345, "period": 100000}}));
        assert_eq!(p[0], ("CPUQuotaPerSecUSec", Value::U64(130_000)));
        let p = props(json!({"cpu": {"quota": -1}}));
        assert_eq!(p, [("CPUQuotaPerSecUSec", Value::U64(u64::MAX))]);
        let p = props(json!({"pids": {"limit": -1}, "memory": {"limit": -1}}));
        assert!(p.contains(&("TasksMax", Value::U64(u64::MAX))));
        assert!(p.contains(&("MemoryMax", Value::U64(u64::MAX))));
    }

    #[test]
    fn unified_keys_systemd_knows_become_properties() {
        let p = props(json!({"unified": {
            "memory.high": "max", "pids.max": "7", "cpu.max": "25000 50000",
            "cpu.weight": "300", "io.max": "8:0 rbps=1"
        }}));
        let want = [
            ("CPUQuotaPerSecUSec", Value::U64(500_000)),
            ("CPUQuotaPeriodUSec", Value::U64(50_000)),
            ("CPUWeight", Value::U64(300)),
            ("MemoryHigh", Value::U64(u64::MAX)),
            ("TasksMax", Value::U64(7)),
        ];
        assert_eq!(p, want);
        for bad in [json!({"pids.max": "x"}), json!({"cpu.max": "1 2 3"})] {
            let res = serde_json::from_value(json!({ "unified": bad })).unwrap();
            assert!(resources(&res)
                .unwrap_err()
                .to_string()
                .contains("unified."));
        }
    }

    #[test]
    fn refuses_bad_cpusets_without_allocating() {
        for bad in ["0-4294967295", "3-1", "x", "1,,2", "-1"] {
            let res = serde_json::from_value(json!({"cpu": {"cpus": bad}})).unwrap();
            let err = resources(&res).unwrap_err().to_string();
            assert!(err.starts_with("linux.resources.cpu.cpus"), "{bad}: {err}");
        }
    }

    #[test]
    fn device_rules_become_an_allow_list() {
        let rule = |allow, typ, major, minor| Rule {
            allow,
            typ,
            major,
            minor,
            access: vec![DevicePermissions::Read, DevicePermissions::Write],
        };
        let p = devices(&[
            rule(false, DeviceType::All, -1, -1),
            rule(true, DeviceType::Char, 1, 3),
            rule(true, DeviceType::Block, -1, -1),
            rule(false, DeviceType::Char, 1, 5),
        ]);
        let want = vec![
            ("/dev/char/1:3".to_string(), "rw".to_string()),
            ("block-*".to_string(), "rw".to_string()),
        ];
        assert_eq!(
            p,
            [
                ("DevicePolicy", Value::Str("strict".into())),
                ("DeviceAllow", Value::Devices(want)),
            ]
        );
        let mut all = rule(true, DeviceType::All, -1, -1);
        all.access.push(DevicePermissions::MkNod);
        assert_eq!(
            devices(&[all]),
            [("DevicePolicy", Value::Str("auto".into()))]
        );
    }
}
