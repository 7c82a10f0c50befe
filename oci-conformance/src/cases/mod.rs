//! The cases, one module per area of the runtime spec.

use crate::bundle::{Bundle, Suite};
use crate::outcome::{CaseResult, Outcome};
use serde_json::Value;

mod cgroups;
mod exec;
mod hooks;
mod lifecycle;
mod linux;
mod mounts;
mod process;
mod seccomp_notify;

#[derive(Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub run: fn(&Suite) -> CaseResult,
}

impl Case {
    pub const fn new(name: &'static str, run: fn(&Suite) -> CaseResult) -> Case {
        Case { name, run }
    }
}

pub fn all() -> Vec<Case> {
    [
        lifecycle::CASES,
        process::CASES,
        linux::CASES,
        mounts::CASES,
        cgroups::CASES,
        hooks::CASES,
        exec::CASES,
        seccomp_notify::CASES,
    ]
    .concat()
}

/// The common shape of a case: edit the base config, run the checker with some checks.
pub fn checked(
    suite: &Suite,
    name: &str,
    checks: &[&str],
    edit: impl FnOnce(&mut Bundle),
) -> CaseResult {
    let mut b = Bundle::new(suite, name)?;
    edit(&mut b);
    b.run_checks(checks)
}

/// Expects the runtime to refuse the bundle at `create`, leaving no container behind.
pub fn refused(suite: &Suite, name: &str, edit: impl FnOnce(&mut Bundle)) -> CaseResult {
    let mut b = Bundle::new(suite, name)?;
    edit(&mut b);
    b.checks(&["args"]);
    let out = b.create()?;
    if out.ok() {
        crate::fail!("create accepted the config");
    }
    if b.rt(&["state", &b.id])?.ok() {
        crate::fail!(
            "create failed ({}) but left a container behind",
            out.stderr.trim()
        );
    }
    Ok(())
}

/// A JSON array of strings.
pub fn strs(list: &[&str]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| Value::String((*s).to_owned()))
            .collect(),
    )
}

/// Skips when a path the case needs is missing on this machine.
pub fn need_path(path: &str, why: &str) -> CaseResult {
    if std::path::Path::new(path).exists() {
        Ok(())
    } else {
        Err(Outcome::Skip(format!("{path} missing: {why}")))
    }
}

/// Appends to a JSON array, making one if the field is absent.
pub fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(a) = list {
        a.push(item);
    }
}

/// Removes the config's mounts of the given types.
pub fn drop_mounts(b: &mut Bundle, types: &[&str]) {
    if let Some(m) = b.config["mounts"].as_array_mut() {
        m.retain(|m| !types.iter().any(|t| m["type"] == *t));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn case_names_are_unique_and_filterable() {
        let mut names: Vec<&str> = super::all().iter().map(|c| c.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate case names");
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
