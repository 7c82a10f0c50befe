//! Checks of the container's filesystem: mounts, devices, masked and read-only paths.

use crate::{errno, Check, Ctx};
use serde_json::Value;
use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// One line of /proc/self/mountinfo.
struct MountEntry {
    point: String,
    options: Vec<String>,
    optional: Vec<String>,
    fstype: String,
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn mountinfo() -> Result<Vec<MountEntry>, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < dash + 2 || dash < 6 {
            continue;
        }
        out.push(MountEntry {
            point: unescape(f[4]),
            options: f[5].split(',').map(str::to_owned).collect(),
            optional: f[6..dash].iter().map(|s| s.to_string()).collect(),
            fstype: f[dash + 1].to_owned(),
        });
    }
    Ok(out)
}

/// The mount visible at `point`: the last one mounted there.
fn mount_at<'a>(mounts: &'a [MountEntry], point: &str) -> Option<&'a MountEntry> {
    mounts.iter().rev().find(|m| m.point == point)
}

fn is_readonly(path: &str) -> Result<bool, String> {
    let c = CString::new(path).map_err(|e| e.to_string())?;
    // SAFETY: statvfs writes into a zeroed struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!("statvfs {path}: errno {}", errno()));
    }
    Ok(st.f_flag & libc::ST_RDONLY != 0)
}

fn dev_numbers(md: &std::fs::Metadata) -> (u64, u64) {
    let rdev = md.rdev();
    (libc::major(rdev) as u64, libc::minor(rdev) as u64)
}

pub fn devices(ctx: &Ctx) -> Check {
    let list = ctx.config["linux"]["devices"]
        .as_array()
        .ok_or("config sets no devices")?;
    for d in list {
        let path = d["path"].as_str().unwrap_or("");
        let md = std::fs::symlink_metadata(path).map_err(|e| format!("{path}: {e}"))?;
        let ft = md.file_type();
        let kind = d["type"].as_str().unwrap_or("");
        let ok = match kind {
            "c" | "u" => ft.is_char_device(),
            "b" => ft.is_block_device(),
            "p" => ft.is_fifo(),
            _ => false,
        };
        if !ok {
            return Err(format!("{path} is {ft:?}, config says type {kind}"));
        }
        if kind != "p" {
            let want = (
                d["major"].as_u64().unwrap_or(0),
                d["minor"].as_u64().unwrap_or(0),
            );
            if dev_numbers(&md) != want {
                return Err(format!(
                    "{path} is {:?}, config says {want:?}",
                    dev_numbers(&md)
                ));
            }
        }
        if let Some(mode) = d["fileMode"].as_u64() {
            if u64::from(md.mode() & 0o7777) != mode {
                return Err(format!(
                    "{path} mode {:o}, config says {mode:o}",
                    md.mode() & 0o7777
                ));
            }
        }
        for (key, got) in [("uid", md.uid()), ("gid", md.gid())] {
            if let Some(want) = d[key].as_u64() {
                if u64::from(got) != want {
                    return Err(format!("{path} {key} {got}, config says {want}"));
                }
            }
        }
    }
    Ok(())
}

/// The devices the spec says every Linux container gets.
pub fn default_devices(_: &Ctx) -> Check {
    let want = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ];
    for (name, major, minor) in want {
        let path = format!("/dev/{name}");
        let md = std::fs::metadata(&path).map_err(|e| format!("{path}: {e}"))?;
        if !md.file_type().is_char_device() || dev_numbers(&md) != (major, minor) {
            return Err(format!("{path} is not char {major}:{minor}"));
        }
    }
    let links = [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, target) in links {
        let got =
            std::fs::read_link(format!("/dev/{name}")).map_err(|e| format!("/dev/{name}: {e}"))?;
        if got.to_str() != Some(target) {
            return Err(format!("/dev/{name} -> {}, want {target}", got.display()));
        }
    }
    std::fs::symlink_metadata("/dev/ptmx").map_err(|e| format!("/dev/ptmx: {e}"))?;
    Ok(())
}

/// Opens each device the runner listed: the device cgroup answers EPERM for a denied one,
/// anything else (even ENXIO, from a driver that is not there) means the cgroup let it through.
pub fn device_access(ctx: &Ctx) -> Check {
    let list = ctx.expect["device_access"]
        .as_array()
        .ok_or("runner listed no devices")?;
    for d in list {
        let path = d["path"].as_str().unwrap_or("");
        let c = CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: open/close of a path we own; the fd is closed at once.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
        let denied = fd < 0 && errno() == libc::EPERM;
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
        let want = d["allowed"].as_bool().unwrap_or(false);
        if denied == want {
            return Err(format!(
                "{path}: {} by the device cgroup, want {}",
                if denied { "denied" } else { "allowed" },
                if want { "allowed" } else { "denied" }
            ));
        }
    }
    Ok(())
}

