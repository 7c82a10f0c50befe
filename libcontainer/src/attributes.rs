//! Per-process kernel attributes from the config, set by the init before exec:
//! oomScoreAdj, linux.personality, process.scheduler, process.ioPriority, noNewPrivileges.

use crate::proc_root::ProcRoot;
use crate::sys::sched::SchedAttr;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler, Spec,
};

/// A `linux.personality`, `linux.intelRdt` or scheduling/IO-priority attribute of the config that is invalid or cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    /// The field is invalid or cannot be applied on this host.
    #[error("{field}: {reason}")]
    Invalid {
        /// The config field at fault (JSON path).
        field: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> AttributeError {
    AttributeError::Invalid {
        field,
        reason: reason.into(),
    }
}

const OOM: &str = "process.oomScoreAdj";
const PERSONALITY: &str = "linux.personality";
const SCHEDULER: &str = "process.scheduler";
const IOPRIO: &str = "process.ioPriority";

/// Checks values (e.g. oomScoreAdj in -1000..=1000, a known personality domain, a valid
/// scheduler policy) before anything is created.
pub fn validate_attributes(spec: &Spec) -> Result<(), AttributeError> {
    if let Some(process) = spec.process() {
        if let Some(adj) = process.oom_score_adj() {
            if !(-1000..=1000).contains(&adj) {
                return Err(invalid(OOM, format!("{adj} is outside -1000..=1000")));
            }
        }
        if let Some(s) = process.scheduler() {
            validate_scheduler(s)?;
        }
        if let Some(io) = process.io_priority() {
            if !(0..=7).contains(&io.priority()) {
                let p = io.priority();
                return Err(invalid(IOPRIO, format!("priority {p} is outside 0..=7")));
            }
        }
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        personality_value(p)?;
    }
    Ok(())
}

/// oomScoreAdj, personality, scheduler, ioPriority — applied to the calling process.
pub fn apply_attributes(spec: &Spec) -> Result<(), AttributeError> {
    if let Some(process) = spec.process() {
        if let Some(adj) = process.oom_score_adj() {
            // Through berth's own procfs, not the container's /proc (see proc_root).
            let written = ProcRoot::new()
                .and_then(|p| Ok((p.own("oom_score_adj")?, p)))
                .map_err(std::io::Error::from)
                .and_then(|(file, p)| p.write(&file, &adj.to_string()));
            written.map_err(|e| invalid(OOM, format!("{adj}: /proc/self/oom_score_adj: {e}")))?;
        }
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        let value = personality_value(p)?;
        // SAFETY: personality(2) takes a plain integer.
        if unsafe { libc::personality(value) } == -1 {
            return Err(invalid(
                PERSONALITY,
                std::io::Error::last_os_error().to_string(),
            ));
        }
    }
    if let Some(process) = spec.process() {
        if let Some(s) = process.scheduler() {
            set_scheduler(s)?;
        }
        if let Some(io) = process.io_priority() {
            set_io_priority(io)?;
        }
    }
    Ok(())
}

/// prctl(PR_SET_NO_NEW_PRIVS) when `process.noNewPrivileges`.
pub fn apply_no_new_privileges(spec: &Spec) -> Result<(), AttributeError> {
    let wanted = spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    if wanted {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| invalid("process.noNewPrivileges", e.desc()))?;
    }
    Ok(())
}

/// PER_LINUX and PER_LINUX32 from <linux/personality.h>.
fn personality_value(p: &LinuxPersonality) -> Result<libc::c_ulong, AttributeError> {
    // The runtime-spec defines no flag values yet; taking them silently would ignore them.
    if let Some(flag) = p.flags().iter().flatten().next() {
        return Err(invalid(
            PERSONALITY,
            format!("flag {flag:?} is not supported (the runtime-spec defines no flags)"),
        ));
    }
    Ok(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    })
}

