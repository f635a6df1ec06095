//! Settings parsing (`Settings::from_json`, `Settings::merged`, `keeping_restart_keys`) on
//! random objects: real keys, a renamed key, typos and unknown keys, with values of every JSON
//! type (good ones among them), merged onto random settings in force.
//!
//! Invariants: no panic; a key left out keeps the value in force; a key whose value can be read
//! takes it, one that cannot keeps the value in force and is reported; merging the same object
//! twice changes nothing more (idempotent), also after a settings change that went wrong; the
//! settings in force always survive a round trip through JSON (what the next merge starts from).

use infill::config::{RESTART_KEYS, Settings};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::harness::{ensure, fuzz, json_corpus};

/// Every key a settings object may have (from the defaults), the renamed one, and strangers.
fn keys() -> Vec<String> {
    let Value::Object(defaults) = serde_json::to_value(Settings::default()).unwrap() else {
        panic!("settings serialise to an object")
    };
    let mut keys: Vec<String> = defaults.keys().cloned().collect();
    keys.extend(["contextTokens", "modle", "", "infill", "__proto__"].map(String::from));
    keys
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0u64..10).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(255),
            json!(4096),
            json!(u32::MAX),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.5),
            json!(1.0),
            json!(-0.0),
            json!(1e39),
            json!(-1e300),
            json!(f64::MAX),
        ]),
        prop::sample::select(vec![
            "",
            "auto",
            "never",
            "always",
            "psm",
            "spm",
            "starcoder2",
            "qwen2.5-coder",
            "x.gguf",
            "**/*.env",
            "\u{fffd}",
            "😀",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "repeatedLines",
                        "echoedWord",
                        "endOfBlock",
                        "suffixOverlap",
                        "bracketBalance",
                        "typo",
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|entries| Value::Object(
                entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn object_strategy() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((prop::sample::select(keys()), value_strategy()), 0..8)
        .prop_map(|entries| entries.into_iter().collect())
}

fn as_object(settings: &Settings) -> Map<String, Value> {
    match serde_json::to_value(settings) {
        Ok(Value::Object(map)) => map,
        other => panic!("settings do not serialise to an object: {other:?}"),
    }
}

/// Whether `value` alone is a good value for `key`, and what it reads as.
fn read_alone(key: &str, value: &Value) -> Option<Value> {
    let single = Value::Object(Map::from_iter([(key.to_string(), value.clone())]));
    let settings: Settings = serde_json::from_value(single).ok()?;
    let object = as_object(&settings);
    // A value the settings cannot write back (an f32 overflowing to infinity) cannot be held.
    let back: Settings = serde_json::from_value(Value::Object(object.clone())).ok()?;
    (back == settings).then(|| object.get(key).cloned()).flatten()
}

fn check(
    base_object: &Map<String, Value>,
    change: &Map<String, Value>,
) -> Result<(), TestCaseError> {
    let (base, _) = Settings::from_json(Some(&Value::Object(base_object.clone())));
    let in_force = as_object(&base);
    // What the next merge starts from must read back as the same settings.
    let round_trip: Result<Settings, _> = serde_json::from_value(Value::Object(in_force.clone()));
    ensure(round_trip.as_ref().ok() == Some(&base), || {
        format!("the settings in force do not survive JSON: {in_force:?} -> {round_trip:?}")
    })?;

    let object = Value::Object(change.clone());
    let (merged, warnings) = base.merged(Some(&object));
    let after = as_object(&merged);
    let renamed_to_new =
        change.contains_key("contextTokens") && !change.contains_key("repoContextTokens");
    let mut bad = 0;
    for (key, old) in &in_force {
        let given = if key == "repoContextTokens" && renamed_to_new {
            change.get("contextTokens")
        } else {
            change.get(key)
        };
        let now = &after[key];
        match given {
            None => {
                ensure(now == old, || format!("`{key}` was not given but changed: {old} -> {now}"))?
            }
            Some(value) => match read_alone(key, value) {
                Some(read) => ensure(now == &read, || {
                    format!("`{key}`: {value} reads as {read} alone but gave {now}")
                })?,
                None => {
                    bad += 1;
                    ensure(now == old, || {
                        format!("bad `{key}` = {value} changed it: {old} -> {now}")
                    })?;
                    ensure(warnings.iter().any(|w| w.contains(&format!("`{key}`"))), || {
                        format!("bad `{key}` = {value} not reported: {warnings:?}")
                    })?;
                }
            },
        }
    }
    let strangers: Vec<&String> = change
        .keys()
        .filter(|k| !in_force.contains_key(*k) && k.as_str() != "contextTokens")
        .collect();
    for key in &strangers {
        ensure(warnings.iter().any(|w| w.contains(&format!("`{key}`"))), || {
            format!("unknown `{key}` not reported: {warnings:?}")
        })?;
    }
    let deprecated = usize::from(change.contains_key("contextTokens"));
    ensure(warnings.len() == bad + strangers.len() + deprecated, || {
        format!(
            "{} warnings for {bad} bad, {} unknown, {deprecated} renamed: {warnings:?}",
            warnings.len(),
            strangers.len()
        )
    })?;

    // Idempotent: the same change again changes nothing.
    let (again, _) = merged.merged(Some(&object));
    ensure(again == merged, || format!("merging {object} twice differs: {merged:?} vs {again:?}"))?;
    // `from_json` is a merge onto the defaults.
    let (fresh, _) = Settings::from_json(Some(&object));
    ensure(fresh == Settings::default().merged(Some(&object)).0, || {
        "from_json is not a merge".into()
    })?;

    // The keys the engine was loaded with keep their running values, and only given keys that
    // differ are reported.
    let (applied, changed) = merged.clone().keeping_restart_keys(&base, &object);
    let applied_object = as_object(&applied);
    for key in RESTART_KEYS {
        ensure(applied_object[key] == in_force[key], || format!("restart key `{key}` changed"))?;
        let reported = changed.contains(&key);
        let differs = change.get(key).is_some_and(|v| !v.is_null()) && after[key] != in_force[key];
        ensure(reported == differs, || format!("`{key}` reported {reported}, differs {differs}"))?;
    }
    for (key, value) in &after {
        if !RESTART_KEYS.contains(&key.as_str()) {
            ensure(&applied_object[key] == value, || {
                format!("`{key}` lost by keeping_restart_keys")
            })?;
        }
    }
    Ok(())
}

#[test]
fn settings_merge() {
    // Corpus: {"base": {…}, "change": {…}}.
    for (path, case) in json_corpus("settings") {
        let object = |key: &str| case[key].as_object().cloned().unwrap_or_default();
        check(&object("base"), &object("change"))
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    }
    fuzz("settings_merge", 40_000, (object_strategy(), object_strategy()), |(base, change)| {
        check(&base, &change)
    });
}
