//! bpf(2) (Linux 3.18; cgroup programs 4.10, device programs 4.15): loading a program and
//! attaching it to a cgroup. Nothing of berth's dependencies wraps it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;

/// One instruction, the kernel's `struct bpf_insn`: `regs` is dst in the low nibble, src in
/// the high one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// The BPF_PROG_LOAD prefix of `union bpf_attr` (up to expected_attach_type, Linux 4.17).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH prefix of `union bpf_attr` (up to replace_bpf_fd, Linux 5.6; older
/// kernels accept the longer attr as long as the tail is zero).
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// bpf(cmd, attr, sizeof attr). Private: each command's attr type is fixed by its caller below.
///
/// # Safety
/// `attr` must be the #[repr(C)] prefix of `union bpf_attr` that `cmd` reads, and every
/// pointer in it valid for what the kernel does with it during the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: the caller vouches for `attr`'s layout and pointers; its exact size is passed,
    // so the kernel reads (and, for a command that writes back, writes) no more than that.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// BPF_PROG_LOAD: loads `insns` as a program of `prog_type`; its fd. With `log_level` > 0 the
/// verifier writes its log into `log` (empty: no log). No fallback: on ENOSYS (a kernel
/// without bpf(2)) or EPERM (no CAP_SYS_ADMIN/CAP_BPF) the caller fails naming the field.
pub fn prog_load(
    prog_type: u32,
    insns: &[Insn],
    license: &CStr,
    log_level: u32,
    log: &mut [u8],
) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        ..Default::default()
    };
    // SAFETY: ProgLoadAttr is BPF_PROG_LOAD's prefix of bpf_attr; the kernel reads insn_cnt
    // instructions from `insns` and the NUL-terminated `license`, and writes at most log_size
    // bytes into `log`: all borrowed for the whole call.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    // SAFETY: a successful BPF_PROG_LOAD returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// BPF_PROG_ATTACH: attaches the program `prog` to the cgroup `target` as `attach_type` with
/// `flags` (BPF_F_*). The attachment keeps the program alive; it goes with the cgroup. No
/// fallback: the caller fails naming the field.
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type,
        attach_flags: flags,
        ..Default::default()
    };
    // SAFETY: ProgAttachAttr is BPF_PROG_ATTACH's prefix of bpf_attr and holds fds and
    // integers only: no pointer for the kernel to follow.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}
