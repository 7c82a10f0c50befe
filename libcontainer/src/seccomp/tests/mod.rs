//! Compiler tests: generated BPF run through a test interpreter, for every ABI and input the
//! kernel here cannot produce. Kernel tests (forked children) are in `kernel.rs`.

mod agent;
pub(super) mod bpf_interp;
mod kernel;

use super::{compile, SeccompError, SeccompProgram};
use bpf_interp::{run, Data, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_BIT};
use oci_spec::runtime::{Arch, LinuxSeccomp};
use serde_json::json;

pub(super) const DEFAULT_LIKE: &str = include_str!("../testdata/default-like.json");

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;

fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

pub(super) fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("test profile parses")
}

fn eval(p: &SeccompProgram, arch: u32, nr: u32, args: &[u64]) -> u32 {
    run(&p.bpf, &Data::new(arch, nr, args))
}

fn x64(p: &SeccompProgram, nr: i64, args: &[u64]) -> u32 {
    eval(p, AUDIT_ARCH_X86_64, nr as u32, args)
}

#[test]
fn default_like_profile_compiles_fast_and_filters_every_abi() {
    let spec: LinuxSeccomp = serde_json::from_str(DEFAULT_LIKE).unwrap();
    // The minimum over many rounds: the test machine is shared, averages measure the neighbours.
    let fastest = (0..300)
        .map(|_| {
            let start = std::time::Instant::now();
            std::hint::black_box(compile(std::hint::black_box(&spec)).unwrap());
            start.elapsed()
        })
        .min()
        .unwrap();
    let p = compile(&spec).unwrap();
    println!(
        "default-like profile: compiled in {fastest:?} (fastest of 300), {} BPF instructions",
        p.len(),
    );
    assert!(p.skipped_syscalls().is_empty());
    assert!(!p.wants_listener());
    // x86_64
    assert_eq!(x64(&p, libc::SYS_getpid, &[]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_mkdir, &[]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_mount, &[]), errno(libc::EPERM));
    assert_eq!(x64(&p, libc::SYS_clone3, &[]), errno(libc::ENOSYS));
    // Newer than every syscall the profile names: runc's ENOSYS stub.
    assert_eq!(x64(&p, 1000, &[]), errno(libc::ENOSYS));
    assert_eq!(x64(&p, -1, &[]), errno(libc::ENOSYS));
    assert_eq!(x64(&p, libc::SYS_personality, &[8]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_personality, &[0xffff_ffff]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_personality, &[1]), errno(libc::EPERM));
    assert_eq!(x64(&p, libc::SYS_socket, &[2]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_socket, &[40]), errno(libc::EPERM));
    let newuser = libc::CLONE_NEWUSER as u64;
    assert_eq!(x64(&p, libc::SYS_clone, &[libc::SIGCHLD as u64]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_clone, &[newuser]), errno(libc::EPERM));
    // i386: its own numbers (20 = getpid, 39 = mkdir, 102 = socketcall, 21 = mount)
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 20, &[]), ALLOW);
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 39, &[]), ALLOW);
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 102, &[]), ALLOW);
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 21, &[]), errno(libc::EPERM));
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 136, &[8]), ALLOW); // personality
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 136, &[1]), errno(libc::EPERM));
    assert_eq!(
        eval(&p, AUDIT_ARCH_I386, 120, &[newuser]),
        errno(libc::EPERM)
    ); // clone
       // x32: x86_64 numbers with the x32 bit, and its own 512+ range
    assert_eq!(eval(&p, AUDIT_ARCH_X86_64, X32_BIT | 39, &[]), ALLOW);
    assert_eq!(
        eval(&p, AUDIT_ARCH_X86_64, X32_BIT | 165, &[]),
        errno(libc::EPERM)
    );
    assert_eq!(eval(&p, AUDIT_ARCH_X86_64, X32_BIT | 512, &[]), ALLOW); // rt_sigaction
    assert_eq!(
        eval(&p, AUDIT_ARCH_X86_64, X32_BIT | 13, &[]),
        errno(libc::EPERM)
    );
    // anything else
    assert_eq!(eval(&p, AUDIT_ARCH_AARCH64, 172, &[]), KILL_PROCESS);
}