pub fn mounts(ctx: &Ctx) -> Check {
    let table = mountinfo()?;
    for m in ctx.config["mounts"].as_array().into_iter().flatten() {
        let dest = m["destination"].as_str().unwrap_or("");
        let Some(got) = mount_at(&table, dest) else {
            return Err(format!("nothing mounted at {dest}"));
        };
        let opts: Vec<&str> = m["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let bind = opts.iter().any(|o| *o == "bind" || *o == "rbind") || m["type"] == "bind";
        let fstype = m["type"].as_str().unwrap_or("");
        // runc-style runtimes turn a cgroup v1 mount into a tmpfs of per-controller mounts.
        if !bind && fstype != "cgroup" && !fstype.is_empty() && got.fstype != fstype {
            return Err(format!("{dest} is {}, config says {fstype}", got.fstype));
        }
        // A cgroup v1 mount becomes a tmpfs holding one mount per controller; the options
        // belong to the controllers' mounts.
        let under = format!("{dest}/");
        let targets: Vec<&MountEntry> = if fstype == "cgroup" && got.fstype == "tmpfs" {
            table
                .iter()
                .filter(|m| m.point.starts_with(&under) && m.fstype == "cgroup")
                .collect()
        } else {
            vec![got]
        };
        for t in targets {
            for flag in ["ro", "nosuid", "nodev", "noexec"] {
                if opts.contains(&flag) && !t.options.iter().any(|o| o == flag) {
                    return Err(format!(
                        "{} mounted {}, config asks {flag}",
                        t.point,
                        t.options.join(",")
                    ));
                }
            }
        }
    }
    Ok(())
}

pub fn root_readonly(ctx: &Ctx) -> Check {
    let want = ctx.config["root"]["readonly"].as_bool().unwrap_or(false);
    let got = is_readonly("/")?;
    if got != want {
        return Err(format!("root read-only {got}, config says {want}"));
    }
    Ok(())
}

pub fn masked_paths(ctx: &Ctx) -> Check {
    for p in ctx.config["linux"]["maskedPaths"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let path = p.as_str().unwrap_or("");
        let Ok(md) = std::fs::metadata(path) else {
            continue;
        };
        if md.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| format!("{path}: {e}"))?
                .count();
            if entries != 0 {
                return Err(format!("masked directory {path} shows {entries} entries"));
            }
        } else {
            // Bounded: an unmasked device such as /dev/full would read forever.
            let mut buf = [0u8; 64];
            let mut f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
            let n = std::io::Read::read(&mut f, &mut buf).map_err(|e| format!("{path}: {e}"))?;
            if n != 0 {
                return Err(format!("masked file {path} reads {n} bytes"));
            }
        }
    }
    Ok(())
}

pub fn readonly_paths(ctx: &Ctx) -> Check {
    for p in ctx.config["linux"]["readonlyPaths"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let path = p.as_str().unwrap_or("");
        if std::fs::symlink_metadata(path).is_err() {
            continue;
        }
        if !is_readonly(path)? {
            return Err(format!("{path} is not on a read-only mount"));
        }
    }
    Ok(())
}

pub fn propagation(ctx: &Ctx) -> Check {
    let want = ctx.config["linux"]["rootfsPropagation"]
        .as_str()
        .ok_or("config sets no rootfsPropagation")?;
    let table = mountinfo()?;
    let root = mount_at(&table, "/").ok_or("no mount at /")?;
    let has = |p: &str| root.optional.iter().any(|o| o.starts_with(p));
    let ok = match want.trim_start_matches('r') {
        "shared" => has("shared:"),
        "slave" => has("master:") && !has("shared:"),
        "private" => !has("shared:") && !has("master:") && !has("unbindable"),
        "unbindable" => has("unbindable"),
        _ => return Err(format!("unknown propagation {want}")),
    };
    if !ok {
        return Err(format!(
            "root mount propagation fields {:?}, config says {want}",
            root.optional
        ));
    }
    Ok(())
}

fn writable(path: &str) -> bool {
    let probe = if std::path::Path::new(path).is_dir() {
        format!("{path}/.probe")
    } else {
        path.to_owned()
    };
    let ok = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&probe)
        .is_ok();
    if ok && probe != path {
        let _ = std::fs::remove_file(&probe);
    }
    ok
}

/// Facts about files the runner listed: content, absence, writability.
pub fn files(ctx: &Ctx) -> Check {
    let list = ctx.expect["files"]
        .as_array()
        .ok_or("runner listed no files")?;
    for f in list {
        let path = f["path"].as_str().unwrap_or("");
        if let Some(want) = f["content"].as_str() {
            let got = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            if got.trim() != want {
                return Err(format!("{path} holds {:?}, want {want:?}", got.trim()));
            }
        }
        if f["absent"] == true && std::fs::symlink_metadata(path).is_ok() {
            return Err(format!("{path} exists"));
        }
        for (key, get) in [
            ("uid", MetadataExt::uid as fn(&std::fs::Metadata) -> u32),
            ("gid", MetadataExt::gid),
        ] {
            if let Some(want) = f[key].as_u64() {
                let md = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
                if u64::from(get(&md)) != want {
                    return Err(format!("{path} {key} {}, want {want}", get(&md)));
                }
            }
        }
        if let Some(want) = f["writable"].as_bool() {
            if writable(path) != want {
                return Err(format!("{path} writable {}, want {want}", !want));
            }
        }
    }
    Ok(())
}
