//! The device allow/deny list on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program attached
//! to the container's cgroup. cgroup2 has no devices.allow file; the kernel asks the program
//! on every open and mknod of a device node.
//!
//! Built here, and loaded with the raw bpf(2) calls of `sys::bpf`: none of berth's dependencies
//! (cgroups-rs included) builds or loads BPF programs, and the program is a few dozen fixed
//! instructions.

use super::devices::Rule;
use super::CgroupError;
use crate::sys::bpf::{self, Insn};
use cgroups_rs::devices::{DevicePermissions, DeviceType};
use std::os::fd::AsFd;
use std::path::Path;

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

/// Loads the program for `rules` and attaches it to the cgroup2 directory `dir`.
pub(crate) fn apply(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    let fail = |what: &str, source: std::io::Error| CgroupError::Write {
        field: "devices".into(),
        path: dir.to_path_buf(),
        value: what.into(),
        source,
    };
    let prog = program(rules);
    let load = |log_level, log: &mut [u8]| {
        bpf::prog_load(
            BPF_PROG_TYPE_CGROUP_DEVICE,
            &prog,
            c"Apache-2.0",
            log_level,
            log,
        )
    };
    let prog_fd = load(0, &mut []).or_else(|e| {
        // Load again with the verifier's log to say why; its end holds the reason.
        let mut log = vec![0u8; 1 << 18];
        match load(1, &mut log) {
            Ok(fd) => Ok(fd),
            Err(_) => {
                let text = String::from_utf8_lossy(&log);
                let text = text.trim_end_matches('\0').trim();
                let tail = &text[text.floor_char_boundary(text.len().saturating_sub(300))..];
                Err(fail(&format!("(loading the device BPF program) {tail}"), e))
            }
        }
    })?;
    let cgroup = std::fs::File::open(dir).map_err(|e| fail("(opening the cgroup)", e))?;
    bpf::prog_attach(
        cgroup.as_fd(),
        prog_fd.as_fd(),
        BPF_CGROUP_DEVICE,
        BPF_F_ALLOW_MULTI,
    )
    .map_err(|e| fail("(attaching the device BPF program)", e))?;
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
