//! Printing results: one line per case and a closing count, or JSON.

use crate::outcome::Outcome;
use serde_json::json;
use std::collections::BTreeMap;

pub struct Record {
    pub name: &'static str,
    pub outcome: Outcome,
    pub millis: u128,
}

/// One line, never wrapped: reasons quoting a runtime's stderr may hold newlines.
pub fn line(r: &Record, known: Option<&String>) -> String {
    let reason = r.outcome.reason().replace('\n', " ");
    let mut s = format!("{} {}", r.outcome.label(), r.name);
    if !reason.is_empty() {
        s.push_str(": ");
        s.push_str(&reason);
    }
    if let (Outcome::Fail(_), Some(why)) = (&r.outcome, known) {
        s.push_str(&format!(" [expected: {why}]"));
    }
    s
}

pub fn counts(records: &[Record]) -> (usize, usize, usize) {
    let n = |l: &str| records.iter().filter(|r| r.outcome.label() == l).count();
    (n("PASS"), n("FAIL"), n("SKIP"))
}

pub fn summary(records: &[Record]) -> String {
    let (p, f, s) = counts(records);
    format!("{p} passed, {f} failed, {s} skipped")
}

pub fn json(records: &[Record], runtime: &str, known: &BTreeMap<String, String>) -> String {
    let (p, f, s) = counts(records);
    let cases: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "result": r.outcome.label(),
                "reason": r.outcome.reason(),
                "expected_failure": known.get(r.name),
                "millis": r.millis as u64,
            })
        })
        .collect();
    let doc = json!({"runtime": runtime, "cases": cases, "passed": p, "failed": f, "skipped": s});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_case_and_the_closing_count() {
        let recs = vec![
            Record {
                name: "a",
                outcome: Outcome::Pass,
                millis: 1,
            },
            Record {
                name: "b",
                outcome: Outcome::Fail("x\ny".into()),
                millis: 1,
            },
            Record {
                name: "c",
                outcome: Outcome::Skip("why".into()),
                millis: 1,
            },
        ];
        assert_eq!(line(&recs[0], None), "PASS a");
        assert_eq!(
            line(&recs[1], Some(&"old".to_owned())),
            "FAIL b: x y [expected: old]"
        );
        assert_eq!(line(&recs[2], None), "SKIP c: why");
        assert_eq!(summary(&recs), "1 passed, 1 failed, 1 skipped");
    }
}
