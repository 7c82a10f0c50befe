use super::*;
use crate::identity::test_fork;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;

/// Receives one fd the way containerd's shim does: a payload plus one SCM_RIGHTS fd.
fn recv_fd(sock: &OwnedFd) -> Result<(String, OwnedFd), String> {
    let mut buf = [0u8; 4096];
    let (n, fd) =
        crate::fdpass::recv_with_fd(sock.as_fd(), &mut buf).map_err(|e| format!("recvmsg: {e}"))?;
    let name = String::from_utf8_lossy(&buf[..n]).into_owned();
    Ok((name, fd.ok_or("no fd received")?))
}

/// Reads from the master until `want` shows up (the tty may split or translate output).
fn read_until(master: &mut std::fs::File, want: &str) -> Result<String, String> {
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains(want) {
        let n = master
            .read(&mut buf)
            .map_err(|e| format!("read master: {e} after {seen:?}"))?;
        if n == 0 {
            return Err(format!("EOF after {seen:?}"));
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    Ok(seen)
}

/// In a grandchild: set up the console, then talk over stdio. In the child: receive the
/// master, check its name and size, and drive the conversation.
fn console_roundtrip(socket_for_grandchild: OwnedFd, receiver: OwnedFd) -> Result<(), String> {
    // SAFETY: the grandchild only calls setup_console, does stdio and _exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| e.to_string())? {
        nix::unistd::ForkResult::Child => {
            drop(receiver);
            let code = (|| {
                setup_console(socket_for_grandchild, Some((24, 81))).ok()?;
                // SAFETY: isatty and tcgetsid take an fd only.
                if unsafe { libc::isatty(0) } != 1
                    || unsafe { libc::tcgetsid(0) } != unsafe { libc::getsid(0) }
                {
                    return None;
                }
                std::io::stdout().write_all(b"hello from slave\n").ok()?;
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).ok()?;
                (line == "ping\n").then_some(())
            })()
            .map_or(1, |_| 0);
            // SAFETY: leaves the grandchild without running the parent's atexit state.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(socket_for_grandchild);
            let (name, master) = recv_fd(&receiver)?;
            if name != "/dev/ptmx" {
                return Err(format!("payload {name:?}"));
            }
            let mut ws = libc::winsize {
                ws_row: 0,
                ws_col: 0,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCGWINSZ writes a winsize through the pointer.
            unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
            if (ws.ws_row, ws.ws_col) != (24, 81) {
                return Err(format!("size {}x{}", ws.ws_row, ws.ws_col));
            }
            let mut master = std::fs::File::from(master);
            read_until(&mut master, "hello from slave")?;
            master.write_all(b"ping\n").map_err(|e| e.to_string())?;
            let status = nix::sys::wait::waitpid(child, None).map_err(|e| e.to_string())?;
            if status != nix::sys::wait::WaitStatus::Exited(child, 0) {
                return Err(format!("grandchild {status:?}"));
            }
            Ok(())
        }
    }
}

#[test]
fn master_is_sent_and_slave_becomes_stdio() {
    test_fork::in_child(|| {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| e.to_string())?;
        console_roundtrip(a, b)
    });
}

#[test]
fn connects_to_a_socket_with_a_long_path() {
    let base = std::env::temp_dir().join(format!("berth-tty-{}", std::process::id()));
    let deep = base.join("d".repeat(60)).join("e".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(base);
    let path = deep.join("console.sock");
    assert!(path.as_os_str().len() > SUN_PATH_MAX);
    // Bind the same way berth connects: through the directory's fd.
    let dir = std::fs::File::open(&deep).unwrap();
    let short = format!("/proc/self/fd/{}/console.sock", dir.as_raw_fd());
    let listener = UnixListener::bind(&short).unwrap();

    let client = connect_console_socket(&path).unwrap();
    let (server, _) = listener.accept().unwrap();
    test_fork::in_child(move || console_roundtrip(client, OwnedFd::from(server)));

    let e = connect_console_socket(&deep.join("missing.sock"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "console socket {}",
            deep.join("missing.sock").display()
        )),
        "{e}"
    );
}
