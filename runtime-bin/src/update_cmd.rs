//! update: runc's flags (or a LinuxResources JSON from --resources FILE or `-`) turned into
//! a LinuxResources and handed to libcontainer.

use crate::cli::UpdateArgs;
use crate::error::CliError;
use libcontainer::Container;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::Path;

pub fn update(root: &Path, args: &UpdateArgs) -> Result<i32, CliError> {
    let resources = match &args.resources {
        Some(file) => read_resources(file)?,
        None => from_flags(args)?,
    };
    let mut c = Container::load(root, &args.id)?;
    for w in c.update(&resources)? {
        log::warn!("{w}");
    }
    Ok(0)
}

fn read_resources(file: &str) -> Result<LinuxResources, CliError> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| CliError::io(file, e))?;
    libcontainer::spec::parse_json(text.as_bytes(), Path::new(file)).map_err(|e| CliError::Flag {
        flag: "--resources",
        reason: e.to_string(),
    })
}

fn from_flags(a: &UpdateArgs) -> Result<LinuxResources, CliError> {
    // runc writes these to the resctrl filesystem (linux.intelRdt); berth does not manage
    // resctrl at all, so they are refused rather than accepted and dropped.
    for (flag, value) in [
        ("--l3-cache-schema", &a.l3_cache_schema),
        ("--mem-bw-schema", &a.mem_bw_schema),
    ] {
        if value.is_some() {
            return Err(CliError::Flag {
                flag,
                reason: "Intel RDT (linux.intelRdt) is not supported by berth".into(),
            });
        }
    }
    let mut memory = Map::new();
    for (flag, key, value) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
    ] {
        if let Some(v) = value {
            memory.insert(key.into(), json!(parse_size(flag, v)?));
        }
    }
    let mut cpu = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            cpu.insert(key.into(), v);
        }
    };
    put("shares", a.cpu_share.map(Value::from));
    put("quota", a.cpu_quota.map(Value::from));
    put("period", a.cpu_period.map(Value::from));
    put("cpus", a.cpuset_cpus.clone().map(Value::from));
    put("mems", a.cpuset_mems.clone().map(Value::from));
    put("realtimePeriod", a.cpu_rt_period.map(Value::from));
    put("realtimeRuntime", a.cpu_rt_runtime.map(Value::from));
    let mut res = Map::new();
    if !memory.is_empty() {
        res.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        res.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(l) = a.pids_limit {
        res.insert("pids".into(), json!({ "limit": l }));
    }
    if let Some(w) = a.blkio_weight {
        res.insert("blockIO".into(), json!({ "weight": w }));
    }
    serde_json::from_value(Value::Object(res)).map_err(|e| CliError::Flag {
        flag: "update",
        reason: e.to_string(),
    })
}

/// A memory size as runc takes it: `-1` (unlimited), plain bytes, or a number with a binary
/// unit k, m, g, t or p (optionally followed by `b` or `ib`, any case).
fn parse_size(flag: &'static str, s: &str) -> Result<i64, CliError> {
    let bad = || CliError::Flag {
        flag,
        reason: format!("invalid size {s:?} (bytes, or a number with k, m, g, t or p)"),
    };
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, shift) = match body.chars().last() {
        Some(u @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            let shift = 10 * (1 + "kmgtp".find(u).unwrap_or(0) as u32);
            (&body[..body.len() - 1], shift)
        }
        _ if body.len() < lower.len() && lower.ends_with("ib") => return Err(bad()),
        _ => (body, 0),
    };
    let num = num.trim();
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = n * (1u64 << shift) as f64;
    if bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_runc() {
        assert_eq!(parse_size("--memory", "1024").unwrap(), 1024);
        assert_eq!(parse_size("--memory", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("--memory", "64MB").unwrap(), 64 << 20);
        assert_eq!(parse_size("--memory", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("--memory", "2KiB").unwrap(), 2048);
        assert_eq!(parse_size("--memory-swap", "-1").unwrap(), -1);
        for bad in ["", "m", "12x", "-5", "1.2.3g"] {
            assert!(parse_size("--memory", bad).is_err(), "{bad}");
        }
    }
}
