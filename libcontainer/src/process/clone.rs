//! clone3: the child starts in its new namespaces directly, with no exec in between.

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
///
/// # Safety-relevant contract
/// The caller must be single-threaded (berth is): the child is a copy of this one thread.
pub fn clone_into(flags: CloneFlags) -> nix::Result<Cloned> {
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
    // SAFETY: no CLONE_VM, no stack: the child is a copy-on-write duplicate, as with fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(nix::errno::Errno::last()),
        0 => Ok(Cloned::Child),
        pid => Ok(Cloned::Parent(Pid::from_raw(pid as i32))),
    }
}
