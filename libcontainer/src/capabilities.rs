//! `process.capabilities`: the five sets, applied with the caps crate after the uid change.

use caps::{CapSet, Capability as Cap, CapsHashSet};
use oci_spec::runtime::{Capabilities, Capability as OciCap, LinuxCapabilities};

/// `process.capabilities` could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A capability of one of the five sets could not be set.
    #[error("process.capabilities.{set}: {cap}: {reason}")]
    Apply {
        /// The capability set (`bounding`, `effective`, ...).
        set: &'static str,
        /// The capability.
        cap: String,
        /// What is wrong, in words.
        reason: String,
    },
}

fn apply_err(set: &'static str, cap: impl ToString, reason: impl ToString) -> CapsError {
    CapsError::Apply {
        set,
        cap: cap.to_string(),
        reason: reason.to_string(),
    }
}

/// The five sets by their config names, each `None` read as empty.
fn sets(caps: Option<&LinuxCapabilities>) -> [(&'static str, Option<&Capabilities>); 5] {
    let c = caps;
    [
        ("bounding", c.and_then(|c| c.bounding().as_ref())),
        ("effective", c.and_then(|c| c.effective().as_ref())),
        ("inheritable", c.and_then(|c| c.inheritable().as_ref())),
        ("permitted", c.and_then(|c| c.permitted().as_ref())),
        ("ambient", c.and_then(|c| c.ambient().as_ref())),
    ]
}

/// oci-spec and caps name the same kernel capabilities; "CAP_" + oci's name is caps' name.
fn to_caps(set: &'static str, cap: &OciCap) -> Result<Cap, CapsError> {
    let name = format!("CAP_{cap}");
    name.parse::<Cap>()
        .map_err(|_| apply_err(set, &name, "not known to this build of berth (caps crate)"))
}

fn convert(set: &'static str, caps: Option<&Capabilities>) -> Result<CapsHashSet, CapsError> {
    caps.into_iter()
        .flatten()
        .map(|c| to_caps(set, c))
        .collect()
}

/// The highest capability number the running kernel knows, asked of the kernel itself:
/// PR_CAPBSET_READ answers EINVAL past the last capability. No file is read, so nothing the
/// container can shape (its /proc/sys/kernel/cap_last_cap, a volume over it, an image file
/// where /proc is not mounted) can make the bounding-set drop stop early.
pub(crate) fn kernel_last_cap() -> u8 {
    // The capability numbers fit in a u64 mask; bisect for the last one the kernel accepts.
    let known = |index: u8| {
        // SAFETY: PR_CAPBSET_READ takes an integer argument and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(index), 0, 0, 0) >= 0 }
    };
    let (mut lo, mut hi) = (0u8, 64u8);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if known(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Checks every capability is known to this kernel (e.g. CAP_BPF on an old kernel).
pub fn validate_capabilities(caps: Option<&LinuxCapabilities>) -> Result<(), CapsError> {
    validate_for_kernel(caps, kernel_last_cap())
}

fn validate_for_kernel(caps: Option<&LinuxCapabilities>, last: u8) -> Result<(), CapsError> {
    for (set, list) in sets(caps) {
        for cap in convert(set, list)? {
            if cap.index() > last {
                return Err(apply_err(
                    set,
                    cap,
                    format!("not supported by the running kernel (its last capability is {last})"),
                ));
            }
        }
    }
    let [_, e, i, p, a] = sets(caps).map(|(set, list)| convert(set, list));
    check_subsets(&e?, &i?, &p?, &a?)
}

/// The kernel's rules between the sets (capabilities(7)), checked up front so the error names
/// the capability rather than being a bare EPERM from capset.
fn check_subsets(
    effective: &CapsHashSet,
    inheritable: &CapsHashSet,
    permitted: &CapsHashSet,
    ambient: &CapsHashSet,
) -> Result<(), CapsError> {
    if let Some(c) = effective.difference(permitted).min_by_key(|c| c.index()) {
        return Err(apply_err("effective", c, "is not in the permitted set"));
    }
    let _ = (inheritable, ambient);
    Ok(())
}

/// Drops the bounding set to `bounding`, then sets effective, permitted, inheritable and
/// ambient. Called after `identity::set_identity` (which keeps caps across the uid change).
/// `None` means the spec gave no capabilities: every set ends up empty.
pub fn apply_capabilities(caps: Option<&LinuxCapabilities>) -> Result<(), CapsError> {
    let [bounding, effective, inheritable, permitted, ambient] =
        sets(caps).map(|(set, list)| convert(set, list));
    let (bounding, effective, inheritable, permitted, ambient) =
        (bounding?, effective?, inheritable?, permitted?, ambient?);
    check_subsets(&effective, &inheritable, &permitted, &ambient)?;

    // After a uid change from 0 the effective set is empty even with keepcaps; dropping the
    // bounding set and widening inheritable need CAP_SETPCAP in effective, so raise first.
    let raising = "(raising effective to permitted)";
    let current =
        caps::read(None, CapSet::Permitted).map_err(|e| apply_err("permitted", raising, e))?;
    caps::set(None, CapSet::Effective, &current).map_err(|e| apply_err("effective", raising, e))?;

    drop_bounding(&bounding)?;
    caps::set(None, CapSet::Inheritable, &inheritable)
        .map_err(|e| apply_err("inheritable", list(&inheritable), e))?;
    // Effective must stay within permitted, so it is narrowed before permitted is.
    caps::set(None, CapSet::Effective, &effective)
        .map_err(|e| apply_err("effective", list(&effective), e))?;
    caps::set(None, CapSet::Permitted, &permitted)
        .map_err(|e| apply_err("permitted", list(&permitted), e))?;
    // runc's and berth's default spec list ambient capabilities without inheritable ones, and
    // runc and crun skip those the kernel refuses: only permitted ∩ inheritable can be ambient.
    let raisable: CapsHashSet = ambient
        .iter()
        .filter(|c| permitted.contains(c) && inheritable.contains(c))
        .copied()
        .collect();
    apply_ambient(&raisable)
}

fn list(caps: &CapsHashSet) -> String {
    let mut names: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    names.sort();
    names.join(",")
}

/// Every capability the kernel has that is not in `keep` leaves the bounding set — including
/// ones newer than the caps crate, which are dropped by number so a future kernel's
/// capability cannot stay in a container's bounding set unnoticed.
fn drop_bounding(keep: &CapsHashSet) -> Result<(), CapsError> {
    let last = kernel_last_cap();
    for cap in caps::all() {
        if cap.index() <= last && !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| apply_err("bounding", cap, e))?;
        }
    }
    let known_max = caps::all().iter().map(|c| c.index()).max().unwrap_or(0);
    for index in (known_max + 1)..=last {
        // SAFETY: PR_CAPBSET_DROP takes an integer argument and touches no memory of ours.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(index), 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            return Err(apply_err("bounding", format!("capability {index}"), e));
        }
    }
    Ok(())
}

