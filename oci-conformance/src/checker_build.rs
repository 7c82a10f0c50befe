//! Builds the static checker the runner places in every rootfs.

use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds `oci-checker` with glibc linked statically, in a target dir of its own so the flags
/// do not invalidate the workspace's build, and returns the binary's path. An explicit
/// `--target` keeps the flag off build scripts and proc macros, which cannot be static.
pub fn build() -> Result<PathBuf, String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let target_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/oci-checker");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--bin",
            "oci-checker",
            "--target",
            TARGET,
        ])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .map_err(|e| format!("cannot run cargo to build the checker: {e}"))?;
    if !status.success() {
        return Err(format!("building the checker failed ({status})"));
    }
    Ok(target_dir.join(TARGET).join("release/oci-checker"))
}
