//! `run -t` / `exec -t` without --console-socket, as runc does: berth holds the pty master
//! itself and relays the caller's stdin to it and its output to the caller's stdout until the
//! process exits, with the caller's terminal (if stdin is one) in raw mode meanwhile so keys
//! like Ctrl-C reach the container's line discipline, and its size copied to the pty.

use super::wait::{exit_code, forwarded};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

const STDIN: i32 = 0;
const STDOUT: i32 = 1;

/// The caller's terminal settings, restored on drop (also when the relay fails).
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> nix::Result<Self> {
        // SAFETY: fd 0 stays open for the whole relay.
        let stdin = unsafe { BorrowedFd::borrow_raw(STDIN) };
        if !nix::unistd::isatty(stdin).unwrap_or(false) {
            return Ok(Self { saved: None });
        }
        let saved = termios::tcgetattr(stdin)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin, SetArg::TCSANOW, &raw)?;
        Ok(Self { saved: Some(saved) })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: fd 0 is still open.
            let stdin = unsafe { BorrowedFd::borrow_raw(STDIN) };
            let _ = termios::tcsetattr(stdin, SetArg::TCSANOW, saved);
        }
    }
}

/// Gives the pty the caller's terminal size (nothing when stdin is not a terminal).
fn copy_size(master: BorrowedFd<'_>) {
    // SAFETY: winsize is plain data; the ioctls read/write exactly one.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(STDIN, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

fn read_fd(fd: i32, buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: the fd is open for the relay's duration; `buf` is writable memory.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    loop {
        match nix::unistd::read(fd, buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r,
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Relays between the caller's stdio and `master` until `pid` (our child) exits and its
/// output is drained; forwards signals to it. Returns its exit code, or 128+N.
pub fn relay_terminal(master: OwnedFd, pid: i32) -> nix::Result<i32> {
    let mut set = forwarded();
    set.add(Signal::SIGWINCH);
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))?;
    let result = RawMode::enter().and_then(|_raw| relay_loop(&master, Pid::from_raw(pid), &set));
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    result
}

fn relay_loop(master: &OwnedFd, pid: Pid, set: &SigSet) -> nix::Result<i32> {
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC)?;
    copy_size(master.as_fd());
    // SAFETY: fd 1 stays open for the relay.
    let stdout = unsafe { BorrowedFd::borrow_raw(STDOUT) };
    let (mut stdin_open, mut master_open) = (true, true);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // A SIGCHLD that came before the mask is covered by looking every round.
        if let Some(code) = exit_code(waitpid(pid, Some(WaitPidFlag::WNOHANG))?) {
            drain(master, stdout, &mut buf, master_open);
            return Ok(code);
        }
        let mut fds = [
            pollfd(sfd.as_raw_fd()),
            pollfd(if master_open { master.as_raw_fd() } else { -1 }),
            pollfd(if stdin_open { STDIN } else { -1 }),
        ];
        // SAFETY: three valid pollfd entries (negative fds are ignored by the kernel).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                e => return Err(e),
            }
        }
        if fds[0].revents != 0 {
            if let Some(info) = sfd.read_signal()? {
                match Signal::try_from(info.ssi_signo as i32).ok() {
                    Some(Signal::SIGCHLD) | None => {}
                    Some(Signal::SIGWINCH) => copy_size(master.as_fd()),
                    Some(sig) => {
                        let _ = nix::sys::signal::kill(pid, sig);
                    }
                }
            }
        }
        if fds[1].revents != 0 {
            match read_fd(master.as_raw_fd(), &mut buf) {
                Ok(n @ 1..) => {
                    // A closed stdout must not stop the relay: the process still runs.
                    let _ = write_all(stdout, &buf[..n]);
                }
                // EIO: every holder of the slave closed it.
                _ => master_open = false,
            }
        }
        if fds[2].revents != 0 {
            match read_fd(STDIN, &mut buf) {
                Ok(n @ 1..) => {
                    let _ = write_all(master.as_fd(), &buf[..n]);
                }
                // runc stops copying at EOF too; the process decides when to end.
                _ => stdin_open = false,
            }
        }
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// What the process wrote before exiting, without waiting for holders of the slave that
/// outlive it.
fn drain(master: &OwnedFd, stdout: BorrowedFd<'_>, buf: &mut [u8], open: bool) {
    if !open {
        return;
    }
    loop {
        let mut fd = [pollfd(master.as_raw_fd())];
        // SAFETY: one valid pollfd; zero timeout.
        if unsafe { libc::poll(fd.as_mut_ptr(), 1, 0) } != 1 {
            return;
        }
        match read_fd(master.as_raw_fd(), buf) {
            Ok(n @ 1..) => {
                let _ = write_all(stdout, &buf[..n]);
            }
            _ => return,
        }
    }
}