#[test]
fn unlisted_abis_are_killed_not_defaulted() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    assert_eq!(x64(&p, libc::SYS_mkdir, &[]), errno(libc::EPERM));
    assert_eq!(x64(&p, libc::SYS_getpid, &[]), ALLOW);
    // a deny list must not be bypassed through the x32 or i386 syscall numbers
    assert_eq!(eval(&p, AUDIT_ARCH_X86_64, X32_BIT | 83, &[]), KILL_PROCESS);
    assert_eq!(
        eval(&p, AUDIT_ARCH_X86_64, X32_BIT | 0x3fff_fffe, &[]),
        KILL_PROCESS
    );
    assert_eq!(eval(&p, AUDIT_ARCH_X86_64, u32::MAX, &[]), ALLOW);
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 39, &[]), KILL_PROCESS);
}

#[test]
fn every_action_has_its_kernel_value() {
    let actions = [
        ("SCMP_ACT_KILL", libc::SECCOMP_RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", libc::SECCOMP_RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", libc::SECCOMP_RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", libc::SECCOMP_RET_TRAP),
        ("SCMP_ACT_ERRNO", errno(libc::EPERM)),
        (
            "SCMP_ACT_TRACE",
            libc::SECCOMP_RET_TRACE | libc::EPERM as u32,
        ),
        ("SCMP_ACT_LOG", libc::SECCOMP_RET_LOG),
        ("SCMP_ACT_NOTIFY", libc::SECCOMP_RET_USER_NOTIF),
    ];
    for (name, value) in actions {
        let p = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["getppid"], "action": name}]
        })))
        .unwrap();
        assert_eq!(x64(&p, libc::SYS_getppid, &[]), value, "{name}");
        assert_eq!(x64(&p, libc::SYS_getpid, &[]), ALLOW, "{name}");
        assert_eq!(p.wants_listener(), name == "SCMP_ACT_NOTIFY");
    }
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 77},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 78}
        ]
    })))
    .unwrap();
    assert_eq!(
        x64(&p, libc::SYS_getppid, &[]),
        libc::SECCOMP_RET_TRACE | 77
    );
    assert_eq!(x64(&p, libc::SYS_getpid, &[]), errno(78));
    let p = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}),
    ));
    assert_eq!(x64(&p.unwrap(), libc::SYS_getpid, &[]), errno(libc::ENOSYS));
}

/// The reference semantics of one OCI argument condition; `width32` for i386/x32 arguments.
fn reference(op: &str, arg: u64, value: u64, value_two: u64, width32: bool) -> bool {
    let arg = if width32 { arg & 0xffff_ffff } else { arg };
    match op {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => arg & value == value_two,
        _ => unreachable!(),
    }
}

#[test]
fn every_operator_matches_its_reference_on_64_and_32_bit_abis() {
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let interesting = [
        0,
        1,
        7,
        0xffff_fffe,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0007,
        0xffff_ffff_0000_0007,
        u64::MAX - 1,
        u64::MAX,
    ];
    for op in ops {
        for &value in &interesting {
            for &value_two in &[0u64, 7, 0x1_0000_0000] {
                let two = (op == "SCMP_CMP_MASKED_EQ").then_some(value_two);
                let p = compile(&profile(json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                    "syscalls": [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 3, "value": value, "valueTwo": two, "op": op}]}]
                })))
                .unwrap();
                for &arg in &interesting {
                    let two = two.unwrap_or(0);
                    let want = |w32| match reference(op, arg, value, two, w32) {
                        true => errno(libc::EPERM),
                        false => ALLOW,
                    };
                    let ctx = format!("{op} value {value:#x} valueTwo {two:#x} arg {arg:#x}");
                    let args = [0, 0, 0, arg];
                    assert_eq!(
                        x64(&p, libc::SYS_getpgid, &args),
                        want(false),
                        "x86_64 {ctx}"
                    );
                    assert_eq!(
                        eval(&p, AUDIT_ARCH_I386, 132, &args),
                        want(true),
                        "i386 {ctx}"
                    );
                    let x32 = X32_BIT | libc::SYS_getpgid as u32;
                    assert_eq!(
                        eval(&p, AUDIT_ARCH_X86_64, x32, &args),
                        want(true),
                        "x32 {ctx}"
                    );
                }
            }
        }
    }
}

#[test]
fn args_are_anded_within_an_entry_and_entries_ored() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GT"},
                      {"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]}
        ]
    })))
    .unwrap();
    let eperm = errno(libc::EPERM);
    assert_eq!(x64(&p, libc::SYS_personality, &[8]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_personality, &[0]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_personality, &[1]), eperm);
    assert_eq!(x64(&p, libc::SYS_kill, &[11, 15]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_kill, &[11, 9]), eperm);
    assert_eq!(x64(&p, libc::SYS_kill, &[10, 15]), eperm);
}

