//! `linux.cgroupsPath` under `--systemd-cgroup`: `slice:prefix:name`, as runc reads it. The
//! slice (default `system.slice`) is where the container's scope goes, the scope is
//! `<prefix>-<name>.scope`, and its cgroup is the slice's expanded path (`a-b.slice` is
//! `/a.slice/a-b.slice`) with the scope's name below.
//!
//! Stricter than runc in one way: every part must be a valid unit-name part (systemd's
//! characters, no `/`), checked before anything is created, so that the cgroup path berth
//! computes is the one systemd makes and a config cannot steer it elsewhere.

use super::super::CgroupError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The default slice, as runc's for a root runtime.
const DEFAULT_SLICE: &str = "system.slice";
/// The default scope prefix when `cgroupsPath` is empty (runc's is `runc`).
const DEFAULT_PREFIX: &str = "berth";
/// systemd's limit on a unit name (UNIT_NAME_MAX).
const UNIT_NAME_MAX: usize = 255;

/// The container's transient scope. Stored in state.json, so `delete` and `update` find the
/// unit after the creating berth has exited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unit {
    /// `<prefix>-<name>.scope`.
    pub name: String,
    /// The slice unit it goes in (`system.slice`).
    pub slice: String,
}

impl Unit {
    /// Parses `cgroupsPath` (`None` or empty: the default `system.slice:berth:<id>`).
    pub(crate) fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Unit, CgroupError> {
        let path = cgroups_path.unwrap_or("");
        let (slice, prefix, name) = if path.is_empty() {
            ("", DEFAULT_PREFIX, id)
        } else {
            let parts: Vec<&str> = path.split(':').collect();
            match parts[..] {
                [slice, prefix, name] => (slice, prefix, name),
                _ => {
                    return Err(invalid(
                        path,
                        "with --systemd-cgroup it must be \"slice:prefix:name\"",
                    ))
                }
            }
        };
        let slice = if slice.is_empty() {
            DEFAULT_SLICE
        } else {
            slice
        };
        expand_slice(slice).map_err(|reason| invalid(path, &reason))?;
        if name.is_empty() {
            return Err(invalid(path, "the name part is empty"));
        }
        if name.ends_with(".slice") {
            // runc then makes a slice unit instead of a scope; berth has no use for a
            // container cgroup systemd may put other units in.
            return Err(invalid(path, "a name ending in .slice is not supported"));
        }
        let unit = match prefix {
            "" => format!("{name}.scope"),
            p => format!("{p}-{name}.scope"),
        };
        check_unit_chars(&unit).map_err(|reason| invalid(path, &reason))?;
        Ok(Unit {
            name: unit,
            slice: slice.to_string(),
        })
    }

    /// The scope's cgroup, from the root of the cgroup2 hierarchy.
    pub(crate) fn cgroup(&self) -> Result<PathBuf, CgroupError> {
        let slice = expand_slice(&self.slice).map_err(|reason| invalid(&self.slice, &reason))?;
        Ok(slice.join(&self.name))
    }
}

fn invalid(path: &str, reason: &str) -> CgroupError {
    CgroupError::InvalidPath {
        path: PathBuf::from(path),
        reason: reason.to_string(),
    }
}

/// systemd's unit-name characters: ASCII letters and digits, `:-_.\@`; not too long.
fn check_unit_chars(unit: &str) -> Result<(), String> {
    if unit.len() > UNIT_NAME_MAX {
        return Err(format!(
            "unit name {unit:?} is longer than {UNIT_NAME_MAX} bytes"
        ));
    }
    match unit
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":-_.\\@".contains(*c)))
    {
        Some(c) => Err(format!(
            "unit name {unit:?} holds {c:?}, not valid in a unit name"
        )),
        None => Ok(()),
    }
}

/// A slice's cgroup: `-.slice` is the root, `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`.
/// runc's rules: a `.slice` suffix, no `/`, no empty dash-separated part.
pub(crate) fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(format!("slice {slice:?} does not end in .slice"));
    };
    check_unit_chars(slice).map_err(|e| format!("slice: {e}"))?;
    if stem == "-" {
        return Ok(PathBuf::from("/"));
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(format!("slice {slice:?} has an empty part between dashes"));
        }
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(path: &str) -> Result<Unit, String> {
        Unit::parse(Some(path), "ctr").map_err(|e| e.to_string())
    }

    #[test]
    fn expands_slices_as_runc() {
        let ok = [
            ("-.slice", "/"),
            ("system.slice", "/system.slice"),
            ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"),
            ("machine-x_y.slice", "/machine.slice/machine-x_y.slice"),
        ];
        for (slice, want) in ok {
            assert_eq!(expand_slice(slice).unwrap(), PathBuf::from(want), "{slice}");
        }
        for bad in [
            "system",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            ".slice",
            "x y.slice",
            "../x.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_slice_prefix_name() {
        let u = unit("machine.slice:docker:abc").unwrap();
        assert_eq!(u.name, "docker-abc.scope");
        assert_eq!(u.slice, "machine.slice");
        assert_eq!(
            u.cgroup().unwrap(),
            PathBuf::from("/machine.slice/docker-abc.scope")
        );
        let nested = unit("a-b.slice:p:n").unwrap();
        assert_eq!(
            nested.cgroup().unwrap(),
            PathBuf::from("/a.slice/a-b.slice/p-n.scope")
        );
        let no_slice = unit(":p:n").unwrap();
        assert_eq!(no_slice.slice, "system.slice");
        assert_eq!(no_slice.name, "p-n.scope");
        assert_eq!(unit("x.slice::n").unwrap().name, "n.scope");
        let dflt = Unit::parse(None, "ctr").unwrap();
        assert_eq!(dflt.name, "berth-ctr.scope");
        assert_eq!(
            dflt.cgroup().unwrap(),
            PathBuf::from("/system.slice/berth-ctr.scope")
        );
        assert_eq!(Unit::parse(Some(""), "ctr").unwrap(), dflt);
    }

    #[test]
    fn refuses_what_runc_refuses_and_unsafe_names() {
        let bad = [
            "/sys/fs/cgroup/x",
            "a:b",
            "a:b:c:d",
            "system:p:n",
            "a--b.slice:p:n",
            "x.slice:p:",
            "x.slice:p:n.slice",
            "x.slice:../..:n",
            "x.slice:p:a/b",
            "x.slice:p:a b",
            "x.slice:p:\n",
        ];
        for path in bad {
            let err = unit(path).expect_err(path);
            assert!(err.starts_with("linux.cgroupsPath "), "{path}: {err}");
        }
        let long = format!("x.slice:p:{}", "n".repeat(300));
        assert!(unit(&long).unwrap_err().contains("longer than"));
    }
}
