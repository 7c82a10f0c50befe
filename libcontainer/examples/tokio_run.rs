//! An embedder: a tokio program that runs a container from a config built in memory, captures
//! its stdout through a pipe, awaits its exit on its pidfd and deletes it.
//!
//! ```text
//! cargo run -p berth-container --example tokio_run -- ROOTFS [STATE_ROOT]
//! ```
//!
//! ROOTFS is a directory with a `/bin/sh` (scripts/mkbundle.sh makes one from busybox-static);
//! STATE_ROOT defaults to a fresh directory in the temp dir. Run as root. `make example` runs
//! it and checks what it prints:
//!
//! ```text
//! output: "hello from tokio-example\n"
//! exit code: 7
//! ```

use libcontainer::spec::{ProcessBuilder, RootBuilder, Spec};
use libcontainer::{ContainerBuilder, Created, Stdio};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, Interest};

fn main() -> ExitCode {
    // Before anything else, and before any thread exists: re-exec from a sealed view of this
    // executable (CVE-2019-5736); create refuses to run without it.
    if let Err(e) = libcontainer::ensure_sealed_exe() {
        eprintln!("tokio_run: {e}");
        return ExitCode::FAILURE;
    }
    let mut args = std::env::args_os().skip(1);
    let Some(rootfs) = args.next().map(PathBuf::from) else {
        eprintln!("usage: tokio_run ROOTFS [STATE_ROOT]");
        return ExitCode::from(2);
    };
    let root = args.next().map(PathBuf::from).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("berth-tokio-example-{}", std::process::id()))
    });
    // current_thread, and nothing that starts a thread (no spawn_blocking): `create` clones
    // this process, and until the container's init is a freshly exec'd image for
    // multithreaded callers, a clone taken while another thread holds a lock (the allocator's)
    // can deadlock. Once it is, a multi-threaded runtime works the same, and `create` may run
    // from `spawn_blocking`.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio_run: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&rootfs, &root)) {
        Ok((output, code)) => {
            println!("output: {:?}", String::from_utf8_lossy(&output));
            println!("exit code: {code}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tokio_run: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The container's config, built in memory: berth's default (namespaces, mounts, masked paths,
/// capabilities) with our rootfs, hostname and process. An absolute `root.path` needs no
/// bundle directory.
fn config(rootfs: &Path) -> Result<Spec, Box<dyn Error>> {
    let rootfs = rootfs.canonicalize()?;
    let mut config = libcontainer::spec::default_spec(false);
    config.set_root(Some(RootBuilder::default().path(rootfs).build()?));
    config.set_hostname(Some("tokio-example".into()));
    let process = ProcessBuilder::default()
        // Not a terminal (the default spec asks for one, which needs a console socket): the
        // process's stdout is the pipe below.
        .terminal(false)
        .args(vec![
            "sh".to_string(),
            "-c".to_string(),
            "echo hello from $(hostname); exit 7".to_string(),
        ])
        .env(vec!["PATH=/bin:/usr/bin:/sbin:/usr/sbin".to_string()])
        .cwd("/")
        .build()?;
    config.set_process(Some(process));
    Ok(config)
}

/// Runs the container; returns what it wrote to stdout and its exit code.
async fn run(rootfs: &Path, root: &Path) -> Result<(Vec<u8>, i32), Box<dyn Error>> {
    let id = format!("tokio-example-{}", std::process::id());
    let (out_read, out_write) = std::io::pipe()?;
    let mut created = ContainerBuilder::new(&id)?
        .root(root)
        .config(config(rootfs)?)
        // Our pipe becomes the container's fd 1; create closes our copy of the write end.
        .stdio(Stdio::default().stdout(out_write))
        .create()?;
    let result = start_and_wait(&mut created, out_read).await;
    // Whatever happened: a container that ran (or failed to) is not left behind.
    let deleted = created.delete(result.is_err());
    let output = result?;
    deleted?;
    Ok(output)
}

async fn start_and_wait(
    created: &mut Created,
    out_read: std::io::PipeReader,
) -> Result<(Vec<u8>, i32), Box<dyn Error>> {
    // Before start, so the pidfd names the init for sure (it cannot exit before it starts).
    // SAFETY: the AsyncFd owns the OwnedFd, which stays open (and the same fd) until the
    // AsyncFd is dropped.
    let exited = unsafe { AsyncFd::register_with_interest(created.pidfd()?, Interest::READABLE) }
        .map_err(std::io::Error::from)?;
    created.start()?;
    let mut stdout = tokio::net::unix::pipe::Receiver::from_owned_fd(out_read.into())?;
    let mut output = Vec::new();
    // EOF once the container's process is gone: nobody else holds the write end.
    stdout.read_to_end(&mut output).await?;
    // The pidfd becomes readable when the init exits: no thread blocks, no signal mask changes.
    let _ready = exited.readable().await?;
    // It has exited, so reaping it (it is our child) returns at once.
    let code = created.wait()?;
    Ok((output, code))
}
