//! Stdio an embedder passes in: a container's stdin, stdout and stderr through pipes, for the
//! init (create) and for an exec'd process, asserted byte for byte; a terminal beside them is
//! refused with nothing left behind.
//!
//! Its own `main` (harness = false): create and exec refuse to run from an unsealed executable,
//! so this binary seals itself first, as every embedder must; the tests then run one after the
//! other in this single thread (create clones the calling process). Needs root and
//! busybox-static, as the rest of the suite does.

use libcontainer::{ContainerBuilder, Error, ExecOptions, ExecProcess, Overrides, Stdio};
use std::io::{Read, Write};
use std::path::Path;

mod common;
use common::{config, Cleanup, Test};

fn main() {
    let tests: [(&str, Test); 3] = [
        ("init_stdio_through_pipes", init_stdio_through_pipes),
        ("exec_stdio_through_pipes", exec_stdio_through_pipes),
        (
            "stdio_beside_a_terminal_is_refused",
            stdio_beside_a_terminal_is_refused,
        ),
    ];
    common::run_sealed("stdio-test", &["sh", "cat", "sleep", "true", "ls"], &tests);
}

fn id(name: &str) -> String {
    format!("stdio-{name}-{}", std::process::id())
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

fn init_stdio_through_pipes(rootfs: &Path, root: &Path) {
    let (in_r, mut in_w) = std::io::pipe().unwrap();
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (err_r, err_w) = std::io::pipe().unwrap();
    // `ls` lists its own fds: 0-2 and its directory fd 3; a copy of a pipe left open by
    // berth would be one more (and would keep the reads below from seeing EOF).
    let script = "read line; echo \"out:$line\"; ls /proc/self/fd; echo err:stderr >&2; exit 3";
    let _cleanup = Cleanup(root, id("init"));
    let mut created = ContainerBuilder::new(&id("init"))
        .unwrap()
        .root(root)
        .config(config(rootfs, &["sh", "-c", script]))
        .stdio(Stdio::default().stdin(in_r).stdout(out_w).stderr(err_w))
        .create()
        .expect("create");
    in_w.write_all(b"ping\n").unwrap();
    drop(in_w);
    created.start().expect("start");
    // EOF on both: this program holds no write end any more, only the container did.
    assert_eq!(
        String::from_utf8_lossy(&read_all(out_r)),
        "out:ping\n0\n1\n2\n3\n"
    );
    assert_eq!(read_all(err_r), b"err:stderr\n");
    assert_eq!(created.wait().expect("wait"), 3);
    created.delete(false).expect("delete");
}

fn exec_stdio_through_pipes(rootfs: &Path, root: &Path) {
    let _cleanup = Cleanup(root, id("exec"));
    let mut created = ContainerBuilder::new(&id("exec"))
        .unwrap()
        .root(root)
        .config(config(rootfs, &["sleep", "300"]))
        .stdio(Stdio::default().stdout(std::fs::File::open("/dev/null").unwrap()))
        .create()
        .expect("create");
    created.start().expect("start");
    let (in_r, mut in_w) = std::io::pipe().unwrap();
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (err_r, err_w) = std::io::pipe().unwrap();
    let mut opts = ExecOptions::new(ExecProcess::Overrides(Overrides::command([
        "sh",
        "-c",
        "cat; echo exec-err >&2",
    ])));
    opts.stdio = Stdio::default().stdin(in_r).stdout(out_w).stderr(err_w);
    let child = created.container().exec(opts).expect("exec");
    // Not UTF-8 on purpose: the fds carry bytes, nothing in between decodes them.
    in_w.write_all(b"bytes \x01\xff through\n").unwrap();
    drop(in_w);
    assert_eq!(read_all(out_r), b"bytes \x01\xff through\n");
    assert_eq!(read_all(err_r), b"exec-err\n");
    assert_eq!(child.wait().expect("wait for the exec'd process"), 0);
    common::kill_and_delete(created);
}

fn stdio_beside_a_terminal_is_refused(rootfs: &Path, root: &Path) {
    let id = id("tty");
    let mut config = config(rootfs, &["true"]);
    config
        .process_mut()
        .as_mut()
        .unwrap()
        .set_terminal(Some(true));
    let (_out_r, out_w) = std::io::pipe().unwrap();
    let result = ContainerBuilder::new(&id)
        .unwrap()
        .root(root)
        .console_socket("/nonexistent.sock")
        .config(config)
        .stdio(Stdio::default().stdout(out_w))
        .create();
    assert!(
        matches!(&result, Err(Error::Config { field: "stdio", .. })),
        "{result:?}"
    );
    assert!(!root.join(&id).exists(), "a refused create left its state");
}
