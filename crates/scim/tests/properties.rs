//! Property tests: `diff_patch` applied with `apply_patch` to the resource
//! built from the old attributes yields the resource built from the new
//! ones; `Filter::parse` and `AttrPath::parse` never panic.

use proptest::prelude::*;
use roster_scim::{apply_patch, build_resource, diff_patch, AttrPath, Filter, ResourceKind};
use serde_json::{Map, Value};

/// The target paths of the default user mapping.
const PATHS: &[&str] = &[
    "userName",
    "active",
    "displayName",
    "title",
    "emails[type eq \"work\"].value",
    "preferredLanguage",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "addresses[type eq \"work\"].formatted",
    "addresses[type eq \"work\"].streetAddress",
    "addresses[type eq \"work\"].locality",
    "addresses[type eq \"work\"].postalCode",
    "addresses[type eq \"work\"].country",
    "phoneNumbers[type eq \"work\"].value",
    "phoneNumbers[type eq \"mobile\"].value",
    "externalId",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
];

fn value_for(path: &str, choice: u8) -> Value {
    match (path, choice % 4) {
        ("active", 0) => Value::String("True".into()),
        ("active", 1) => Value::String("False".into()),
        ("active", _) => Value::Bool(choice.is_multiple_of(2)),
        (_, 3) => Value::Null,
        _ => Value::String(format!("v{choice}")),
    }
}

fn attrs() -> impl Strategy<Value = Vec<(String, Value)>> {
    proptest::collection::vec((0..PATHS.len(), any::<u8>()), 0..PATHS.len() * 2).prop_map(|picks| {
        let mut out: Vec<(String, Value)> = Vec::new();
        for (i, choice) in picks {
            let path = PATHS[i];
            if !out.iter().any(|(p, _)| p == path) {
                out.push((path.to_string(), value_for(path, choice)));
            }
        }
        out
    })
}

/// Sorts multi-valued attributes: their order carries no meaning.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, canonical(v))).collect()),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        v => v,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn diff_then_apply_reaches_new(old in attrs(), new in attrs()) {
        let old_map: Map<String, Value> = old.iter().cloned().collect();
        let ops = diff_patch(&old_map, &new);
        let mut resource = build_resource(ResourceKind::User, &old);
        let applied = apply_patch(&mut resource, &ops);
        prop_assert!(applied.is_ok(), "{applied:?} for {ops:?}");
        prop_assert_eq!(canonical(resource), canonical(build_resource(ResourceKind::User, &new)), "ops {:?}", ops);
    }

    #[test]
    fn no_ops_when_unchanged(old in attrs()) {
        let old_map: Map<String, Value> = old.iter().cloned().collect();
        prop_assert!(diff_patch(&old_map, &old).is_empty());
    }

    #[test]
    fn filter_parse_never_panics(s in "\\PC{0,80}") {
        let _ = Filter::parse(&s);
        let _ = AttrPath::parse(&s);
    }

    #[test]
    fn filter_parse_never_panics_on_filter_like_text(
        s in proptest::collection::vec(prop_oneof![
            Just("userName"), Just(" eq "), Just("\"x\""), Just(" and "), Just(" or "), Just("not "),
            Just("("), Just(")"), Just("["), Just("]"), Just(".value"), Just(" pr"), Just("12"), Just("true"),
            Just("emails"), Just("urn:a:b:c"), Just("\\"), Just("\""), Just("-"),
        ], 0..30)
    ) {
        let text: String = s.concat();
        if let Ok(f) = Filter::parse(&text) {
            let _ = f.matches(&serde_json::json!({"userName": "x", "emails": [{"value": "x"}]}));
        }
    }
}
