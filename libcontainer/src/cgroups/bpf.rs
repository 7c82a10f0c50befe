//! The device allow/deny list on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program attached
//! to the container's cgroup. cgroup2 has no devices.allow file; the kernel asks the program
//! on every open and mknod of a device node.
//!
//! Written here with raw bpf(2) calls: none of berth's dependencies (cgroups-rs included)
//! builds or loads BPF programs, and the program is a few dozen fixed instructions.

use super::devices::Rule;
use super::CgroupError;
use cgroups_rs::devices::{DevicePermissions, DeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of parent cgroups keep running too, so a container cannot widen its parent's list.
const BPF_F_ALLOW_MULTI: u32 = 2;

// Instruction opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP32_JNE_K: u8 = 0x56;
const JMP32_JNE_X: u8 = 0x5e;
const EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx: access_type = access << 16 | type; major; minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// The program: registers r2 = type, r3 = requested access, r4 = major, r5 = minor; then one
/// block per rule, last rule first, so the last matching rule decides (as on v1, where later
/// rules override earlier ones); nothing matching denies.
pub(crate) fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let b = block(rule);
        let unconditional = b.len() == 2;
        prog.extend(b);
        if unconditional {
            // It decides every access; the verifier rejects code after it as unreachable.
            return prog;
        }
    }
    prog.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

/// Checks that skip to the next block on mismatch, then the verdict.
fn block(rule: &Rule) -> Vec<Insn> {
    // Each check is a list of instructions whose last one jumps past the block on mismatch.
    let mut checks: Vec<Vec<Insn>> = Vec::new();
    match rule.typ {
        DeviceType::All => {}
        DeviceType::Char => checks.push(vec![insn(JMP32_JNE_K, 2, 0, 0, DEV_CHAR)]),
        DeviceType::Block => checks.push(vec![insn(JMP32_JNE_K, 2, 0, 0, DEV_BLOCK)]),
    }
    let mask = rule.access.iter().fold(0, |m, p| {
        m | match p {
            DevicePermissions::MkNod => ACC_MKNOD,
            DevicePermissions::Read => ACC_READ,
            DevicePermissions::Write => ACC_WRITE,
        }
    });
    if mask != ACC_MKNOD | ACC_READ | ACC_WRITE {
        // Matches when the requested access is within the rule's: (r3 & mask) == r3.
        checks.push(vec![
            insn(ALU32_MOV_X, 6, 3, 0, 0),
            insn(ALU32_AND_K, 6, 0, 0, mask),
            insn(JMP32_JNE_X, 6, 3, 0, 0),
        ]);
    }
    if rule.major >= 0 {
        checks.push(vec![insn(JMP32_JNE_K, 4, 0, 0, rule.major as i32)]);
    }
    if rule.minor >= 0 {
        checks.push(vec![insn(JMP32_JNE_K, 5, 0, 0, rule.minor as i32)]);
    }
    let verdict = [
        insn(ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)),
        insn(EXIT, 0, 0, 0, 0),
    ];
    let mut remaining: usize = checks.iter().map(Vec::len).sum::<usize>() + verdict.len();
    let mut out = Vec::new();
    for mut check in checks {
        remaining -= check.len();
        if let Some(jump) = check.last_mut() {
            // Offsets count from the instruction after the jump.
            jump.off = remaining as i16;
        }
        out.extend(check);
    }
    out.extend(verdict);
    out
}

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

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a #[repr(C)] prefix of union bpf_attr for `cmd`, sized exactly.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn load(prog: &[Insn], log_level: u32, log: &mut [u8]) -> std::io::Result<libc::c_long> {
    let license = c"Apache-2.0";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
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
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// Loads the program for `rules` and attaches it to the cgroup2 directory `dir`.
pub(crate) fn apply(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    let fail = |what: &str, source: std::io::Error| CgroupError::Write {
        field: "devices".into(),
        path: dir.to_path_buf(),
        value: what.into(),
        source,
    };
    let prog = program(rules);
    let prog_fd = load(&prog, 0, &mut []).or_else(|e| {
        // Load again with the verifier's log to say why; its end holds the reason.
        let mut log = vec![0u8; 1 << 18];
        match load(&prog, 1, &mut log) {
            Ok(fd) => Ok(fd),
            Err(_) => {
                let text = String::from_utf8_lossy(&log);
                let text = text.trim_end_matches('\0').trim();
                let tail = &text[text.floor_char_boundary(text.len().saturating_sub(300))..];
                Err(fail(&format!("(loading the device BPF program) {tail}"), e))
            }
        }
    })?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new fd that nothing else owns.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(prog_fd as i32) };
    let cgroup = std::fs::File::open(dir).map_err(|e| fail("(opening the cgroup)", e))?;
    let mut attach = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attach).map_err(|e| fail("(attaching the device BPF program)", e))?;
    // The attachment keeps the program alive; it goes with the cgroup.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_the_next_block() {
        let rule = Rule {
            allow: true,
            typ: DeviceType::Char,
            major: 1,
            minor: 3,
            access: vec![DevicePermissions::Read],
        };
        let b = block(&rule);
        // type check, 3 access instructions, major, minor, verdict (2).
        assert_eq!(b.len(), 8);
        for (i, ins) in b.iter().enumerate() {
            if ins.code == JMP32_JNE_K || ins.code == JMP32_JNE_X {
                assert_eq!(i + 1 + ins.off as usize, b.len(), "jump at {i}");
            }
        }
        let all = Rule {
            allow: false,
            typ: DeviceType::All,
            major: -1,
            minor: -1,
            access: DevicePermissions::all(),
        };
        assert_eq!(
            block(&all),
            vec![insn(ALU64_MOV_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
        );
        // A later catch-all ends the program: the rules before it can never decide.
        assert_eq!(program(&[rule.clone(), all]).len(), 6 + 2);
        assert_eq!(program(&[rule]).len(), 6 + 8 + 2);
    }
}
