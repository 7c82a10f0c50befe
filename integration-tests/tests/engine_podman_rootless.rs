//! Rootless podman 4.3 driving the runtime (issue 16): podman run by an ordinary user
//! (`integration_tests::rootless::USER_NAME`, with its /etc/subuid range and Debian's uidmap),
//! a busybox image imported for that user, `--network none` (no slirp4netns/pasta networking is
//! needed) and the cgroupfs manager (no systemd here). podman runs the runtime inside its own
//! user namespace (uid 0 there, 65537 ids), so this is the "root in a user namespace" rootless
//! case: the runtime must skip cgroups (v1, nothing delegated), bind devices instead of mknod,
//! and keep its state in `$XDG_RUNTIME_DIR/<runtime>`, which podman does not pass as `--root`.
//!
//! $ENGINE_RUNTIME=/usr/sbin/runc runs the same suite on runc.

use integration_tests::engines::{
    busybox_rootfs_tar, engine_runtime, EngineDir, PodmanConf, PodmanWorld,
};
use integration_tests::rootless::{as_user, chown, user, User};
use integration_tests::{assert_contains, Runtime};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const IMAGE: &str = "localhost/busybox";

/// One podman world of the test user: storage, runroot, XDG_RUNTIME_DIR, config, all under an
/// `EngineDir` the user owns.
struct Podman {
    dir: EngineDir,
    user: User,
    cli: Runtime,
    xdg: PathBuf,
}

impl Podman {
    fn new(test: &str) -> Self {
        let user = user();
        let dir = EngineDir::new(&format!("podman-rootless-{test}"));
        let p = dir.path.clone();
        let xdg = p.join("xdg");
        std::fs::create_dir(&xdg).expect("mkdir xdg");
        PodmanConf::write(&p, "rt", true);
        let tar = busybox_rootfs_tar(&p);
        for path in [p.as_path(), &xdg, &tar] {
            chown(path, user.uid, user.gid);
        }
        std::fs::set_permissions(&xdg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod xdg");
        let cli = Runtime::new("podman".into(), p.join("storage"), p.join("out"));
        let podman = Self {
            dir,
            user,
            cli,
            xdg,
        };
        podman.ok(&["import", tar.to_str().expect("UTF-8 path"), IMAGE]);
        podman
    }

    /// Where the runtime keeps its state: podman passes no --root, so $XDG_RUNTIME_DIR/<name>.
    fn runtime_state_dir(&self, id: &str) -> PathBuf {
        let rt = engine_runtime();
        self.xdg
            .join(rt.file_name().expect("runtime name"))
            .join(id)
    }
}

impl PodmanWorld for Podman {
    /// `podman` as the user, with this world's configuration.
    fn command(&self) -> Command {
        let p = &self.dir.path;
        let mut cmd = Command::new("podman");
        as_user(&mut cmd, self.user.uid, self.user.gid)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("CONTAINERS_CONF", p.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", p.join("storage.conf"))
            .args(["--runtime", "rt", "--cgroup-manager", "cgroupfs"]);
        cmd
    }
    fn cli(&self) -> &Runtime {
        &self.cli
    }
    fn dir(&self) -> &std::path::Path {
        &self.dir.path
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let args = ["rm", "--all", "--force", "--time", "0"];
        let rm = self
            .cli
            .spawn_with(self.command().args(args).stdin(Stdio::null()), &args);
        if rm.try_wait().is_none_or(|out| !out.success()) {
            eprintln!("podman rm --all failed in {}", self.dir.path.display());
        }
        // The user's podman keeps a pause process holding its user namespace, one per
        // tmp_dir: it is this test's.
        let pause = std::fs::read_to_string(self.dir.path.join("libpod-tmp/pause.pid"));
        if let Some(pid) = pause.ok().and_then(|p| p.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn run_rm_as_an_ordinary_user() {
    let podman = Podman::new("run_rm");
    let out = podman.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; test -c /dev/null && echo null-is-chr; exit 7",
    ]);
    assert_eq!(out.code(), Some(7), "{out:#?}\n{}", podman.diagnostics());
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, start) = (
        podman.user.uid.to_string(),
        podman.user.sub_start.to_string(),
    );
    assert_eq!(lines[0], ["0"], "{out:#?}");
    // podman's namespace: the user's own uid as 0, its subordinate ids from 1.
    assert_eq!(lines[1], ["0", uid.as_str(), "1"], "{out:#?}");
    assert_eq!(lines[2][..2], ["1", start.as_str()], "{out:#?}");
    assert_eq!(lines[3], ["null-is-chr"], "{out:#?}");
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
}

#[test]
fn detached_container_lifecycle_as_an_ordinary_user() {
    let podman = Podman::new("lifecycle");
    let script = "trap 'exit 3' TERM; while true; do sleep 0.1; done";
    let id = podman
        .ok(&["run", "-d", "--network", "none", IMAGE, "sh", "-c", script])
        .trim()
        .to_owned();
    let status = podman.ok(&["inspect", "-f", "{{.State.Status}}", &id]);
    assert_eq!(status.trim(), "running");
    assert!(
        podman.runtime_state_dir(&id).is_dir(),
        "no runtime state in {}",
        podman.runtime_state_dir(&id).display()
    );

    let code = podman.run(&["exec", &id, "sh", "-c", "exit 5"]);
    assert_eq!(code.code(), Some(5), "{code:#?}\n{}", podman.diagnostics());
    assert_eq!(podman.ok(&["exec", &id, "id", "-u"]), "0\n");
    let top = podman.ok(&["top", &id, "pid", "args"]);
    assert_contains(&top, "trap 'exit 3' TERM");

    podman.ok(&["stop", "--time", "30", &id]);
    let exited = podman.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        &id,
    ]);
    assert_eq!(exited.trim(), "exited 3", "{}", podman.diagnostics());
    podman.ok(&["rm", &id]);
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
    let state = podman.runtime_state_dir(&id);
    assert!(!state.exists(), "{} left after rm", state.display());
}

/// Without a cgroup the runtime refuses `update`, naming why, and the container runs on.
#[test]
fn update_without_a_cgroup_fails_and_the_container_runs_on() {
    let podman = Podman::new("update");
    let id = podman
        .ok(&["run", "-d", "--network", "none", IMAGE, "sleep", "1000"])
        .trim()
        .to_owned();
    let out = podman.run(&["update", "--memory", "96m", &id]);
    assert!(!out.success(), "update without a cgroup: {out:#?}");
    // runc 1.1: "cannot set memory limit: container could not join or create cgroup".
    assert_contains(&out.stderr.to_lowercase(), "cgroup");
    let status = podman.ok(&["inspect", "-f", "{{.State.Status}}", &id]);
    assert_eq!(status.trim(), "running");
}
