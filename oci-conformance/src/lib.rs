//! OCI runtime conformance suite.
//!
//! The runner (`src/main.rs`) builds a bundle per case, drives a runtime through runc's command
//! line and reads the verdict of `oci-checker`, a static binary placed in the container's rootfs
//! that compares what it sees from inside with the config it was given.
//!
//! Configs are handled as `serde_json::Value` rather than `oci-spec` types on purpose: cases must
//! write what typed structs refuse to represent (unknown properties, unknown capabilities and
//! rlimits, wrong namespace types), and the checker must read them back the same way.

pub mod bundle;
pub mod cases;
pub mod checker_build;
pub mod expect;
pub mod names;
pub mod outcome;
pub mod report;
pub mod runtime;
