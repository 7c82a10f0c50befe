//! A classic-BPF interpreter for exactly what seccomp filters use, to check generated programs
//! against `seccomp_data` inputs the test machine cannot produce (x32, other arches).

use seccompiler::sock_filter;

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const X32_BIT: u32 = 0x4000_0000;

/// The kernel's `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

impl Data {
    pub fn new(arch: u32, nr: u32, args: &[u64]) -> Self {
        let mut d = Data {
            nr,
            arch,
            ..Default::default()
        };
        d.args[..args.len()].copy_from_slice(args);
        d
    }

    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_le_bytes());
        b[4..8].copy_from_slice(&self.arch.to_le_bytes());
        b[8..16].copy_from_slice(&self.ip.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        b
    }
}

/// Runs the program like the kernel would and returns its return value. Panics on anything
/// the kernel's seccomp checker would refuse (unknown opcode, out-of-range load or jump, no
/// return at the end), so a malformed program fails the test.
pub fn run(prog: &[sock_filter], data: &Data) -> u32 {
    let mem = data.bytes();
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let ins = prog
            .get(pc)
            .unwrap_or_else(|| panic!("fell off the program at {pc}"));
        let code = u32::from(ins.code);
        pc += 1;
        let cond = |taken: bool| if taken { ins.jt } else { ins.jf } as usize;
        match code {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                let k = ins.k as usize;
                assert!(
                    k.is_multiple_of(4) && k + 4 <= mem.len(),
                    "bad load offset {k}"
                );
                a = u32::from_le_bytes(mem[k..k + 4].try_into().unwrap());
            }
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= ins.k,
            c if c == libc::BPF_JMP | libc::BPF_JA => pc += ins.k as usize,
            c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => pc += cond(a == ins.k),
            c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => pc += cond(a > ins.k),
            c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => pc += cond(a >= ins.k),
            c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => pc += cond(a & ins.k != 0),
            c if c == libc::BPF_RET | libc::BPF_K => return ins.k,
            other => panic!("opcode {other:#x} at {} not expected", pc - 1),
        }
    }
}
