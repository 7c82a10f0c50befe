//! OCI bundles for tests: a busybox-static rootfs (as scripts/mkbundle.sh makes) and `runc
//! spec`'s config, kept as a serde_json::Value so each test edits exactly the fields it is about.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const BUSYBOX: &str = "/bin/busybox";

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = std::process::Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .expect("running /bin/busybox --list (apt-get install busybox-static)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    })
}

impl Bundle {
    /// Makes `dir` with a rootfs and a default config running `args`; `save` writes the config.
    pub fn new(dir: &Path, args: &[&str]) -> Self {
        let rootfs = dir.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("creating the rootfs");
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copying busybox");
        for a in applets().iter().filter(|a| *a != "busybox") {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a))
                .expect("linking a busybox applet");
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        Self {
            dir: dir.to_owned(),
            config: default_config(args),
        }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn path_str(&self) -> &str {
        self.dir.to_str().expect("test paths are UTF-8")
    }

    /// Writes config.json.
    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("serialising the config");
        std::fs::write(self.dir.join("config.json"), text).expect("writing config.json");
    }

    /// `config.linux`, for editing.
    pub fn linux(&mut self) -> &mut Value {
        &mut self.config["linux"]
    }

    /// `config.process`, for editing.
    pub fn process(&mut self) -> &mut Value {
        &mut self.config["process"]
    }

    /// Appends a mount.
    pub fn add_mount(&mut self, mount: Value) {
        self.config["mounts"]
            .as_array_mut()
            .expect("mounts is an array")
            .push(mount);
    }

    /// Removes the mount at `destination`.
    pub fn remove_mount(&mut self, destination: &str) {
        let mounts = self.config["mounts"]
            .as_array_mut()
            .expect("mounts is an array");
        mounts.retain(|m| m["destination"] != destination);
    }

    /// Adds a namespace entry (`path` joins an existing one).
    pub fn add_namespace(&mut self, typ: &str, path: Option<&str>) {
        let ns = self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        ns.retain(|n| n["type"] != typ);
        ns.push(match path {
            Some(p) => json!({"type": typ, "path": p}),
            None => json!({"type": typ}),
        });
    }

    pub fn remove_namespace(&mut self, typ: &str) {
        let ns = self.config["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        ns.retain(|n| n["type"] != typ);
    }

    pub fn set_writable(&mut self) {
        self.config["root"]["readonly"] = json!(false);
    }
}

/// `runc spec`'s own output (runc 1.1.5), the one config every test bundle starts from: this
/// suite's, oci-conformance's, libcontainer's rootfs tests' and scripts/mkbundle.sh's.
pub const RUNC_SPEC: &str = include_str!("../fixtures/runc-1.1.5-spec.json");

/// [`RUNC_SPEC`] running `args`, with `terminal: false`: tests read the container's stdio.
pub fn default_config(args: &[&str]) -> Value {
    let mut config: Value = serde_json::from_str(RUNC_SPEC).expect("the runc spec fixture is JSON");
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(args);
    config
}
