//! docs/configuration.md documents every configuration key.

use serde_json::Value;

fn keys(prefix: &str, value: &Value, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v.is_object() {
                keys(&key, v, out);
            } else {
                out.push(key);
            }
        }
    }
}

#[test]
fn every_configuration_key_is_documented() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let defaults = serde_json::to_value(switchboard_core::Config::default()).unwrap();
    let mut all = Vec::new();
    keys("", &defaults, &mut all);
    assert!(all.len() > 20, "the walk must find the keys, found {all:?}");
    for key in all {
        let env = format!("SWITCHBOARD_{}", key.to_uppercase().replace('.', "__"));
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/configuration.md must document `{key}`"
        );
        assert!(
            doc.contains(&env),
            "docs/configuration.md must give the variable {env} for `{key}`"
        );
    }
}
