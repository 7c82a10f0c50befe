//! libcontainer embedded in a multithreaded program (issue 15): container lifecycles from a
//! tokio runtime's blocking pool while many other threads allocate, and two creates from two
//! threads at once. A clone of such a process inherits locks other threads held; before the
//! exec'd init (process/reexec.rs) these runs hung. Every lifecycle is bounded by a timeout
//! only so that a hang fails the test instead of hanging CI; a passing run never waits on it.
//!
//! Its own `main` (harness = false): the program must seal its executable first thing, as
//! every embedder does, and that re-execs it.

use libcontainer::{ContainerBuilder, Listed};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LIFECYCLES: usize = 200;
const PAIRS: usize = 20;
const ALLOCATORS: usize = 48;
/// Generous for a loaded 2-core machine; a lifecycle takes tens of milliseconds.
const HANG: Duration = Duration::from_secs(60);
/// The container's program exits with this code, which `wait` must return.
const CODE: i32 = 7;

fn main() {
    if let Err(e) = libcontainer::ensure_sealed_exe() {
        panic!("sealing the test executable: {e}");
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("threads: skipped, creating containers needs root");
        return;
    }
    let env: &'static Env = Box::leak(Box::new(Env::new()));
    let _cleanup = Cleanup(env);
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str, test: fn(&'static Env)| {
        if filter.as_deref().is_none_or(|f| name.contains(f)) {
            eprintln!("test {name} ...");
            test(env);
            eprintln!("test {name} ... ok");
        }
    };
    run(
        "lifecycles_from_tokio_while_48_threads_allocate",
        lifecycles_from_tokio,
    );
    run("two_threads_create_at_once", two_threads_create_at_once);
}

struct Env {
    dir: PathBuf,
    bundle: PathBuf,
    root: PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("berth-threads-{}", std::process::id()));
        let bundle = dir.join("bundle");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mkbundle.sh");
        let status = std::process::Command::new("sh")
            .arg(script)
            .arg(&bundle)
            .args(["sh", "-c", &format!("exit {CODE}")])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run mkbundle.sh");
        assert!(status.success(), "mkbundle.sh: {status}");
        let root = dir.join("root");
        Env { dir, bundle, root }
    }

    /// create, start, wait (the program's exit code, through the pidfd), delete.
    fn lifecycle(&self, id: &str) -> Result<(), String> {
        let mut created = ContainerBuilder::new(id)
            .map_err(|e| e.to_string())?
            .root(&self.root)
            .bundle(&self.bundle)
            .create()
            .map_err(|e| format!("create {id}: {e}"))?;
        created.start().map_err(|e| format!("start {id}: {e}"))?;
        let code = created
            .container()
            .wait_timeout(Some(HANG))
            .map_err(|e| format!("wait {id}: {e}"))?
            .ok_or_else(|| format!("{id} still runs after {HANG:?}"))?;
        if code != CODE {
            return Err(format!("{id} exited {code}, not {CODE}"));
        }
        created
            .delete(false)
            .map_err(|e| format!("delete {id}: {e}"))
    }
}

/// Removes what a failed test left (containers, bundle, state root).
struct Cleanup(&'static Env);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(list) = libcontainer::list(&self.0.root) {
            for listed in list {
                match listed {
                    Listed::Container(c) => drop(c.delete(true)),
                    Listed::Broken { id, .. } => {
                        drop(libcontainer::delete_broken(&self.0.root, &id))
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.0.dir);
    }
}

/// Threads that allocate and free (more than glibc has malloc arenas), until dropped.
struct Allocators {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Allocators {
    fn start(n: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|t| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // Nice 19 and short naps: they take malloc's locks all the time, yet leave
                    // the lifecycles most of the CPU of a loaded 2-core machine.
                    // SAFETY: setpriority on this thread's own tid.
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as u32, 19) };
                    let mut round = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let v: Vec<Vec<u8>> = (0..32).map(|i| vec![t as u8; 16 + i * 97]).collect();
                        let s = format!("{t} {round} {}", v.len());
                        std::hint::black_box((v, s));
                        round += 1;
                        if round.is_multiple_of(4) {
                            std::thread::sleep(Duration::from_micros(50));
                        }
                    }
                })
            })
            .collect();
        Allocators { stop, threads }
    }
}

impl Drop for Allocators {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Fails the test (and the process: a hung thread cannot be cancelled) on a hang.
fn hung(what: &str) -> ! {
    eprintln!("threads: {what} did not finish within {HANG:?}: hung");
    std::process::exit(1)
}

fn lifecycles_from_tokio(env: &'static Env) {
    let _alloc = Allocators::start(ALLOCATORS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        for round in 0..LIFECYCLES {
            let id = format!("thr-{}-{round}", std::process::id());
            let task = tokio::task::spawn_blocking(move || env.lifecycle(&id));
            match tokio::time::timeout(HANG, task).await {
                Err(_) => hung(&format!("lifecycle {round}")),
                Ok(Err(e)) => panic!("lifecycle {round}: {e}"),
                Ok(Ok(Err(e))) => panic!("lifecycle {round}: {e}"),
                Ok(Ok(Ok(()))) => {}
            }
        }
    });
}

fn two_threads_create_at_once(env: &'static Env) {
    for round in 0..PAIRS {
        let (tx, rx) = std::sync::mpsc::channel();
        for side in 0..2 {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let id = format!("pair-{}-{round}-{side}", std::process::id());
                let _ = tx.send(env.lifecycle(&id));
            });
        }
        for _ in 0..2 {
            match rx.recv_timeout(HANG) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("pair {round}: {e}"),
                Err(_) => hung(&format!("pair {round}")),
            }
        }
    }
}
