//! clone3(2) (Linux 5.3), and clone(2) where clone3 answers ENOSYS: the child starts in its new
//! namespaces directly, with no exec in between.
//!
//! The ENOSYS fallback lives here, not with the callers: kernels before 5.3 and seccomp
//! profiles that refuse clone3 with ENOSYS precisely so that callers fall back (Docker's
//! default profile does, so berth runs nested in a Docker container; so does valgrind) get the
//! same child from the classic clone, and no caller wants anything else.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// `struct clone_args` of <linux/sched.h> (libc has it only for some targets).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of the clone we are on.
pub enum Cloned {
    Parent(Pid),
    Child,
}

/// Forks like fork(2), but into the namespaces in `flags` (and with CLONE_PARENT, as the
/// caller's sibling). The child gets SIGCHLD-style exit notification so its parent can wait.
/// On ENOSYS from clone3 it retries with clone(2) (ENOSYS still for CLONE_NEWTIME, which only
/// clone3 can ask for); the caller sees clone's error.
///
/// CLONE_VM (and so CLONE_THREAD and CLONE_SIGHAND, which need it) and CLONE_SETTLS are
/// refused with EINVAL: this is a fork, whose child runs on its own copy of our memory, stack
/// and thread-local storage.
///
/// # Safety-relevant contract
/// The caller must be single-threaded (berth is): the child is a copy of this one thread.
pub fn clone_into(flags: CloneFlags) -> nix::Result<Cloned> {
    if flags.bits() & (libc::CLONE_VM | libc::CLONE_SETTLS) != 0 {
        return Err(nix::errno::Errno::EINVAL);
    }
    let args = CloneArgs {
        flags: flags.bits() as u32 as u64,
        // With CLONE_PARENT the kernel takes the exit signal from the caller instead.
        exit_signal: if flags.contains(CloneFlags::CLONE_PARENT) {
            0
        } else {
            libc::SIGCHLD as u64
        },
        ..Default::default()
    };
    // SAFETY: `args` lives across the call and its size is passed. No CLONE_VM (refused
    // above) and no stack: the child is a copy-on-write duplicate running on its own copy of
    // this stack, returning 0 from here, as with fork. Every pointer field is 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match cloned(ret) {
        Err(nix::errno::Errno::ENOSYS) => classic_clone(&args),
        other => other,
    }
}

/// Either side of a clone from its return value.
fn cloned(ret: libc::c_long) -> nix::Result<Cloned> {
    match ret {
        -1 => Err(nix::errno::Errno::last()),
        0 => Ok(Cloned::Child),
        pid => Ok(Cloned::Parent(Pid::from_raw(pid as i32))),
    }
}

/// clone(2) with the same flags and exit signal. A time namespace cannot be made this way
/// (CLONE_NEWTIME shares the exit signal's bits): that stays ENOSYS.
fn classic_clone(args: &CloneArgs) -> nix::Result<Cloned> {
    if args.flags & libc::CLONE_NEWTIME as u64 != 0 {
        return Err(nix::errno::Errno::ENOSYS);
    }
    // Stack, parent_tid, child_tid and tls are all zero, so the argument order, which differs
    // between architectures, does not matter.
    // SAFETY: as above, a fork-like clone without CLONE_VM.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            args.flags | args.exit_signal,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    cloned(ret)
}

#[cfg(test)]
mod tests {
    use super::*;
    // The tests' shared fork helper (test_fork.rs); sys's own code uses nothing of the crate.
    use crate::identity::test_fork;

    /// clone3 refused with ENOSYS, as Docker's default seccomp profile does: the child is
    /// still made, in its new namespace.
    #[test]
    fn falls_back_to_clone_when_clone3_is_refused() {
        test_fork::in_child(|| {
            test_fork::refuse_with_enosys(libc::SYS_clone3)?;
            match clone_into(CloneFlags::CLONE_NEWUTS).map_err(|e| e.to_string())? {
                Cloned::Child => {
                    let ok = nix::unistd::sethostname("fallback").is_ok();
                    // SAFETY: the forked child leaves at once.
                    unsafe { libc::_exit(if ok { 7 } else { 8 }) }
                }
                Cloned::Parent(pid) => match nix::sys::wait::waitpid(pid, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, 7)) => {}
                    other => return Err(format!("child: {other:?}")),
                },
            }
            let host = nix::unistd::gethostname().map_err(|e| e.to_string())?;
            if host == "fallback" {
                return Err("the child's hostname reached the parent's uts namespace".into());
            }
            Ok(())
        });
    }

    /// A flag that would share our memory (or TLS) with the child is refused before any clone.
    #[test]
    fn refuses_flags_that_share_memory() {
        test_fork::in_child(|| {
            let vm = CloneFlags::CLONE_VM;
            let thread = vm | CloneFlags::CLONE_SIGHAND | CloneFlags::CLONE_THREAD;
            let tls = CloneFlags::from_bits_retain(libc::CLONE_SETTLS);
            for flags in [vm, thread, tls] {
                match clone_into(flags) {
                    Err(nix::errno::Errno::EINVAL) => {}
                    // SAFETY: a child made despite the check leaves at once.
                    Ok(Cloned::Child) => unsafe { libc::_exit(9) },
                    Ok(Cloned::Parent(_)) => return Err(format!("{flags:?}: a child was made")),
                    Err(e) => return Err(format!("{flags:?}: {e}, not EINVAL")),
                }
            }
            Ok(())
        });
    }
}
