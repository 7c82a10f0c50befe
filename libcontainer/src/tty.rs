//! `process.terminal`: a pty whose master goes to the `--console-socket` (SCM_RIGHTS, as runc
//! does) and whose slave becomes the process's stdio and controlling terminal.

use std::os::fd::OwnedFd;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("console socket {path}: {reason}")]
    Socket { path: String, reason: String },
    #[error("terminal: {0}")]
    Pty(String),
}

/// Connects to the console socket (before pivot_root, while its path is reachable).
pub fn connect_console_socket(_path: &Path) -> Result<OwnedFd, TtyError> {
    todo!()
}

/// Opens a new pty in the container's /dev/pts (after pivot_root), sends the master over
/// `socket`, and makes the slave the caller's stdin/stdout/stderr and controlling terminal.
/// `size` is process.consoleSize (rows, cols) when given.
pub fn setup_console(_socket: OwnedFd, _size: Option<(u16, u16)>) -> Result<(), TtyError> {
    todo!()
}
