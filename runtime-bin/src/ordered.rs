//! JSON objects printed with their keys in runc's order. serde_json's `Value` keeps keys
//! sorted; scripts that read runc's output positionally (or just diff it) expect Go's struct
//! field order, so the top-level keys are written in the order runc's structs declare them.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// runc's state document (`state`, `list --format json`): `libcontainer`'s State struct.
pub const STATE_KEYS: &[&str] = &[
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
    "annotations",
];

/// runc's event (`events`): type, id, data.
pub const EVENT_KEYS: &[&str] = &["type", "id", "data"];

/// `value` with its top-level keys in `order` (keys not listed follow, sorted). runc leaves
/// out empty annotations (`omitempty`), and so does this.
pub struct Ordered<'a>(pub &'a Value, pub &'a [&'a str]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.0 else {
            return self.0.serialize(ser);
        };
        let omitted =
            |k: &str, v: &Value| k == "annotations" && v.as_object().is_some_and(|m| m.is_empty());
        let known = self.1.iter().filter_map(|k| map.get_key_value(*k));
        let rest = map.iter().filter(|(k, _)| !self.1.contains(&k.as_str()));
        let mut out = ser.serialize_map(None)?;
        for (k, v) in known.chain(rest) {
            if !omitted(k, v) {
                out.serialize_entry(k, v)?;
            }
        }
        out.end()
    }
}

/// One line of JSON (`list --format json`, `events`).
pub fn line(value: &Value, order: &[&str]) -> String {
    serde_json::to_string(&Ordered(value, order)).unwrap_or_default()
}

/// Indented JSON (`state`), as runc prints it.
pub fn pretty(value: &Value, order: &[&str]) -> String {
    serde_json::to_string_pretty(&Ordered(value, order)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_in_the_given_order_and_empty_annotations_go() {
        let v = serde_json::json!({"data": {"b": 1, "a": 2}, "zz": 0, "id": "x", "type": "oom",
            "annotations": {}});
        assert_eq!(
            line(&v, EVENT_KEYS),
            r#"{"type":"oom","id":"x","data":{"a":2,"b":1},"zz":0}"#
        );
        let v = serde_json::json!({"annotations": {"k": "v"}, "id": "x"});
        assert_eq!(
            line(&v, STATE_KEYS),
            r#"{"id":"x","annotations":{"k":"v"}}"#
        );
    }
}
