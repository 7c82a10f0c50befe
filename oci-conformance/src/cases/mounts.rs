//! `mounts` and `root`: mount types and options, read-only root, masked and read-only paths
//! (including symlinks and device nodes), rootfs propagation, recursive mount attributes.

use super::{checked, Case};
use crate::bundle::{Bundle, Suite};
use crate::outcome::{CaseResult, Outcome};
use serde_json::{json, Value};
use std::ffi::CString;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

pub const CASES: &[Case] = &[
    Case::new("mounts_tmpfs_and_bind", tmpfs_and_bind),
    Case::new("mounts_bind_file", bind_file),
    Case::new("mounts_recursive_readonly", recursive_readonly),
    Case::new("mounts_idmapped", idmapped),
    Case::new("root_readonly", root_readonly),
    Case::new("root_writable", root_writable),
    Case::new("masked_paths", masked_paths),
    Case::new("readonly_paths", readonly_paths),
    Case::new("rootfs_propagation_private", |s| propagation(s, "private")),
    Case::new("rootfs_propagation_slave", |s| propagation(s, "slave")),
    Case::new("rootfs_propagation_shared", |s| propagation(s, "shared")),
    Case::new("rootfs_propagation_unbindable", |s| {
        propagation(s, "unbindable")
    }),
];

fn add_mount(b: &mut Bundle, m: Value) {
    if let Some(list) = b.config["mounts"].as_array_mut() {
        list.push(m);
    }
}

fn tmpfs_and_bind(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "mounts")?;
    let src = b.share().join("bindsrc");
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("hello"), "hello from the host")?;
    add_mount(
        &mut b,
        json!({"destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=755"]}),
    );
    add_mount(
        &mut b,
        json!({"destination": "/mnt/bind", "type": "bind", "source": src, "options": ["rbind", "ro"]}),
    );
    b.expect["files"] = json!([
        {"path": "/mnt/bind/hello", "content": "hello from the host"},
        {"path": "/mnt/bind", "writable": false},
        {"path": "/mnt/tmp", "writable": true}
    ]);
    b.run_checks(&["mounts", "files"])
}

fn bind_file(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "bindfile")?;
    let src = b.share().join("file");
    std::fs::write(&src, "a single file")?;
    add_mount(
        &mut b,
        json!({"destination": "/etc/conformance", "type": "none", "source": src, "options": ["bind"]}),
    );
    b.expect["files"] =
        json!([{"path": "/etc/conformance", "content": "a single file", "writable": true}]);
    b.run_checks(&["mounts", "files"])
}

/// A tmpfs mounted on the host for the length of a case.
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: &Path) -> Result<HostMount, Outcome> {
        std::fs::create_dir_all(at)?;
        let target = CString::new(at.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: mounts a fresh tmpfs on a directory this case created.
        let r = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if r != 0 {
            crate::fail!(
                "mount tmpfs on {}: {}",
                at.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(HostMount(at.to_owned()))
    }

    /// Bind-mounts `dir` on itself as a shared mount: a host whose mounts are all private
    /// (no systemd here) gives a container's root no peer group to share or follow.
    fn shared_bind(dir: &Path) -> Result<HostMount, Outcome> {
        let t = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: bind and propagation change on a directory this case created.
        let r = unsafe {
            libc::mount(
                t.as_ptr(),
                t.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if r != 0 {
            crate::fail!(
                "bind {}: {}",
                dir.display(),
                std::io::Error::last_os_error()
            );
        }
        let guard = HostMount(dir.to_owned());
        // SAFETY: as above.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                t.as_ptr(),
                std::ptr::null(),
                libc::MS_SHARED,
                std::ptr::null(),
            )
        };
        if r != 0 {
            crate::fail!(
                "make-shared {}: {}",
                dir.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(guard)
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        if let Ok(t) = CString::new(self.0.as_os_str().as_encoded_bytes()) {
            // SAFETY: detaches the mount this guard made.
            unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// `rro` makes submounts of a recursive bind read-only too, where `ro` reaches only the top.
fn recursive_readonly(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "rro")?;
    let src = b.share().join("rsrc");
    let _sub = HostMount::tmpfs(&src.join("sub"))?;
    add_mount(
        &mut b,
        json!({"destination": "/mnt/r", "type": "bind", "source": src, "options": ["rbind", "rro"]}),
    );
    b.expect["files"] =
        json!([{"path": "/mnt/r", "writable": false}, {"path": "/mnt/r/sub", "writable": false}]);
    b.run_checks(&["files"])
}

/// An idmapped bind mount shows the source's root-owned file as the mapped ids.
fn idmapped(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "idmapped")?;
    let src = b.share().join("idsrc");
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("owned-by-root"), "x")?;
    add_mount(
        &mut b,
        json!({"destination": "/mnt/idmapped", "type": "bind", "source": src, "options": ["bind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 1}]}),
    );
    b.expect["files"] = json!([{"path": "/mnt/idmapped/owned-by-root", "uid": 1000, "gid": 2000}]);
    b.run_checks(&["files"])
}

fn root_readonly(s: &Suite) -> CaseResult {
    checked(s, "rootro", &["root_ro"], |b| {
        b.config["root"]["readonly"] = json!(true)
    })
}

fn root_writable(s: &Suite) -> CaseResult {
    checked(s, "rootrw", &["root_ro", "files"], |b| {
        b.config["root"]["readonly"] = json!(false);
        b.expect["files"] = json!([{"path": "/tmp", "writable": true}]);
    })
}

fn masked_paths(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "masked")?;
    let c = b.rootfs().join("conformance");
    std::fs::write(c.join("mask-target"), "secret")?;
    symlink("mask-target", c.join("mask-link"))?;
    std::fs::create_dir_all(c.join("mask-dir"))?;
    std::fs::write(c.join("mask-dir/inside"), "secret")?;
    b.config["root"]["readonly"] = json!(false);
    for p in [
        "/conformance/mask-link",
        "/conformance/mask-dir",
        "/dev/full",
        "/conformance/no-such-path",
    ] {
        super::push(&mut b.config["linux"]["maskedPaths"], json!(p));
    }
    b.expect["files"] = json!([{"path": "/conformance/mask-dir/inside", "absent": true}]);
    b.run_checks(&["masked", "files"])
}

fn readonly_paths(s: &Suite) -> CaseResult {
    let mut b = Bundle::new(s, "readonly")?;
    let c = b.rootfs().join("conformance");
    std::fs::create_dir_all(c.join("ro-dir"))?;
    std::fs::create_dir_all(c.join("ro-target"))?;
    symlink("ro-target", c.join("ro-link"))?;
    b.config["root"]["readonly"] = json!(false);
    for p in [
        "/conformance/ro-dir",
        "/conformance/ro-link",
        "/dev/zero",
        "/conformance/no-such-path",
    ] {
        super::push(&mut b.config["linux"]["readonlyPaths"], json!(p));
    }
    b.expect["files"] = json!([
        {"path": "/conformance/ro-dir", "writable": false},
        {"path": "/conformance/ro-target", "writable": false},
        {"path": "/tmp", "writable": true}
    ]);
    b.run_checks(&["readonly", "files"])
}

fn propagation(s: &Suite, mode: &str) -> CaseResult {
    let mut b = Bundle::new(s, &format!("prop{mode}"))?;
    let shared = HostMount::shared_bind(&b.rootfs())?;
    b.config["linux"]["rootfsPropagation"] = json!(mode);
    let result = b.run_checks(&["propagation"]);
    // Delete, then unmount, then let the bundle's files go, in that order.
    let _ = b.delete(true);
    drop(shared);
    result
}
