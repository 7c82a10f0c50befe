//! For the sd_notify and socket-activation tests: a static helper in the container (busybox
//! has no unix datagram client and cannot accept on an inherited fd), and the host's end of
//! NOTIFY_SOCKET, played by the test as systemd would.

use crate::{Bundle, TestEnv};
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds `fixtures/sd_fixture.c` with `cc -static` into the bundle as `/bin/sdfx`.
pub fn install_fixture(bundle: &Bundle) {
    build_fixture(&bundle.rootfs().join("bin/sdfx"));
}

/// Builds `fixtures/sd_fixture.c` with `cc -static` at `out`.
pub fn build_fixture(out: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sd_fixture.c");
    let built = Command::new("cc")
        .args(["-static", "-Os", "-o"])
        .arg(out)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .expect("running cc (a C compiler with static libc: libc6-dev)");
    assert!(built.status.success(), "cc -static sd_fixture.c: {built:?}");
}

/// A host directory bound read-write at /shared in the container.
pub fn share_dir(bundle: &mut Bundle) -> PathBuf {
    let dir = bundle.dir.join("shared");
    std::fs::create_dir_all(&dir).expect("creating the shared dir");
    bundle.add_mount(json!({
        "destination": "/shared",
        "type": "bind",
        "source": dir,
        "options": ["rbind", "rw"],
    }));
    dir
}

/// The host's notify socket: what systemd binds and names in NOTIFY_SOCKET.
pub struct HostNotify {
    pub sock: UnixDatagram,
    /// The NOTIFY_SOCKET value.
    pub value: String,
}

impl HostNotify {
    pub fn bind(env: &TestEnv) -> Self {
        let path = env.dir.join("host-notify.sock");
        let sock = UnixDatagram::bind(&path).expect("binding the host notify socket");
        Self {
            sock,
            value: path.to_string_lossy().into_owned(),
        }
    }

    /// An abstract socket (`@name`).
    pub fn bind_abstract(env: &TestEnv) -> Self {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("berth-it-{}", env.name);
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("an abstract address");
        let sock = UnixDatagram::bind_addr(&addr).expect("binding an abstract socket");
        Self {
            sock,
            value: format!("@{name}"),
        }
    }

    /// The lines of every datagram already queued (none waits).
    pub fn queued_lines(&self) -> Vec<String> {
        self.sock.set_nonblocking(true).expect("nonblocking");
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }
}

/// The MAINPID= values among `lines`.
pub fn main_pids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("MAINPID="))
        .map(str::to_owned)
        .collect()
}