/// Raised last: the kernel keeps an ambient capability only while it is permitted and
/// inheritable (`check_subsets`).
fn apply_ambient(ambient: &CapsHashSet) -> Result<(), CapsError> {
    caps::clear(None, CapSet::Ambient).map_err(|e| apply_err("ambient", "(clearing)", e))?;
    let mut sorted: Vec<&Cap> = ambient.iter().collect();
    sorted.sort_by_key(|c| c.index());
    for cap in sorted {
        caps::raise(None, CapSet::Ambient, *cap).map_err(|e| apply_err("ambient", cap, e))?;
    }
    Ok(())
}

#[cfg(test)]
use crate::identity::test_fork;

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;

    fn oci(names: &[&str]) -> Capabilities {
        names
            .iter()
            .map(|n| serde_json::from_value(serde_json::json!(n)).unwrap())
            .collect()
    }

    fn hs(caps: &[Cap]) -> CapsHashSet {
        caps.iter().copied().collect()
    }

    #[test]
    fn every_caps_crate_capability_converts_both_ways() {
        for cap in caps::all() {
            let o: OciCap = serde_json::from_value(serde_json::json!(cap.to_string())).unwrap();
            assert_eq!(to_caps("bounding", &o).unwrap(), cap);
        }
    }

    #[test]
    fn validate_accepts_what_the_kernel_has() {
        let all: Vec<String> = caps::runtime::thread_all_supported()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let c = LinuxCapabilitiesBuilder::default()
            .bounding(oci(&names))
            .build()
            .unwrap();
        validate_capabilities(Some(&c)).unwrap();
        validate_capabilities(None).unwrap();
    }

    /// The probe agrees with the host's own /proc (read here, in the test, on the host).
    #[test]
    fn last_cap_comes_from_the_kernel() {
        let file = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
        assert_eq!(kernel_last_cap().to_string(), file.trim());
    }

    #[test]
    fn a_capability_newer_than_the_kernel_is_named() {
        let c = LinuxCapabilitiesBuilder::default()
            .permitted(oci(&["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"]))
            .build()
            .unwrap();
        let e = validate_for_kernel(Some(&c), 39).unwrap_err().to_string();
        assert_eq!(
            e,
            "process.capabilities.permitted: CAP_CHECKPOINT_RESTORE: not supported by the \
             running kernel (its last capability is 39)"
        );
    }

    fn status_mask(field: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    }

    #[test]
    fn applies_all_five_sets_after_a_uid_change() {
        test_fork::in_child(|| {
            let spec = LinuxCapabilitiesBuilder::default()
                .bounding(oci(&["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"]))
                .permitted(oci(&["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]))
                .effective(oci(&["CAP_CHOWN"]))
                .inheritable(oci(&["CAP_NET_BIND_SERVICE"]))
                .ambient(oci(&["CAP_NET_BIND_SERVICE"]))
                .build()
                .unwrap();
            let user = oci_spec::runtime::UserBuilder::default()
                .uid(1000u32)
                .gid(1000u32)
                .build()
                .unwrap();
            crate::identity::set_identity(&user, true).map_err(|e| e.to_string())?;
            apply_capabilities(Some(&spec)).map_err(|e| e.to_string())?;
            let want = [
                (
                    "CapBnd:",
                    hs(&[Cap::CAP_CHOWN, Cap::CAP_NET_BIND_SERVICE, Cap::CAP_KILL]),
                ),
                ("CapPrm:", hs(&[Cap::CAP_CHOWN, Cap::CAP_NET_BIND_SERVICE])),
                ("CapEff:", hs(&[Cap::CAP_CHOWN])),
                ("CapInh:", hs(&[Cap::CAP_NET_BIND_SERVICE])),
                ("CapAmb:", hs(&[Cap::CAP_NET_BIND_SERVICE])),
            ];
            for (field, set) in want {
                let mask: u64 = set.iter().map(|c| c.bitmask()).sum();
                if status_mask(field) != mask {
                    return Err(format!("{field} {:x}, want {mask:x}", status_mask(field)));
                }
            }
            Ok(())
        });
    }

    #[test]
    fn none_empties_every_set() {
        test_fork::in_child(|| {
            apply_capabilities(None).map_err(|e| e.to_string())?;
            for field in ["CapBnd:", "CapPrm:", "CapEff:", "CapInh:", "CapAmb:"] {
                if status_mask(field) != 0 {
                    return Err(format!("{field} {:x}", status_mask(field)));
                }
            }
            Ok(())
        });
    }

    #[test]
    fn ambient_needs_inheritable_and_effective_needs_permitted() {
        test_fork::in_child(|| {
            let amb = LinuxCapabilitiesBuilder::default()
                .bounding(oci(&["CAP_KILL"]))
                .permitted(oci(&["CAP_KILL"]))
                .effective(oci(&[]))
                .inheritable(oci(&[]))
                .ambient(oci(&["CAP_KILL"]))
                .build()
                .unwrap();
            // As runc's default spec asks: ambient without inheritable is skipped, not an error.
            apply_capabilities(Some(&amb)).map_err(|e| e.to_string())?;
            let ambient = caps::read(None, CapSet::Ambient).map_err(|e| e.to_string())?;
            if !ambient.is_empty() {
                return Err(format!("ambient raised without inheritable: {ambient:?}"));
            }
            Ok(())
        });
        test_fork::in_child(|| {
            let eff = LinuxCapabilitiesBuilder::default()
                .bounding(oci(&["CAP_KILL"]))
                .permitted(oci(&[]))
                .effective(oci(&["CAP_KILL"]))
                .inheritable(oci(&[]))
                .ambient(oci(&[]))
                .build()
                .unwrap();
            let e = apply_capabilities(Some(&eff))
                .expect_err("effective beyond permitted")
                .to_string();
            if e != "process.capabilities.effective: CAP_KILL: is not in the permitted set" {
                return Err(e);
            }
            let v = validate_capabilities(Some(&eff))
                .expect_err("validate too")
                .to_string();
            if v != e {
                return Err(v);
            }
            Ok(())
        });
    }
}
