//! Harness for driving an OCI runtime binary (berth, or runc to validate the tests) the way an
//! engine does: one temp dir per test holding the bundle and the `--root`, unique container ids,
//! and a guard that force-deletes and cleans up even when the test panics.
//!
//! Everything a test makes is named after the test process's pid (`/tmp/berth-it/<pid>-...`,
//! ids `it<pid>-...`), so the leak check (tests/zz_leaks.rs) can tell leftovers of finished
//! runs from the artifacts of a suite still running in parallel elsewhere.

pub mod bundle;
pub mod cgroup;
pub mod compat;
pub mod console;
pub mod engines;
pub mod host;
pub mod notify_agent;
pub mod rootless;
pub mod runtime;
pub mod sd;

pub use bundle::Bundle;
pub use runtime::{Out, Runtime};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where every test's temp dir lives.
pub const TEST_TMP: &str = "/tmp/berth-it";
/// Prefix of every container id the suite makes.
pub const ID_PREFIX: &str = "it";

/// How long a state change may take before a test fails: generous, for a loaded 2-core CI
/// machine; a passing test never waits for it.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(30);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique across tests, processes and runs: pid, counter and the test's name.
pub fn unique_name(test: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let clean: String = test
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("{}-{n}-{clean}", std::process::id())
}

/// The runtime under test: $BERTH_BIN, else the release build scripts/build-berth.sh leaves in
/// the workspace's target/release, else the berth cargo built next to this test binary (its
/// `deps/` dir's parent, so a CARGO_TARGET_DIR outside the workspace is honoured).
pub fn runtime_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("BERTH_BIN") {
        return PathBuf::from(bin);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let release = target.join("release/berth");
    if release.exists() {
        return release;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("berth")))
        .unwrap_or_else(|| target.join("debug/berth"))
}

/// True when validating the tests against runc rather than testing berth.
pub fn is_runc() -> bool {
    runtime_bin().file_name().is_some_and(|n| n == "runc")
}

/// For a test of something runc lacks or does differently from the spec: true (and says why)
/// when the runtime is runc, so the test returns early. berth must pass every test.
pub fn skip_for_runc(why: &str) -> bool {
    if is_runc() {
        eprintln!("skipped for runc: {why}");
    }
    is_runc()
}

/// Polls `check` every 10ms until it returns Some, or panics after `timeout` naming `what`.
pub fn poll<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One test's world: a temp dir with the state root and bundles, the runtime, and the ids it
/// made. Dropping it force-deletes every container and removes the dir, unless a mount still
/// points into it (then the dir is left for the leak check to report rather than risking
/// `remove_dir_all` walking into a host filesystem mounted there).
pub struct TestEnv {
    pub name: String,
    pub dir: PathBuf,
    pub rt: Runtime,
    ids: std::cell::RefCell<Vec<String>>,
}

impl TestEnv {
    pub fn new(test: &str) -> Self {
        let name = unique_name(test);
        let dir = Path::new(TEST_TMP).join(&name);
        std::fs::create_dir_all(&dir).expect("creating the test's temp dir");
        let rt = Runtime::new(runtime_bin(), dir.join("root"), dir.join("out"));
        Self {
            name,
            dir,
            rt,
            ids: Default::default(),
        }
    }

    /// A fresh container id, force-deleted when the env drops.
    pub fn id(&self) -> String {
        let n = self.ids.borrow().len();
        let id = format!("{ID_PREFIX}{}-{n}", self.name);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// The ids made so far.
    pub fn ids(&self) -> Vec<String> {
        self.ids.borrow().clone()
    }

    /// A busybox bundle in this env running `args`.
    pub fn bundle(&self, args: &[&str]) -> Bundle {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Bundle::new(&self.dir.join(format!("bundle{n}")), args)
    }

    /// Runs the container to completion with `berth run` and returns what it printed.
    pub fn run(&self, bundle: &Bundle) -> Out {
        bundle.save();
        let id = self.id();
        self.rt
            .run_cmd(&["run", "--bundle", bundle.path_str(), &id])
    }

    /// Like `run`, asserting success; returns stdout.
    pub fn run_ok(&self, bundle: &Bundle) -> String {
        let out = self.run(bundle);
        out.assert_ok("run");
        out.stdout
    }

    /// Creates a container from `bundle` and returns its id.
    pub fn create(&self, bundle: &Bundle) -> String {
        bundle.save();
        let id = self.id();
        self.rt
            .run_cmd(&["create", "--bundle", bundle.path_str(), &id])
            .assert_ok("create");
        id
    }

    /// Waits until the container's state reports `status`.
    pub fn wait_status(&self, id: &str, status: &str) -> serde_json::Value {
        poll(STATE_TIMEOUT, &format!("{id} to be {status}"), || {
            let state = self.rt.state(id)?;
            (state["status"] == status).then_some(state)
        })
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // spawn panics on a missing binary; a test already failed for that reason.
        let ids = if self.rt.bin.exists() {
            self.ids.borrow().clone()
        } else {
            Vec::new()
        };
        for id in &ids {
            let _ = self.rt.spawn(&["delete", "--force", id]).try_wait();
        }
        let mounts = host::mounts_under(&self.dir);
        let states = host::dir_entries(&self.rt.root);
        if mounts.is_empty() && states.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            // Left for the leak check to report.
            eprintln!(
                "leaving {}: mounts {mounts:?}, states {states:?}",
                self.dir.display()
            );
        }
    }
}

/// Asserts `text` contains `needle`, showing both when it does not.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

/// One line of a mountinfo file, as printed by a container.
#[derive(Debug, Clone)]
pub struct MountLine {
    pub mount_point: String,
    /// Per-mount options (`rw,nosuid,...`).
    pub options: Vec<String>,
    /// Propagation tags (`shared:N`, `master:N`, `unbindable`).
    pub tags: Vec<String>,
    pub fstype: String,
    pub super_options: Vec<String>,
}

impl MountLine {
    pub fn has(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }
}

/// The last mount at `mount_point` (the one visible) in mountinfo `text`.
pub fn mount_at(text: &str, mount_point: &str) -> Option<MountLine> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountLine {
                mount_point: f.get(4)?.to_string(),
                options: f.get(5)?.split(',').map(str::to_owned).collect(),
                tags: f[6..].iter().map(|s| s.to_string()).collect(),
                fstype: r.first()?.to_string(),
                super_options: r
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .rfind(|m| m.mount_point == mount_point)
}
