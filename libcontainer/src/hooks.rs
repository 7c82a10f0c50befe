//! The six hooks: each runs with the container's state JSON on stdin, its own env and args,
//! and an optional timeout after which it is killed.
//!
//! Failure rules (runtime-spec): prestart, createRuntime, createContainer, startContainer — a
//! failure aborts (the caller tears the container down); poststart and poststop — a failure is
//! only a warning (the caller logs it and goes on).

use oci_spec::runtime::Hook;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("hooks.{phase}[{index}] ({path}): {reason}")]
    Failed { phase: &'static str, index: usize, path: String, reason: String },
}

/// Runs `hooks` in order, stopping at the first failure. `phase` is the config's name for the
/// list ("prestart", "createRuntime", ...), used in errors.
pub fn run_hooks(_phase: &'static str, _hooks: &[Hook], _state_json: &[u8]) -> Result<(), HookError> {
    todo!()
}
