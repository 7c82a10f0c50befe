//! state and list: the state documents libcontainer derives, printed as runc prints them.

use crate::cli::{IdArg, ListArgs, ListFormat};
use crate::error::CliError;
use crate::ordered;
use libcontainer::{Container, Listed};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

pub fn state(root: &Path, args: &IdArg) -> Result<i32, CliError> {
    let doc = Container::load(root, &args.id)?.state_json();
    print_out(&format!("{}\n", ordered::pretty(&doc, ordered::STATE_KEYS)))?;
    Ok(0)
}

pub fn list(root: &Path, args: &ListArgs) -> Result<i32, CliError> {
    let listed = libcontainer::list(root)?;
    let id_of = |l: &Listed| match l {
        Listed::Container(c) => c.id().to_owned(),
        Listed::Broken { id, .. } => id.clone(),
    };
    let out = if args.quiet {
        listed.iter().map(|l| format!("{}\n", id_of(l))).collect()
    } else {
        let mut owners = Owners::default();
        let json = args.format == ListFormat::Json;
        let docs: Vec<Value> = listed
            .iter()
            .map(|l| {
                let mut doc = match l {
                    // The table shows no annotations: the stored configs are not read for it.
                    Listed::Container(c) if json => c.state_json(),
                    Listed::Container(c) => c.state_json_brief(),
                    Listed::Broken { id, reason } => broken_doc(id, reason),
                };
                doc["owner"] = Value::String(owners.of(&root.join(id_of(l))));
                doc
            })
            .collect();
        match args.format {
            // runc marshals its nil slice: `null`, not `[]`, when there is no container.
            ListFormat::Json if docs.is_empty() => "null\n".to_owned(),
            ListFormat::Json => {
                let docs: Vec<String> = docs
                    .iter()
                    .map(|d| ordered::line(d, ordered::STATE_KEYS))
                    .collect();
                format!("[{}]\n", docs.join(","))
            }
            ListFormat::Table => table(&docs),
        }
    };
    print_out(&out)?;
    Ok(0)
}

/// A container whose record cannot be read: listed (the others are still shown) with the
/// status `broken`, and the reason on stderr.
fn broken_doc(id: &str, reason: &str) -> Value {
    log::warn!("container {id} is broken: {reason} (delete --force removes what is left of it)");
    serde_json::json!({"id": id, "pid": 0, "status": "broken", "bundle": "", "created": ""})
}

/// runc's `list` owner: the user name of the uid owning the container's state directory, from
/// /etc/passwd (read once, as runc's own user lookup does, without NSS), or `#<uid>` when that
/// uid has no entry. (`state` leaves the owner empty, as runc does.)
#[derive(Default)]
struct Owners {
    passwd: Option<String>,
}

impl Owners {
    fn of(&mut self, dir: &Path) -> String {
        use std::os::unix::fs::MetadataExt;
        let Ok(uid) = std::fs::metadata(dir).map(|m| m.uid()) else {
            return String::new();
        };
        let passwd = self
            .passwd
            .get_or_insert_with(|| std::fs::read_to_string("/etc/passwd").unwrap_or_default());
        user_name(passwd, uid).unwrap_or_else(|| format!("#{uid}"))
    }
}

fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

/// stdout closed early (`berth list | head -1`) is not worth a panic; report it as an error.
fn print_out(s: &str) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(s.as_bytes())
        .map_err(|e| CliError::io("stdout", e))
}

const COLUMNS: [&str; 6] = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];

/// runc's table: Go's tabwriter with min width 12 and padding 3; the last column unpadded.
pub fn table(docs: &[Value]) -> String {
    let field = |d: &Value, key: &str| match &d[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let keys = ["id", "pid", "status", "bundle", "created", "owner"];
    let mut rows = vec![COLUMNS.map(str::to_owned).to_vec()];
    rows.extend(
        docs.iter()
            .map(|d| keys.iter().map(|k| field(d, k)).collect()),
    );
    let widths: Vec<usize> = (0..COLUMNS.len() - 1)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (cell, w) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<w$}"));
        }
        out.push_str(&row[COLUMNS.len() - 1]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_come_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nbad line\nadm:x:3:4::/:/bin/false\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 3).as_deref(), Some("adm"));
        assert_eq!(user_name(passwd, 4), None);
    }

    #[test]
    fn table_is_aligned_like_runc() {
        let doc = serde_json::json!({"id": "a-rather-long-id", "pid": 42, "status": "running",
            "bundle": "/b", "created": "2026-01-01T00:00:00Z", "owner": "root"});
        let t = table(&[doc]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "{:<19}{:<12}{:<12}{:<12}{:<23}OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            )
        );
        assert_eq!(
            lines[1],
            format!(
                "{:<19}{:<12}{:<12}{:<12}{:<23}root",
                "a-rather-long-id", "42", "running", "/b", "2026-01-01T00:00:00Z"
            )
        );
        assert_eq!(
            table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}
