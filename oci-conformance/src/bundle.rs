//! Per-case bundles: a temp dir holding the bundle, the runtime's `--root` and captured output,
//! removed on drop after a forced delete of the container, whatever the case's verdict.

use crate::outcome::{CaseResult, Outcome};
use crate::runtime::{Invocation, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where the checker and its inputs live inside every rootfs.
pub const CHECKER: &str = "/conformance/oci-checker";

static BUNDLES: AtomicUsize = AtomicUsize::new(0);

/// A directory removed with everything in it when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(path: PathBuf) -> std::io::Result<TempDir> {
        fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What every case shares: the runtime, the checker, busybox, and a scratch directory.
pub struct Suite {
    pub rt: Runtime,
    pub checker: PathBuf,
    pub busybox: PathBuf,
    applets: Vec<String>,
    pub base: TempDir,
}

impl Suite {
    pub fn new(rt: Runtime, checker: PathBuf, busybox: PathBuf) -> Result<Suite, String> {
        let out = std::process::Command::new(&busybox)
            .arg("--list")
            .output()
            .map_err(|e| {
                format!(
                    "{}: {e} (apt-get install busybox-static)",
                    busybox.display()
                )
            })?;
        let applets = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|a| *a != "busybox" && !a.is_empty())
            .map(str::to_owned)
            .collect();
        let base = std::env::temp_dir().join(format!("oci-conformance-{}", std::process::id()));
        let base = TempDir::new(base).map_err(|e| format!("scratch dir: {e}"))?;
        Ok(Suite {
            rt,
            checker,
            busybox,
            applets,
            base,
        })
    }

    /// Lays out a busybox rootfs with the checker. Hard links are cheap; `copy` makes private
    /// copies for cases that chown the rootfs.
    pub fn populate(&self, rootfs: &Path, copy: bool) -> std::io::Result<()> {
        for d in [
            "bin",
            "proc",
            "sys",
            "dev",
            "tmp",
            "etc",
            "root",
            "conformance",
        ] {
            fs::create_dir_all(rootfs.join(d))?;
        }
        let place = |from: &Path, to: &Path| -> std::io::Result<()> {
            if copy || fs::hard_link(from, to).is_err() {
                fs::copy(from, to)?;
            }
            Ok(())
        };
        place(&self.busybox, &rootfs.join("bin/busybox"))?;
        place(&self.checker, &rootfs.join(&CHECKER[1..]))?;
        for a in &self.applets {
            symlink("busybox", rootfs.join("bin").join(a))?;
        }
        fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
        fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
        Ok(())
    }
}

/// The inode of each of the host's namespaces, for the checker to tell inherited from new.
pub fn host_namespaces() -> Value {
    let mut m = serde_json::Map::new();
    for (_, f) in crate::names::NAMESPACES {
        if let Ok(md) = fs::metadata(format!("/proc/self/ns/{f}")) {
            m.insert((*f).to_owned(), json!(md.ino()));
        }
    }
    Value::Object(m)
}

/// The runner's bounding set: no runtime can grant a container more.
pub fn host_bounding_set() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX)
}

/// The config every case starts from: `runc spec`'s own output (runc 1.1.5), shared with
/// integration-tests, libcontainer's rootfs tests and scripts/mkbundle.sh.
const RUNC_SPEC: &str = include_str!("../../integration-tests/fixtures/runc-1.1.5-spec.json");

/// [`RUNC_SPEC`] running the checker, with `terminal: false`: the runner reads its stdout.
pub fn base_config() -> serde_json::Result<Value> {
    let mut config: Value = serde_json::from_str(RUNC_SPEC)?;
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!([CHECKER]);
    Ok(config)
}

/// One container's bundle, state root and output. Dropping it force-deletes the container.
pub struct Bundle<'s> {
    pub suite: &'s Suite,
    pub id: String,
    pub config: Value,
    /// Extra facts for the checker, written to /conformance/expect.json.
    pub expect: Value,
    tmp: TempDir,
}

