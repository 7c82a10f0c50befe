//! An ordinary user for the rootless tests, and a runtime run as that user.
//!
//! The user (`USER_NAME`) is made once per machine (idempotent: parallel test binaries that
//! race to `useradd` both end up with it) and never deleted, since another suite may be using it.
//! useradd also grants it a range in /etc/subuid and /etc/subgid (login.defs SUB_UID_COUNT),
//! which `newuidmap` checks.

use crate::{Runtime, TestEnv};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const USER_NAME: &str = "berth-rootless";

#[derive(Debug, Clone, Copy)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// First host id of its /etc/subuid and /etc/subgid range, and the range's size.
    pub sub_start: u32,
    pub sub_count: u32,
}

/// The test user, made if missing.
pub fn user() -> User {
    static USER: OnceLock<User> = OnceLock::new();
    *USER.get_or_init(|| {
        if id_of("-u").is_none() {
            // Exit 9: someone else made it meanwhile.
            let status = Command::new("useradd")
                .args(["--create-home", "--shell", "/bin/sh", USER_NAME])
                .status()
                .expect("running useradd");
            assert!(
                status.success() || status.code() == Some(9),
                "useradd {USER_NAME}: {status}"
            );
        }
        let (sub_start, sub_count) = sub_range("/etc/subuid")
            .zip(sub_range("/etc/subgid"))
            .filter(|(u, g)| u == g)
            .map(|(u, _)| u)
            .unwrap_or_else(|| {
                panic!("{USER_NAME} has no equal ranges in /etc/subuid and /etc/subgid")
            });
        User {
            uid: id_of("-u").expect("uid of the test user"),
            gid: id_of("-g").expect("gid of the test user"),
            sub_start,
            sub_count,
        }
    })
}

fn id_of(flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, USER_NAME]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn sub_range(file: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == USER_NAME).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Makes `cmd` run as `uid`:`gid` (std drops the supplementary groups with the uid), and an environment of that
/// user's own (no XDG_RUNTIME_DIR unless the caller sets one).
pub fn as_user(cmd: &mut Command, uid: u32, gid: u32) -> &mut Command {
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("USER", USER_NAME)
        .env("HOME", format!("/home/{USER_NAME}"))
        .uid(uid)
        .gid(gid)
}

/// A test's world for an ordinary user: a `TestEnv` whose dir the user owns, and the runtime
/// run as the user with `--root <dir>/root`. Dropping it force-deletes its containers as the
/// user (root's delete is refused a root another user owns), then the `TestEnv` cleans up.
pub struct RootlessEnv {
    pub user: User,
    pub env: TestEnv,
    /// State roots other than `--root` the test used (a default one): cleaned up too.
    other_roots: std::cell::RefCell<Vec<PathBuf>>,
}

impl RootlessEnv {
    pub fn new(test: &str) -> Self {
        let user = user();
        let env = TestEnv::new(test);
        chown(&env.dir, user.uid, user.gid);
        Self {
            user,
            env,
            other_roots: Default::default(),
        }
    }

    /// Also force-delete the test's containers from `root` when dropped.
    pub fn also_clean(&self, root: PathBuf) {
        self.other_roots.borrow_mut().push(root);
    }

    /// `<runtime> --root <root> args...` as the user.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.env.rt.command();
        as_user(&mut cmd, self.user.uid, self.user.gid).args(args);
        cmd
    }

    pub fn run_cmd(&self, args: &[&str]) -> crate::Out {
        self.env
            .rt
            .spawn_with(self.command(args).stdin(Stdio::null()), args)
            .wait()
    }

    pub fn runtime(&self) -> &Runtime {
        &self.env.rt
    }

    /// A bundle whose config is the runtime's own `spec --rootless` (run as the user, so it
    /// maps the user's ids), with `args` and no terminal. Its rootfs belongs to root: the
    /// container reads it as "nobody".
    pub fn bundle(&self, args: &[&str]) -> crate::Bundle {
        let mut b = self.env.bundle(args);
        let dir = b.path_str().to_owned();
        chown(&b.dir, self.user.uid, self.user.gid);
        let out = self.run_cmd(&["spec", "--rootless", "--bundle", &dir]);
        out.assert_ok("spec --rootless");
        let text = std::fs::read_to_string(b.dir.join("config.json")).expect("reading the spec");
        b.config = serde_json::from_str(&text).expect("spec --rootless JSON");
        b.process()["args"] = serde_json::json!(args);
        b.process()["terminal"] = false.into();
        std::fs::remove_file(b.dir.join("config.json")).expect("removing the spec");
        b
    }

    /// Saves `b` (as root: the user may read it) and runs `args` on it.
    pub fn on_bundle(&self, b: &crate::Bundle, args: &[&str]) -> crate::Out {
        b.save();
        self.run_cmd(args)
    }

    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.env.rt.root.join(id)
    }
}

impl Drop for RootlessEnv {
    fn drop(&mut self) {
        let roots = std::iter::once(self.env.rt.root.clone()).chain(self.other_roots.take());
        for root in roots {
            for id in self.env.ids() {
                let args = ["delete", "--force", &id];
                let mut cmd = Command::new(&self.env.rt.bin);
                as_user(&mut cmd, self.user.uid, self.user.gid)
                    .arg("--root")
                    .arg(&root)
                    .args(args)
                    .stdin(Stdio::null());
                let _ = self.env.rt.spawn_with(&mut cmd, &args).try_wait();
            }
        }
    }
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}