#[test]
fn large_profiles_get_long_jumps_and_oversized_ones_a_clear_error() {
    // Every syscall with several argument rules: leaves and tree jumps exceed 255 instructions.
    let names: Vec<&str> = super::syscall_table::SYSCALLS.iter().map(|e| e.0).collect();
    let rules: Vec<_> = (0..3)
        .map(|i| {
            json!({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": 100 + i,
                        "args": [{"index": 1, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let p = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}),
    ));
    let p = p.unwrap();
    assert!(p.len() > 1000, "{}", p.len());
    for &(name, nr, _, _) in super::syscall_table::SYSCALLS.iter() {
        if nr == super::ext::NONE {
            continue;
        }
        assert_eq!(x64(&p, nr.into(), &[0, 2]), errno(102), "{name}");
        assert_eq!(x64(&p, nr.into(), &[0, 3]), ALLOW, "{name}");
    }
    let rules: Vec<_> = (0..20)
        .map(|i| {
            json!({"names": names, "action": "SCMP_ACT_LOG",
                        "args": [{"index": 1, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let err = compile(&profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}),
    ));
    assert!(matches!(err, Err(SeccompError::TooLarge { .. })), "{err:?}");
}

#[test]
fn unknown_names_are_skipped_and_reported() {
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "no_such_call", "socketcall"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    // socketcall exists only on i386, which is not filtered here: unknown as well
    assert_eq!(p.skipped_syscalls(), ["no_such_call", "socketcall"]);
    assert_eq!(x64(&p, libc::SYS_mkdir, &[]), errno(libc::EPERM));
}

fn compile_err(v: serde_json::Value) -> String {
    compile(&profile(v)).unwrap_err().to_string()
}

#[test]
fn bad_profiles_are_errors_naming_the_field() {
    let e = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}));
    assert!(
        e.contains("syscalls[1]") && e.contains("args[0].index"),
        "{e}"
    );
    let e = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}));
    assert!(e.contains("syscalls[0]") && e.contains("errnoRet"), "{e}");
    let e = compile_err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
    assert!(e.contains("defaultErrnoRet"), "{e}");
    let e = compile_err(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"}));
    assert!(e.contains("defaultAction"), "{e}");
    let e = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_NOTIFY"}]}));
    assert!(e.contains("listenerPath"), "{e}");
    // unknown actions, operators and flags are refused when the spec is parsed
    for bad in [
        json!({"defaultAction": "SCMP_ACT_FOO"}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FOO"]}),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"],
            "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}),
    ] {
        let e = serde_json::from_value::<LinuxSeccomp>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant"), "{e}");
    }
}