impl<'s> Bundle<'s> {
    pub fn new(suite: &'s Suite, name: &str) -> Result<Bundle<'s>, Outcome> {
        let n = BUNDLES.fetch_add(1, Ordering::Relaxed);
        let id = format!("oc{}-{n}-{name}", std::process::id());
        let tmp = TempDir::new(suite.base.0.join(&id))?;
        for d in ["bundle/rootfs", "root", "io", "share"] {
            fs::create_dir_all(tmp.0.join(d))?;
        }
        suite.populate(&tmp.0.join("bundle/rootfs"), false)?;
        let expect = json!({"host_ns": host_namespaces(), "host_capbnd": host_bounding_set()});
        Ok(Bundle {
            suite,
            id,
            config: base_config()?,
            expect,
            tmp,
        })
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.0.join("bundle")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.tmp.0.join("bundle/rootfs")
    }

    /// A scratch directory outside the bundle, for hooks' logs and bind mounts.
    pub fn share(&self) -> PathBuf {
        self.tmp.0.join("share")
    }

    /// Sets the container's process to the checker running the named checks.
    pub fn checks(&mut self, checks: &[&str]) {
        let mut args = vec![CHECKER];
        args.extend_from_slice(checks);
        self.config["process"]["args"] = json!(args);
    }

    /// Writes config.json, and the copy plus expectations the checker reads.
    pub fn write(&self) -> Result<(), Outcome> {
        let text = serde_json::to_string_pretty(&self.config)?;
        fs::write(self.dir().join("config.json"), &text)?;
        fs::write(self.rootfs().join("conformance/config.json"), &text)?;
        let expect = serde_json::to_string(&self.expect)?;
        fs::write(self.rootfs().join("conformance/expect.json"), expect)?;
        Ok(())
    }

    /// Runs the runtime with this bundle's `--root`.
    pub fn rt(&self, args: &[&str]) -> Result<Invocation, Outcome> {
        self.suite
            .rt
            .invoke(&self.tmp.0.join("root"), &self.tmp.0.join("io"), args)
    }

    pub fn create(&self) -> Result<Invocation, Outcome> {
        self.write()?;
        let dir = self.dir();
        self.rt(&["create", "--bundle", &dir.to_string_lossy(), &self.id])
    }

    pub fn run(&self) -> Result<Invocation, Outcome> {
        self.write()?;
        let dir = self.dir();
        self.rt(&["run", "--bundle", &dir.to_string_lossy(), &self.id])
    }

    pub fn start(&self) -> Result<Invocation, Outcome> {
        self.rt(&["start", &self.id])
    }

    pub fn kill(&self, sig: &str) -> Result<Invocation, Outcome> {
        self.rt(&["kill", &self.id, sig])
    }

    pub fn delete(&self, force: bool) -> Result<Invocation, Outcome> {
        if force {
            self.rt(&["delete", "--force", &self.id])
        } else {
            self.rt(&["delete", &self.id])
        }
    }

    /// The runtime's `state` output, parsed.
    pub fn state(&self) -> Result<Value, Outcome> {
        let out = self.rt(&["state", &self.id])?.check()?;
        serde_json::from_str(&out.stdout)
            .map_err(|e| Outcome::Fail(format!("state output is not JSON ({e}): {}", out.stdout)))
    }

    pub fn status(&self) -> Result<String, Outcome> {
        Ok(self.state()?["status"].as_str().unwrap_or("").to_owned())
    }

    /// Polls `state` until the container has stopped.
    pub fn wait_stopped(&self) -> CaseResult {
        let start = Instant::now();
        loop {
            let status = self.status()?;
            if status == "stopped" {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                crate::fail!("container still {status} after 10s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs the checker with the given checks through `run` and takes its verdict.
    pub fn run_checks(&mut self, checks: &[&str]) -> CaseResult {
        self.checks(checks);
        let out = self.run()?;
        verdict(checks, &out)
    }
}

impl Drop for Bundle<'_> {
    fn drop(&mut self) {
        let _ = self.delete(true);
    }
}

/// Reads the checker's report: one `ok NAME` or `not ok NAME: reason` line per check.
pub fn verdict(checks: &[&str], out: &Invocation) -> CaseResult {
    let mut problems = Vec::new();
    for c in checks {
        let ok = format!("ok {c}");
        if !out.stdout.lines().any(|l| l == ok) {
            let line = out
                .stdout
                .lines()
                .find(|l| l.starts_with(&format!("not ok {c}:")));
            problems.push(
                line.map(|l| l[7..].to_owned())
                    .unwrap_or(format!("{c}: no report")),
            );
        }
    }
    if !problems.is_empty() || !out.ok() {
        let err = out.stderr.trim();
        crate::fail!(
            "{} (exit {:?}{}{})",
            problems.join("; "),
            out.code,
            if err.is_empty() { "" } else { ", stderr: " },
            err
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{base_config, verdict, CHECKER, RUNC_SPEC};
    use crate::outcome::Outcome;
    use crate::runtime::Invocation;

    fn out(code: i32, stdout: &str) -> Invocation {
        Invocation {
            args: String::new(),
            code: Some(code),
            stdout: stdout.into(),
            stderr: String::new(),
            out_path: "/dev/null".into(),
        }
    }

    #[test]
    fn every_check_must_report_ok() {
        assert_eq!(
            verdict(&["env", "cwd"], &out(0, "ok env\nok cwd\n")),
            Ok(())
        );
        let missing = verdict(&["env", "cwd"], &out(0, "ok env\n"));
        assert!(matches!(missing, Err(Outcome::Fail(r)) if r.contains("cwd: no report")));
        let failed = verdict(&["env"], &out(1, "not ok env: FOO not set\n"));
        assert!(matches!(failed, Err(Outcome::Fail(r)) if r.contains("FOO not set")));
    }

    #[test]
    fn a_failing_exit_fails_even_with_ok_lines() {
        assert!(verdict(&["env"], &out(1, "ok env\n")).is_err());
    }

    #[test]
    fn base_config_is_runc_spec_running_the_checker() {
        let mut base = base_config().unwrap();
        assert_eq!(base["process"]["args"], serde_json::json!([CHECKER]));
        assert_eq!(base["process"]["terminal"], false);
        let runc: serde_json::Value = serde_json::from_str(RUNC_SPEC).unwrap();
        base["process"]["args"] = runc["process"]["args"].clone();
        base["process"]["terminal"] = runc["process"]["terminal"].clone();
        assert_eq!(base, runc, "only args and terminal differ from `runc spec`");
    }
}