fn validate_scheduler(s: &Scheduler) -> Result<(), AttributeError> {
    use LinuxSchedulerPolicy::*;
    let policy = *s.policy();
    if policy == SchedIso {
        return Err(invalid(SCHEDULER, "SCHED_ISO is not implemented by Linux"));
    }
    if let Some(nice) = s.nice() {
        if !(-20..=19).contains(nice) {
            return Err(invalid(
                SCHEDULER,
                format!("nice {nice} is outside -20..=19"),
            ));
        }
    }
    let priority = s.priority().unwrap_or(0);
    match policy {
        SchedFifo | SchedRr if !(1..=99).contains(&priority) => {
            let why = format!("priority {priority} is outside 1..=99 for {policy}");
            return Err(invalid(SCHEDULER, why));
        }
        SchedFifo | SchedRr => {}
        _ if priority != 0 => {
            let why = format!("priority can only be set for SCHED_FIFO or SCHED_RR, not {policy}");
            return Err(invalid(SCHEDULER, why));
        }
        _ => {}
    }
    let (runtime, deadline, period) = (s.runtime(), s.deadline(), s.period());
    if policy != SchedDeadline {
        if runtime.is_some() || deadline.is_some() || period.is_some() {
            let why = "runtime/deadline/period can only be set for SCHED_DEADLINE";
            return Err(invalid(SCHEDULER, why));
        }
        return Ok(());
    }
    let (r, d) = (runtime.unwrap_or(0), deadline.unwrap_or(0));
    // The kernel's rule (sched(7)); a period of 0 means "equal to the deadline".
    let p = period.filter(|p| *p != 0).unwrap_or(d);
    if !(r <= d && d <= p) {
        let why = format!("SCHED_DEADLINE needs runtime ({r}) <= deadline ({d}) <= period ({p})");
        return Err(invalid(SCHEDULER, why));
    }
    Ok(())
}

fn policy_value(p: LinuxSchedulerPolicy) -> u32 {
    use LinuxSchedulerPolicy::*;
    match p {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    }
}

fn flag_value(f: LinuxSchedulerFlag) -> u64 {
    use LinuxSchedulerFlag::*;
    match f {
        SchedResetOnFork => 0x01,
        SchedFlagReclaim => 0x02,
        SchedFlagDLOverrun => 0x04,
        SchedFlagKeepPolicy => 0x08,
        SchedFlagKeepParams => 0x10,
        SchedFlagUtilClampMin => 0x20,
        SchedFlagUtilClampMax => 0x40,
    }
}

fn set_scheduler(s: &Scheduler) -> Result<(), AttributeError> {
    let attr = SchedAttr {
        sched_policy: policy_value(*s.policy()),
        sched_flags: s
            .flags()
            .iter()
            .flatten()
            .map(|f| flag_value(*f))
            .fold(0, |a, b| a | b),
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: s.priority().unwrap_or(0) as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        ..Default::default()
    };
    if let Err(errno) = crate::sys::sched::setattr_self(&attr) {
        let e = std::io::Error::from(errno);
        let hint = if e.raw_os_error() == Some(libc::EPERM)
            && *s.policy() == LinuxSchedulerPolicy::SchedDeadline
        {
            " (SCHED_DEADLINE needs CAP_SYS_NICE and a CPU affinity covering every CPU)"
        } else {
            ""
        };
        return Err(invalid(
            SCHEDULER,
            format!("sched_setattr({}): {e}{hint}", s.policy()),
        ));
    }
    Ok(())
}

const IOPRIO_CLASS_SHIFT: u32 = 13;

fn set_io_priority(io: &LinuxIOPriority) -> Result<(), AttributeError> {
    let class: i64 = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let value = (class << IOPRIO_CLASS_SHIFT) | io.priority();
    if let Err(errno) = crate::sys::sched::ioprio_set_self(value) {
        let e = std::io::Error::from_raw_os_error(errno as i32);
        return Err(invalid(
            IOPRIO,
            format!("ioprio_set({} {}): {e}", io.class(), io.priority()),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "attributes_tests.rs"]
mod tests;
