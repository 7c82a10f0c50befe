//! checkpoint and restore: runc's commands and flags, so an engine's command line parses, and
//! a clear refusal before anything is touched (berth has no CRIU support).

use crate::error::CliError;
use clap::Args;
use std::path::PathBuf;

pub fn checkpoint(_: &CheckpointArgs) -> Result<i32, CliError> {
    Err(CliError::NotSupported {
        command: "checkpoint",
    })
}

pub fn restore(_: &RestoreArgs) -> Result<i32, CliError> {
    Err(CliError::NotSupported { command: "restore" })
}

/// The CRIU flags `checkpoint` and `restore` share.
#[derive(Debug, Args)]
pub struct CriuArgs {
    /// Path to criu image files
    #[arg(long, value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs
    #[arg(long, value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long)]
    pub lazy_pages: bool,
    /// Handle file locks, for safety
    #[arg(long)]
    pub file_locks: bool,
    /// cgroups mode: soft, full or strict
    #[arg(long, value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but don't restore its properties (repeatable)
    #[arg(long, value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long)]
    pub auto_dedup: bool,
}

/// runc's checkpoint flags, so an engine's command line parses and gets berth's clear refusal
/// rather than a usage error.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path for previous criu image files in pre-dump
    #[arg(long, value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing
    #[arg(long)]
    pub leave_running: bool,
    /// criu writes \0 to this FD once lazy-pages is ready
    #[arg(long, value_name = "FD", allow_hyphen_values = true)]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Dump the container's memory information only, leave the container running
    #[arg(long)]
    pub pre_dump: bool,
    pub id: String,
}

/// runc's restore flags (see `CheckpointArgs`).
#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Disable the use of the subreaper used to reap reparented processes
    #[arg(long)]
    pub no_subreaper: bool,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long)]
    pub no_pivot: bool,
    /// An LSM profile to be used during restore (TYPE:NAME)
    #[arg(long, value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// An LSM mount context to be used during restore
    #[arg(long, value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}
