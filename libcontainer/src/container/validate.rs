//! The checks `create` and `exec` share: a process the container can run, and no config
//! field berth would otherwise silently ignore (what `berth features` reports as disabled).

use super::Error;
use crate::{capabilities, rlimits};
use oci_spec::runtime::{Process, Spec};

fn config_err(field: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        field,
        reason: reason.into(),
    }
}

/// args, cwd, terminal vs console socket, LSM labels, capabilities and rlimits.
pub(super) fn check_process(p: &Process, console_socket: bool) -> Result<(), Error> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(config_err("process.args", "must not be empty"));
    }
    if !p.cwd().is_absolute() {
        return Err(config_err(
            "process.cwd",
            format!("{}: must be an absolute path", p.cwd().display()),
        ));
    }
    match (p.terminal().unwrap_or(false), console_socket) {
        (true, false) => {
            return Err(config_err(
                "process.terminal",
                "true needs a console socket to send the terminal's master to \
                 (ContainerBuilder::console_socket, ExecOptions::console_socket); \
                 set it to false for the process to use the caller's stdio",
            ))
        }
        (false, true) => {
            return Err(config_err(
                "process.terminal",
                "a console socket was given but no terminal is asked for: \
                 set process.terminal to true, or give no console socket",
            ))
        }
        _ => {}
    }
    if p.apparmor_profile().as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(config_err(
            "process.apparmorProfile",
            "AppArmor is not supported",
        ));
    }
    if p.selinux_label().as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(config_err(
            "process.selinuxLabel",
            "SELinux is not supported",
        ));
    }
    check_user(p)?;
    capabilities::validate_capabilities(p.capabilities().as_ref())?;
    if let Some(limits) = p.rlimits() {
        rlimits::validate_rlimits(limits)?;
    }
    Ok(())
}

/// uid, gid and additionalGids inside 0..=INT32_MAX: the config's and exec's process alike
/// (4294967295 would reach setresuid as -1, "unchanged", and leave the process root).
fn check_user(p: &Process) -> Result<(), Error> {
    let user = p.user();
    crate::spec::check_id(user.uid()).map_err(|r| config_err("process.user.uid", r))?;
    crate::spec::check_id(user.gid()).map_err(|r| config_err("process.user.gid", r))?;
    for gid in user.additional_gids().iter().flatten() {
        crate::spec::check_id(*gid).map_err(|r| config_err("process.user.additionalGids", r))?;
    }
    Ok(())
}

/// `linux` fields berth does not implement: refused by name rather than ignored.
pub(super) fn check_unsupported(spec: &Spec) -> Result<(), Error> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if linux.intel_rdt().is_some() {
        return Err(config_err("linux.intelRdt", "Intel RDT is not supported"));
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(config_err(
            "linux.netDevices",
            "moving network devices is not supported",
        ));
    }
    if linux.memory_policy().is_some() {
        return Err(config_err(
            "linux.memoryPolicy",
            "memory policies are not supported",
        ));
    }
    Ok(())
}

/// A terminal is the process's stdio: fds given for it as well would be silently replaced.
pub(super) fn check_stdio(stdio: &super::Stdio, terminal: bool) -> Result<(), Error> {
    if terminal && !stdio.is_empty() {
        return Err(config_err(
            "stdio",
            "fds were given for the process's stdio, but it asks for a terminal \
             (process.terminal), which becomes its stdio: give one or the other",
        ));
    }
    Ok(())
}
