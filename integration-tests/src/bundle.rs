//! OCI bundles for tests: a busybox-static rootfs (as scripts/mkbundle.sh makes) and a config
//! in `runc spec`'s shape, kept as a serde_json::Value so each test edits exactly the fields
//! it is about.

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

/// `runc spec`'s default with `terminal: false` (tests read the container's stdio) and the
/// hostname tests check for.
pub fn default_config(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth-test",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

fn default_mounts() -> Value {
    json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ])
}
