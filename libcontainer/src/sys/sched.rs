//! Scheduling and I/O priority of the calling process: sched_setattr(2) (Linux 3.14; libc has
//! neither the call nor its struct) and ioprio_set(2)/ioprio_get(2) (no glibc wrapper).

use super::result;

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER1); libc does not define it.
#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

/// sched_setattr(0, attr, 0): this thread's scheduling policy and parameters. `attr.size` is
/// set here, to the size of the struct passed. No fallback: the caller reports the field.
pub fn setattr_self(attr: &SchedAttr) -> nix::Result<()> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        ..*attr
    };
    // SAFETY: the kernel reads `size` bytes of `attr`, a repr(C) sched_attr that lives across
    // the call and whose size field is its real size; it writes nothing.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    result(r).map(drop)
}

const IOPRIO_WHO_PROCESS: libc::c_long = 1;

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, value): this process's I/O priority. No fallback: the
/// caller reports the field.
pub fn ioprio_set_self(value: i64) -> nix::Result<()> {
    // SAFETY: integers only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    result(r).map(drop)
}

/// ioprio_get(IOPRIO_WHO_PROCESS, 0): what the tests read back.
#[cfg(test)]
pub fn ioprio_get_self() -> nix::Result<libc::c_long> {
    // SAFETY: integers only.
    result(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) })
}
