//! The list of failures expected of a runtime, kept as a Markdown table so that one file both
//! documents why and drives the runner's exit status.

use std::collections::BTreeMap;
use std::path::Path;

/// Reads rows `| runtime | case | reason |` and returns the cases expected to fail for
/// `runtime`, with the reason.
pub fn load(path: &Path, runtime: &str) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parse(&text, runtime))
}

pub fn parse(text: &str, runtime: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('|')) {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 3 || cells[0] != runtime {
            continue;
        }
        out.insert(cells[1].trim_matches('`').to_owned(), cells[2].to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn rows_for_the_named_runtime_only() {
        let md = "| runtime | case | why |\n|---|---|---|\n| runc | `a_case` | old |\n| crun | b | x |\n";
        let got = parse(md, "runc");
        assert_eq!(got.len(), 1);
        assert_eq!(got["a_case"], "old");
        assert!(parse(md, "berth").is_empty());
    }
}
