//! `process.rlimits`, set with setrlimit in the init before exec.

use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// A `process.rlimits` entry could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum RlimitError {
    /// setrlimit(2) refused the limit.
    #[error("process.rlimits: {name} (soft {soft}, hard {hard}): {reason}")]
    Apply {
        /// The resource (`RLIMIT_NOFILE`, ...).
        name: String,
        /// The soft limit asked for.
        soft: u64,
        /// The hard limit asked for.
        hard: u64,
        /// What is wrong, in words.
        reason: String,
    },
}

impl RlimitError {
    fn new(rlimit: &PosixRlimit, reason: impl Into<String>) -> Self {
        RlimitError::Apply {
            name: rlimit.typ().to_string(),
            soft: rlimit.soft(),
            hard: rlimit.hard(),
            reason: reason.into(),
        }
    }
}

/// Duplicate types and soft > hard are errors, before anything is created.
pub fn validate_rlimits(rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    for (i, rlimit) in rlimits.iter().enumerate() {
        if rlimits[..i].iter().any(|r| r.typ() == rlimit.typ()) {
            return Err(RlimitError::new(rlimit, "given more than once"));
        }
        if rlimit.soft() > rlimit.hard() {
            return Err(RlimitError::new(
                rlimit,
                "soft limit is greater than hard limit",
            ));
        }
    }
    Ok(())
}

/// Sets each limit on the calling process. Raising a hard limit needs CAP_SYS_RESOURCE; the
/// resulting EPERM names the limit so the user knows which entry to lower.
pub fn apply_rlimits(rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    for rlimit in rlimits {
        setrlimit(resource(rlimit.typ()), rlimit.soft(), rlimit.hard())
            .map_err(|e| RlimitError::new(rlimit, e.desc()))?;
    }
    Ok(())
}

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

#[cfg(test)]
use crate::identity::test_fork;

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::resource::getrlimit;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rl(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    #[test]
    fn names_follow_the_spec() {
        assert_eq!(PosixRlimitType::RlimitNofile.to_string(), "RLIMIT_NOFILE");
        assert_eq!(PosixRlimitType::RlimitRttime.to_string(), "RLIMIT_RTTIME");
    }

    #[test]
    fn validate_rejects_duplicates_and_soft_above_hard() {
        let ok = [
            rl(PosixRlimitType::RlimitNofile, 10, 20),
            rl(PosixRlimitType::RlimitCore, 0, 0),
        ];
        validate_rlimits(&ok).unwrap();

        let dup = [
            rl(PosixRlimitType::RlimitNofile, 10, 20),
            rl(PosixRlimitType::RlimitNofile, 1, 2),
        ];
        let err = validate_rlimits(&dup).unwrap_err().to_string();
        assert_eq!(
            err,
            "process.rlimits: RLIMIT_NOFILE (soft 1, hard 2): given more than once"
        );

        let inverted = [rl(PosixRlimitType::RlimitCore, 30, 20)];
        let err = validate_rlimits(&inverted).unwrap_err().to_string();
        assert!(err.contains("RLIMIT_CORE (soft 30, hard 20)"), "{err}");
        assert!(
            err.contains("soft limit is greater than hard limit"),
            "{err}"
        );
    }

    #[test]
    fn apply_sets_limits_in_a_child() {
        test_fork::in_child(|| {
            let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
            let soft = 100.min(hard);
            apply_rlimits(&[
                rl(PosixRlimitType::RlimitNofile, soft, hard),
                rl(PosixRlimitType::RlimitCore, 0, 0),
            ])
            .map_err(|e| e.to_string())?;
            let got = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
            if got != (soft, hard) {
                return Err(format!("RLIMIT_NOFILE is {got:?}, want ({soft}, {hard})"));
            }
            let core = getrlimit(Resource::RLIMIT_CORE).map_err(|e| e.to_string())?;
            if core != (0, 0) {
                return Err(format!("RLIMIT_CORE is {core:?}"));
            }
            Ok(())
        });
    }

    #[test]
    fn raising_a_hard_limit_without_cap_sys_resource_names_the_limit() {
        test_fork::in_child(|| {
            // Dropping CAP_SYS_RESOURCE makes the EPERM deterministic on any machine.
            caps::drop(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_RESOURCE,
            )
            .map_err(|e| e.to_string())?;
            let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
            if hard == u64::MAX {
                return Ok(()); // already unlimited: nothing above it to ask for
            }
            let want = hard + 1;
            let err = apply_rlimits(&[rl(PosixRlimitType::RlimitNofile, want, want)])
                .expect_err("raising the hard limit must fail")
                .to_string();
            let expected = format!(
                "process.rlimits: RLIMIT_NOFILE (soft {want}, hard {want}): Operation not permitted"
            );
            if err != expected {
                return Err(format!("got {err:?}, want {expected:?}"));
            }
            Ok(())
        });
    }
}
