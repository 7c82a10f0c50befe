//! The container's process's stdin, stdout and stderr as fds the caller hands in (pipes, files,
//! a pty's slave), instead of the caller's own 0, 1 and 2: an embedder need not `dup2` over
//! its own stdout to capture a container's.

use std::os::fd::OwnedFd;

/// Fds to install as the container process's 0, 1 and 2 just before it runs the user's
/// program (for `create`, that is the init; for `exec`, the exec'd process). A `None` leaves
/// that one as this program's own, as runc does. The fds are this program's: after
/// `create`/`exec` returns they are closed here, so that the container's end of a pipe is the
/// only one left (a read of the other end sees EOF once the container's process is gone).
///
/// Not with a terminal (`process.terminal`): the pty is the process's stdio then, and asking
/// for both is refused.
///
/// ```
/// use libcontainer::Stdio;
/// # fn main() -> std::io::Result<()> {
/// let (out_read, out_write) = std::io::pipe()?;
/// let stdio = Stdio::default().stdout(out_write);
/// # drop((stdio, out_read)); Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Stdio {
    /// The process's fd 0.
    pub stdin: Option<OwnedFd>,
    /// The process's fd 1.
    pub stdout: Option<OwnedFd>,
    /// The process's fd 2.
    pub stderr: Option<OwnedFd>,
}

impl Stdio {
    /// Sets fd 0 (a `File`, a pipe's read end, a socket, an `OwnedFd`, ...). For a
    /// `BorrowedFd`, pass `fd.try_clone_to_owned()?`.
    pub fn stdin(mut self, fd: impl Into<OwnedFd>) -> Self {
        self.stdin = Some(fd.into());
        self
    }
    /// Sets fd 1.
    pub fn stdout(mut self, fd: impl Into<OwnedFd>) -> Self {
        self.stdout = Some(fd.into());
        self
    }
    /// Sets fd 2.
    pub fn stderr(mut self, fd: impl Into<OwnedFd>) -> Self {
        self.stderr = Some(fd.into());
        self
    }
    /// True when no fd is given.
    pub fn is_empty(&self) -> bool {
        self.stdin.is_none() && self.stdout.is_none() && self.stderr.is_none()
    }
    /// The three, in fd order.
    pub(crate) fn as_array(&self) -> [Option<&OwnedFd>; 3] {
        [
            self.stdin.as_ref(),
            self.stdout.as_ref(),
            self.stderr.as_ref(),
        ]
    }
}