#[test]
fn i386_socketcall_and_ipc_follow_the_rules_of_the_calls_they_multiplex() {
    const SOCKETCALL: u32 = 102;
    const IPC: u32 = 117;
    let i386 = |p: &SeccompProgram, nr: u32, args: &[u64]| eval(p, AUDIT_ARCH_I386, nr, args);
    // A deny list: what is denied directly is denied through the multiplexer, nothing else.
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["socket", "shmat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55},
            {"names": ["bind"], "action": "SCMP_ACT_ERRNO", "errnoRet": 56,
             "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]},
            {"names": ["listen"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    assert!(p.skipped_syscalls().is_empty());
    assert_eq!(i386(&p, 359, &[1]), errno(55)); // the direct socket(2)
    assert_eq!(i386(&p, SOCKETCALL, &[1, 0x1000]), errno(55));
    assert_eq!(i386(&p, SOCKETCALL, &[0x1_0000_0001]), errno(55)); // i386 arg0 is 32 bits
    assert_eq!(i386(&p, SOCKETCALL, &[3]), ALLOW); // connect
                                                   // bind's condition cannot be checked through socketcall: every bind there is denied
    assert_eq!(i386(&p, 361, &[4]), ALLOW);
    assert_eq!(i386(&p, SOCKETCALL, &[2]), errno(56));
    // never true on i386 (arg0 is 32 bits), directly or multiplexed
    assert_eq!(i386(&p, SOCKETCALL, &[4]), ALLOW);
    assert_eq!(i386(&p, IPC, &[21]), errno(55));
    assert_eq!(i386(&p, IPC, &[21 | 2 << 16]), errno(55)); // shmat with a version
    assert_eq!(i386(&p, IPC, &[22]), ALLOW); // shmdt
    assert_eq!(i386(&p, 397, &[]), errno(55)); // the direct shmat(2)
    assert_eq!(x64(&p, libc::SYS_socket, &[1]), errno(55));
    // An allow list: only the allowed calls pass, `send` and `recv` exist only multiplexed.
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["socket", "send", "recv", "semop"], "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert!(
        p.skipped_syscalls().is_empty(),
        "{:?}",
        p.skipped_syscalls()
    );
    for call in [1, 9, 10] {
        assert_eq!(i386(&p, SOCKETCALL, &[call]), ALLOW, "socketcall {call}");
    }
    for call in [2, 11, 20, 21] {
        assert_eq!(i386(&p, SOCKETCALL, &[call]), errno(1), "socketcall {call}");
    }
    assert_eq!(i386(&p, IPC, &[1]), ALLOW);
    assert_eq!(i386(&p, IPC, &[2]), errno(1));
    // without i386 in the profile, send and recv are unknown
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["socket", "send"], "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert_eq!(p.skipped_syscalls(), ["send"]);
}

/// What `features` advertises is what `compile` accepts: a rule with every action (NOTIFY
/// with a listener path), every operator, every architecture and every flag compiles.
#[test]
fn every_advertised_seccomp_feature_compiles() {
    let f = super::features();
    for act in f.actions().as_ref().unwrap() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["getpid"], "action": act}],
        }));
        compile(&p).unwrap_or_else(|e| panic!("{act}: {e}"));
    }
    for op in f.operators().as_ref().unwrap() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "value": 1, "op": op}]}],
        }));
        compile(&p).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": f.archs(),
        "flags": f.known_flags(),
    }));
    compile(&p).unwrap();
    // Every flag oci-spec can parse is known (the old exhaustive match is now a table).
    for flag in [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ] {
        assert!(f.known_flags().as_ref().unwrap().iter().any(|k| k == flag));
    }
    // This machine's kernel (6.x) knows them all.
    assert_eq!(f.supported_flags(), f.known_flags());
    // Every architecture the spec names is advertised (the foreign ones are not filtered).
    assert!(f.archs().as_ref().unwrap().contains(&Arch::ScmpArchAarch64));
}

/// Engines' multi-arch profiles name architectures an x86_64 host cannot execute: accepted
/// (as runc does), not filtered, and a syscall arriving with one still gets the bad-arch
/// action.
#[test]
fn foreign_architectures_are_accepted_and_not_filtered() {
    let p = compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64",
                          "SCMP_ARCH_ARM", "SCMP_ARCH_S390X"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]})))
    .unwrap();
    assert_eq!(eval(&p, AUDIT_ARCH_X86_64, 39, &[]), errno(libc::EPERM));
    assert_eq!(eval(&p, AUDIT_ARCH_AARCH64, 172, &[]), KILL_PROCESS);
}

/// runc's ENOSYS stub: with a refusing default, a syscall numbered above every one the
/// profile names (on its ABI) gets ENOSYS; an older unnamed one the default.
#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let allow_list = |default: serde_json::Value| {
        let mut v = json!({"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["getpid", "rseq"], "action": "SCMP_ACT_ALLOW"}]});
        v.as_object_mut()
            .unwrap()
            .extend(default.as_object().unwrap().clone());
        compile(&profile(v)).unwrap()
    };
    let p = allow_list(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13}));
    assert_eq!(x64(&p, libc::SYS_getpid, &[]), ALLOW);
    assert_eq!(x64(&p, libc::SYS_getppid, &[]), errno(libc::EACCES));
    assert_eq!(x64(&p, libc::SYS_rseq + 1, &[]), errno(libc::ENOSYS));
    // i386 has its own numbers: rseq is 386 there.
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 385, &[]), errno(libc::EACCES));
    assert_eq!(eval(&p, AUDIT_ARCH_I386, 387, &[]), errno(libc::ENOSYS));
    let p = allow_list(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS"}));
    assert_eq!(x64(&p, 1000, &[]), errno(libc::ENOSYS));
    for default in [
        json!({"defaultAction": "SCMP_ACT_ALLOW"}),
        json!({"defaultAction": "SCMP_ACT_LOG"}),
        json!({"defaultAction": "SCMP_ACT_TRACE"}),
    ] {
        let p = allow_list(default.clone());
        assert_ne!(x64(&p, 1000, &[]), errno(libc::ENOSYS), "{default}");
    }
}
