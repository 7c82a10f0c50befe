//! The first child: finish the namespaces the clone could not make, then become the init or
//! fork it. Runs single-threaded in a copy of `berth create`; it reports errors over the
//! channel and exits, never returns.

use super::setup_error::AtStep;
use super::{LaunchConfig, SetupError, Step};
use crate::channel::{ChildEnd, ToChild, ToParent};
use crate::namespaces::{clone_flag, join_namespaces, write_time_offsets};
use crate::sys::clone::{clone_into, Cloned};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType as Ns;

pub(super) fn child_main(cfg: &LaunchConfig, chan: ChildEnd, direct: bool) -> ! {
    // Until execve replaces it, this process's /proc/<pid>/{exe,mem,fd,environ} are berth's,
    // reachable from a shared pid namespace: non-dumpable keeps them from container processes
    // without CAP_SYS_PTRACE. The exe itself is already a sealed, read-only view
    // (sealed_exe.rs: CVE-2019-5736), which holds with CAP_SYS_PTRACE too. (A user namespace
    // turns dumpable back on below: it needs its own /proc/self files.)
    // Except for an unprivileged berth making a user namespace: it writes our uid_map,
    // gid_map and setgroups, which a non-dumpable process's /proc gives to the host's root
    // (no loss: this process is the caller's own uid, and nothing of the container runs yet).
    // (Decided in the parent: our own uid here changes as soon as it writes the uid map.)
    if !cfg.ns.unprivileged_user_ns() {
        let _ = nix::sys::prctl::set_dumpable(false);
    }
    // Before Ready, a creator that dies takes its children with it.
    let died = super::die_with_creator();
    for &fd in cfg.close_in_child {
        // SAFETY: these fds belong to the parent's lock; this copy must not keep them.
        unsafe { libc::close(fd) };
    }
    let code = match died.and_then(|()| enter_namespaces(cfg, &chan, direct)) {
        Ok(Role::Init) => super::init::init_main(cfg, chan),
        Ok(Role::Forked) => 0,
        Err(e) => {
            let _ = chan.send(&ToParent::Error(e.to_packet()));
            1
        }
    };
    // SAFETY: _exit skips the parent's atexit handlers and buffered state, which this copy
    // must not run.
    unsafe { libc::_exit(code) }
}

enum Role {
    Init,
    Forked,
}

/// `text` and the errno of a failed system call, as a failure of `step`.
fn sys(step: Step, text: &str, e: nix::Error) -> SetupError {
    SetupError::new(step, format!("{text}: {e}")).with_errno(e)
}

fn enter_namespaces(cfg: &LaunchConfig, chan: &ChildEnd, direct: bool) -> Result<Role, SetupError> {
    use Step::{IdMaps, Namespaces, Protocol};
    chan.expect(&ToChild::Go).at(Protocol)?;
    let ns = cfg.ns;
    join_namespaces(&ns.joins).at(Namespaces)?;
    let done = if direct {
        super::direct_clone_flags(ns)
    } else {
        CloneFlags::empty()
    };
    let pending = ns.new - done;
    if pending.contains(CloneFlags::CLONE_NEWUSER) {
        unshare(CloneFlags::CLONE_NEWUSER)
            .map_err(|e| sys(Namespaces, "unshare user namespace", e))?;
        chan.send(&ToParent::NeedIdMaps).at(Protocol)?;
        chan.expect(&ToChild::IdMapsDone).at(Protocol)?;
    }
    let rest = pending - clone_flag(Ns::User) - clone_flag(Ns::Cgroup) - clone_flag(Ns::Time);
    if !rest.is_empty() {
        unshare(rest).map_err(|e| sys(Namespaces, &format!("unshare namespaces {rest:?}"), e))?;
    }
    if ns.has_new(Ns::User) {
        // Become root of the new user namespace (the maps must map container id 0).
        let in_ns = "setgid 0 in the user namespace";
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(|e| {
            sys(IdMaps, &format!("linux.gidMappings: {in_ns}"), e)
                .with_field(Some("linux.gidMappings".into()))
        })?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(|e| {
            sys(
                IdMaps,
                "linux.uidMappings: setuid 0 in the user namespace",
                e,
            )
            .with_field(Some("linux.uidMappings".into()))
        })?;
        // The uid change cleared "dumpable", which hands our /proc/self files to the host's
        // root; the namespace's root must still write timens_offsets and the like.
        nix::sys::prctl::set_dumpable(true)
            .map_err(|e| sys(IdMaps, "prctl(PR_SET_DUMPABLE)", e))?;
        // A change of credentials clears the parent-death signal.
        super::die_with_creator()?;
    }
    if ns.has_new(Ns::Cgroup) {
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| sys(Namespaces, "unshare cgroup namespace", e))?;
    }
    if ns.has_new(Ns::Time) {
        unshare(clone_flag(Ns::Time)).map_err(|e| sys(Namespaces, "unshare time namespace", e))?;
        write_time_offsets(cfg.spec).at(Namespaces)?;
    }
    // setns/unshare of a pid (or time) namespace only applies to children: fork the init.
    let must_fork =
        ns.joins_kind(Ns::Pid) || pending.contains(clone_flag(Ns::Pid)) || ns.has_new(Ns::Time);
    if !must_fork {
        chan.send(&ToParent::InitPid(0)).at(Protocol)?;
        return Ok(Role::Init);
    }
    match clone_into(CloneFlags::CLONE_PARENT).map_err(|e| sys(Namespaces, "fork init", e))? {
        // A fork does not inherit the parent-death signal; our parent is `create` too.
        Cloned::Child => super::die_with_creator().map(|()| Role::Init),
        Cloned::Parent(pid) => {
            chan.send(&ToParent::InitPid(pid.as_raw())).at(Protocol)?;
            Ok(Role::Forked)
        }
    }
}
