//! In-container checker: run as the container's process with the names of the checks to make.
//! It reads the config it was given (/conformance/config.json, a copy the runner placed in the
//! rootfs) and facts only the host knows (/conformance/expect.json), checks from inside that the
//! runtime applied them, and prints one `ok NAME` or `not ok NAME: reason` line per check.
//! Exits 1 if any check failed. Built static so it runs in any rootfs.

mod fsys;
mod linux;
mod process;

use serde_json::Value;
use std::sync::atomic::{AtomicI32, Ordering};

/// What the checks read: the config and the runner's expectations.
pub struct Ctx {
    pub config: Value,
    pub expect: Value,
}

pub type Check = Result<(), String>;

type CheckFn = fn(&Ctx) -> Check;

const CHECKS: &[(&str, CheckFn)] = &[
    ("env", process::env),
    ("cwd", process::cwd),
    ("user", process::user),
    ("umask", process::umask),
    ("caps", process::caps),
    ("nnp", process::no_new_privs),
    ("rlimits", process::rlimits),
    ("oom", process::oom_score_adj),
    ("seccomp", process::seccomp),
    ("seccomp_notify", process::seccomp_notify),
    ("scheduler", process::scheduler),
    ("ioprio", process::io_priority),
    ("args", process::args),
    ("hostname", linux::hostname),
    ("sysctl", linux::sysctl),
    ("namespaces", linux::namespaces),
    ("idmap", linux::id_mappings),
    ("personality", linux::personality),
    ("timens", linux::time_offsets),
    ("cgroups", linux::cgroups),
    ("devices", fsys::devices),
    ("default_devices", fsys::default_devices),
    ("device_access", fsys::device_access),
    ("mounts", fsys::mounts),
    ("root_ro", fsys::root_readonly),
    ("masked", fsys::masked_paths),
    ("readonly", fsys::readonly_paths),
    ("propagation", fsys::propagation),
    ("files", fsys::files),
];

fn read_json(path: &str) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn main() {
    let ctx = Ctx {
        config: read_json("/conformance/config.json"),
        expect: read_json("/conformance/expect.json"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--pause") {
        pause();
    }
    let mut failed = false;
    // Arguments after `--` are data for the `args` check.
    for name in args.iter().take_while(|a| *a != "--") {
        let name = name.as_str();
        let result = match CHECKS.iter().find(|(n, _)| *n == name) {
            _ if ctx.config.is_null() => Err("cannot read /conformance/config.json".to_owned()),
            Some((_, check)) => check(&ctx),
            None => Err("unknown check".to_owned()),
        };
        match result {
            Ok(()) => println!("ok {name}"),
            Err(e) => {
                failed = true;
                println!("not ok {name}: {e}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Waits for signals, printing `signal N` for each, and exits on SIGTERM. A handler is needed
/// because the kernel drops signals with no handler sent to a PID namespace's init.
fn pause() -> ! {
    // SAFETY: plain signal-mask and handler setup on sets we own; the handler only stores
    // the number. Signals stay blocked except inside sigsuspend, so none is lost between
    // checking SIGNAL and waiting.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, on_signal as *const () as libc::sighandler_t);
            }
        }
        println!("ready");
        loop {
            libc::sigsuspend(&none);
            let sig = SIGNAL.swap(0, Ordering::SeqCst);
            if sig != 0 {
                println!("signal {sig}");
            }
            if sig == libc::SIGTERM {
                std::process::exit(0);
            }
        }
    }
}

/// Reads a `Key:\tvalue` field of /proc/self/status.
pub fn status_field(key: &str) -> Result<String, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| format!("no {key} in /proc/self/status"))
}

/// The last OS error as a number, for comparing with what a config asked for.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
