//! The decision table: one line per case, `check(want, found, rules, expected)`,
//! the expected plan written as `summary` prints it.

use super::*;
use roster_store::ObjectKind;
use serde_json::json;

const ON: Rules = Rules { kind: ObjectKind::User, enabled: true, create: true, update: true, delete: false };
const NO_CREATE: Rules = Rules { create: false, ..ON };
const NO_UPDATE: Rules = Rules { update: false, ..ON };
const OFF: Rules = Rules { enabled: false, ..ON };
/// A user mapping whose `delete` is on: users are still only disabled.
const USER_DELETE: Rules = Rules { delete: true, ..ON };
const GROUPS: Rules = Rules { kind: ObjectKind::Group, ..ON };
const GROUPS_DELETE: Rules = Rules { delete: true, ..GROUPS };
const GROUPS_NO_CREATE: Rules = Rules { create: false, ..GROUPS };
const GROUPS_NO_UPDATE: Rules = Rules { update: false, ..GROUPS };
const GROUPS_OFF: Rules = Rules { enabled: false, ..GROUPS_DELETE };

fn map(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn shadow(enabled: bool, exported: &[(&str, Value)], pending: Option<&str>) -> ShadowEntry {
    ShadowEntry {
        object_kind: ObjectKind::User,
        source_id: "u1".into(),
        target_id: "t1".into(),
        exported: map(exported),
        enabled,
        pending_ref: pending.map(String::from),
        last_sync: 0,
    }
}

fn want(attrs: &[(&str, Value)]) -> Want {
    Want::InScope(Wanted {
        attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        ..Wanted::default()
    })
}

fn want_with(attrs: &[(&str, Value)], create_only: &[&str], pending: Option<&str>) -> Want {
    Want::InScope(Wanted {
        attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        create_only: create_only.iter().map(|s| s.to_string()).collect(),
        pending_ref: pending.map(String::from),
    })
}

const OUT: Want = Want::OutOfScope("the user is disabled in the directory");

#[track_caller]
fn check(want: Want, found: Found<'_>, rules: Rules, expected: &str) {
    assert_eq!(summary(&decide(&want, found, rules)), expected);
}

#[test]
fn out_of_scope() {
    let on = shadow(true, &[("userName", json!("a")), ("active", json!(true))], None);
    let off = shadow(false, &[("userName", json!("a")), ("active", json!(false))], None);
    check(OUT, Found::Shadow(&on), ON, "Disable t1");
    check(OUT, Found::Shadow(&off), ON, "Noop");
    check(OUT, Found::Nothing, ON, "Noop");
    check(OUT, Found::Shadow(&on), NO_CREATE, "Disable t1");
    check(OUT, Found::Shadow(&on), NO_UPDATE, "Disable t1");
    check(OUT, Found::Shadow(&on), OFF, "Noop");
    check(Want::OutOfScope("the user is deleted in the directory"), Found::Shadow(&on), ON, "Disable t1");
    check(Want::OutOfScope("the user is not assigned to the application"), Found::Shadow(&on), ON, "Disable t1");
    check(Want::OutOfScope("the user does not match the scoping filter"), Found::Shadow(&off), ON, "Noop");
    let current = map(&[("active", json!(true))]);
    check(OUT, Found::InApp { id: "t9", current: &current }, ON, "Noop");
}

#[test]
fn no_account() {
    check(want(&[("userName", json!("a"))]), Found::Nothing, ON, r#"Create userName="a""#);
    check(
        want(&[("userName", json!("a")), ("active", json!(true))]),
        Found::Nothing,
        ON,
        r#"Create userName="a", active=true"#,
    );
    check(want(&[("userName", json!("a"))]), Found::Nothing, NO_CREATE, "Skip CreateNotAllowed");
    check(want(&[("userName", json!("a"))]), Found::Nothing, NO_UPDATE, r#"Create userName="a""#);
    check(want(&[("userName", json!("a"))]), Found::Nothing, OFF, "Noop");
    // Attributes applied only on creation go out on creation.
    check(
        want_with(&[("userName", json!("a")), ("nickName", json!("n"))], &["nickName"], None),
        Found::Nothing,
        ON,
        r#"Create userName="a", nickName="n""#,
    );
    // A pending manager does not hold the creation back.
    check(want_with(&[("userName", json!("a"))], &[], Some("m1")), Found::Nothing, ON, r#"Create userName="a""#);
}

#[test]
fn known_account_in_step() {
    let s = shadow(true, &[("userName", json!("a")), ("title", json!("Eng"))], None);
    check(want(&[("userName", json!("a")), ("title", json!("Eng"))]), Found::Shadow(&s), ON, "Noop");
    check(want(&[("userName", json!("a")), ("title", json!("Eng"))]), Found::Shadow(&s), NO_CREATE, "Noop");
    check(want(&[("userName", json!("a")), ("title", json!("Eng"))]), Found::Shadow(&s), NO_UPDATE, "Noop");
    // A manager that now has an account, or now lacks one, changes the shadow only.
    let waiting = shadow(true, &[("userName", json!("a"))], Some("m1"));
    check(want(&[("userName", json!("a"))]), Found::Shadow(&waiting), ON, "Record t1");
    check(want_with(&[("userName", json!("a"))], &[], Some("m1")), Found::Shadow(&waiting), ON, "Noop");
    check(
        want_with(&[("userName", json!("a"))], &[], Some("m1")),
        Found::Shadow(&s),
        ON,
        r#"Update t1 [remove title]"#,
    );
    let plain = shadow(true, &[("userName", json!("a"))], None);
    check(want_with(&[("userName", json!("a"))], &[], Some("m2")), Found::Shadow(&plain), ON, "Record t1");
}

#[test]
fn known_account_changes() {
    let s = shadow(true, &[("userName", json!("a")), ("title", json!("Eng"))], None);
    check(
        want(&[("userName", json!("a")), ("title", json!("Ops"))]),
        Found::Shadow(&s),
        ON,
        r#"Update t1 [replace title="Ops"]"#,
    );
    check(
        want(&[("userName", json!("b")), ("title", json!("Eng"))]),
        Found::Shadow(&s),
        ON,
        r#"Update t1 [replace userName="b"]"#,
    );
    check(
        want(&[("userName", json!("b")), ("title", json!("Ops"))]),
        Found::Shadow(&s),
        ON,
        r#"Update t1 [replace userName="b", replace title="Ops"]"#,
    );
    // A value the directory no longer has is removed.
    check(want(&[("userName", json!("a"))]), Found::Shadow(&s), ON, "Update t1 [remove title]");
    // A new attribute is added.
    check(
        want(&[("userName", json!("a")), ("title", json!("Eng")), ("displayName", json!("A"))]),
        Found::Shadow(&s),
        ON,
        r#"Update t1 [replace displayName="A"]"#,
    );
    check(
        want(&[("userName", json!("a")), ("title", json!("Ops"))]),
        Found::Shadow(&s),
        NO_CREATE,
        r#"Update t1 [replace title="Ops"]"#,
    );
    // Updates not allowed: nothing but `active` goes out.
    check(want(&[("userName", json!("a")), ("title", json!("Ops"))]), Found::Shadow(&s), NO_UPDATE, "Noop");
    check(want(&[("userName", json!("b"))]), Found::Shadow(&s), NO_UPDATE, "Noop");
    let active = shadow(true, &[("userName", json!("a")), ("active", json!(false))], None);
    check(
        want(&[("userName", json!("a")), ("active", json!(true))]),
        Found::Shadow(&active),
        NO_UPDATE,
        "Update t1 [replace active=true]",
    );
    // Off: nothing at all.
    check(want(&[("userName", json!("a")), ("title", json!("Ops"))]), Found::Shadow(&s), OFF, "Noop");
}

#[test]
fn on_create_only_attributes() {
    let s = shadow(true, &[("userName", json!("a")), ("nickName", json!("old"))], None);
    let w = |nick: &str, name: &str| {
        want_with(&[("userName", json!(name)), ("nickName", json!(nick))], &["nickName"], None)
    };
    check(w("new", "a"), Found::Shadow(&s), ON, "Noop");
    check(w("new", "b"), Found::Shadow(&s), ON, r#"Update t1 [replace userName="b"]"#);
    // Neither removed when the directory no longer has it.
    check(want_with(&[("userName", json!("a"))], &["nickName"], None), Found::Shadow(&s), ON, "Noop");
    let without = shadow(true, &[("userName", json!("a"))], None);
    check(w("new", "a"), Found::Shadow(&without), ON, "Noop");
    check(w("new", "a"), Found::Shadow(&s), NO_UPDATE, "Noop");
}

#[test]
fn returning_account_is_enabled() {
    let off = shadow(false, &[("userName", json!("a")), ("active", json!(false))], None);
    check(
        want(&[("userName", json!("a")), ("active", json!(true))]),
        Found::Shadow(&off),
        ON,
        "Enable t1 [replace active=true]",
    );
    check(
        want(&[("userName", json!("b")), ("active", json!(true))]),
        Found::Shadow(&off),
        ON,
        r#"Enable t1 [replace userName="b", replace active=true]"#,
    );
    check(
        want(&[("userName", json!("b")), ("active", json!(true))]),
        Found::Shadow(&off),
        NO_UPDATE,
        "Enable t1 [replace active=true]",
    );
    check(
        want(&[("userName", json!("a")), ("active", json!(true))]),
        Found::Shadow(&off),
        NO_CREATE,
        "Enable t1 [replace active=true]",
    );
    check(want(&[("userName", json!("a")), ("active", json!(true))]), Found::Shadow(&off), OFF, "Noop");
    // The mapping does not send `active`: the account is enabled all the same.
    check(want(&[("userName", json!("a"))]), Found::Shadow(&off), ON, "Enable t1 [replace active=true]");
    let off_without_active = shadow(false, &[("userName", json!("a"))], None);
    check(want(&[("userName", json!("a"))]), Found::Shadow(&off_without_active), ON, "Enable t1 [replace active=true]");
    check(
        want(&[("userName", json!("a"))]),
        Found::Shadow(&off_without_active),
        NO_UPDATE,
        "Enable t1 [replace active=true]",
    );
    // A shadow that says disabled but holds active=true (recorded from the app) still enables.
    let odd = shadow(false, &[("userName", json!("a")), ("active", json!(true))], None);
    check(
        want(&[("userName", json!("a")), ("active", json!(true))]),
        Found::Shadow(&odd),
        ON,
        "Enable t1 [replace active=true]",
    );
}

#[test]
fn account_matched_in_the_app() {
    let same = map(&[("userName", json!("a")), ("title", json!("Eng"))]);
    let other = map(&[("userName", json!("a")), ("title", json!("Old"))]);
    let found = |m| Found::InApp { id: "t9", current: m };
    // Adopted: the shadow is written even when nothing goes out.
    check(want(&[("userName", json!("a")), ("title", json!("Eng"))]), found(&same), ON, "Record t9");
    check(
        want(&[("userName", json!("a")), ("title", json!("Eng"))]),
        found(&other),
        ON,
        r#"Update t9 [replace title="Eng"]"#,
    );
    check(want(&[("userName", json!("a")), ("title", json!("Eng"))]), found(&other), NO_UPDATE, "Record t9");
    check(
        want(&[("userName", json!("a")), ("title", json!("Eng"))]),
        found(&other),
        NO_CREATE,
        r#"Update t9 [replace title="Eng"]"#,
    );
    check(want(&[("userName", json!("a"))]), found(&same), ON, "Update t9 [remove title]");
    // An account matched in the app is never taken for a returning one.
    let inactive = map(&[("userName", json!("a")), ("active", json!(false))]);
    check(
        want(&[("userName", json!("a")), ("active", json!(true))]),
        found(&inactive),
        ON,
        "Update t9 [replace active=true]",
    );
    check(
        want_with(&[("userName", json!("a")), ("nickName", json!("n"))], &["nickName"], None),
        found(&same),
        ON,
        "Update t9 [remove title]",
    );
}

#[test]
fn multi_valued_and_extension_attributes() {
    let s = shadow(true, &[("emails[type eq \"work\"].value", json!("a@x"))], None);
    check(want(&[("emails[type eq \"work\"].value", json!("a@x"))]), Found::Shadow(&s), ON, "Noop");
    check(
        want(&[("emails[type eq \"work\"].value", json!("b@x"))]),
        Found::Shadow(&s),
        ON,
        r#"Update t1 [replace emails[type eq "work"].value="b@x"]"#,
    );
    check(want(&[]), Found::Shadow(&s), ON, r#"Update t1 [remove emails[type eq "work"]]"#);
    let mgr = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let e = shadow(true, &[(mgr, json!("t5"))], None);
    check(want(&[(mgr, json!("t5"))]), Found::Shadow(&e), ON, "Noop");
    // A reference goes out as the complex value SCIM defines.
    check(
        want(&[(mgr, json!("t6"))]),
        Found::Shadow(&e),
        ON,
        &format!(r#"Update t1 [replace {mgr}={{"value":"t6"}}]"#),
    );
}

#[test]
fn the_shadow_after_a_plan_is_what_the_app_holds() {
    let s = shadow(true, &[("userName", json!("a")), ("title", json!("Eng")), ("nickName", json!("n"))], None);
    let w =
        want_with(&[("userName", json!("a")), ("title", json!("Ops")), ("nickName", json!("z"))], &["nickName"], None);
    let Plan::Update { exported, changes, .. } = decide(&w, Found::Shadow(&s), ON) else { panic!("an update") };
    assert_eq!(exported, map(&[("userName", json!("a")), ("title", json!("Ops")), ("nickName", json!("n"))]));
    assert_eq!(changes, vec![roster_store::ModifiedProperty::new("title", "Eng", "Ops")]);
    let active = shadow(true, &[("userName", json!("a")), ("title", json!("Eng")), ("active", json!(false))], None);
    let w = want(&[("userName", json!("b")), ("title", json!("Ops")), ("active", json!(true))]);
    let Plan::Update { exported, .. } = decide(&w, Found::Shadow(&active), NO_UPDATE) else { panic!("an update") };
    assert_eq!(exported, map(&[("userName", json!("a")), ("title", json!("Eng")), ("active", json!(true))]));
    let off = shadow(false, &[("userName", json!("a"))], None);
    let Plan::Enable { exported, .. } = decide(&want(&[("userName", json!("a"))]), Found::Shadow(&off), ON) else {
        panic!("an enable")
    };
    assert_eq!(exported, map(&[("userName", json!("a")), ("active", json!(true))]));
}

#[test]
fn users_are_never_deleted() {
    let on = shadow(true, &[("userName", json!("a"))], None);
    check(OUT, Found::Shadow(&on), USER_DELETE, "Disable t1");
    check(
        Want::OutOfScope("the user no longer exists in the directory"),
        Found::Shadow(&on),
        USER_DELETE,
        "Disable t1",
    );
}

fn group(enabled: bool, exported: &[(&str, Value)]) -> ShadowEntry {
    ShadowEntry { object_kind: ObjectKind::Group, source_id: "g1".into(), ..shadow(enabled, exported, None) }
}

const GONE: Want = Want::OutOfScope("the group is not assigned to the application");

#[test]
fn groups_out_of_scope() {
    let on = group(true, &[("displayName", json!("Sales"))]);
    let off = group(false, &[("displayName", json!("Sales"))]);
    // Deleted only when deletes are on; otherwise left in the app.
    check(GONE, Found::Shadow(&on), GROUPS_DELETE, "Delete t1");
    check(GONE, Found::Shadow(&on), GROUPS, "Leave t1");
    check(GONE, Found::Shadow(&off), GROUPS_DELETE, "Noop");
    check(GONE, Found::Shadow(&off), GROUPS, "Noop");
    check(GONE, Found::Nothing, GROUPS_DELETE, "Noop");
    check(GONE, Found::Shadow(&on), GROUPS_OFF, "Noop");
    let current = map(&[("displayName", json!("Sales"))]);
    check(GONE, Found::InApp { id: "t9", current: &current }, GROUPS_DELETE, "Noop");
}

#[test]
fn groups_in_scope() {
    let sales = || want(&[("displayName", json!("Sales"))]);
    check(sales(), Found::Nothing, GROUPS, r#"Create displayName="Sales""#);
    check(sales(), Found::Nothing, GROUPS_NO_CREATE, "Skip CreateNotAllowed");
    check(sales(), Found::Nothing, GROUPS_OFF, "Noop");
    let on = group(true, &[("displayName", json!("Sales"))]);
    check(sales(), Found::Shadow(&on), GROUPS, "Noop");
    // Renamed in the directory.
    check(
        want(&[("displayName", json!("Field sales"))]),
        Found::Shadow(&on),
        GROUPS,
        r#"Update t1 [replace displayName="Field sales"]"#,
    );
    check(want(&[("displayName", json!("Field sales"))]), Found::Shadow(&on), GROUPS_NO_UPDATE, "Noop");
    // A group left in the app and back in scope is provisioned again, never "enabled".
    let off = group(false, &[("displayName", json!("Sales"))]);
    check(sales(), Found::Shadow(&off), GROUPS, "Record t1");
    check(sales(), Found::Shadow(&off), GROUPS_NO_UPDATE, "Record t1");
    check(
        want(&[("displayName", json!("Field sales"))]),
        Found::Shadow(&off),
        GROUPS,
        r#"Update t1 [replace displayName="Field sales"]"#,
    );
    // Matched in the app: adopted, with what differs.
    let current = map(&[("displayName", json!("sales"))]);
    check(sales(), Found::InApp { id: "t9", current: &current }, GROUPS, r#"Update t9 [replace displayName="Sales"]"#);
    let same = map(&[("displayName", json!("Sales"))]);
    check(sales(), Found::InApp { id: "t9", current: &same }, GROUPS, "Record t9");
    check(sales(), Found::InApp { id: "t9", current: &current }, GROUPS_NO_UPDATE, "Record t9");
    // An attribute applied only on creation is neither sent nor removed.
    let with_code = group(true, &[("displayName", json!("Sales")), ("externalId", json!("x1"))]);
    check(
        want_with(&[("displayName", json!("Sales")), ("externalId", json!("x2"))], &["externalId"], None),
        Found::Shadow(&with_code),
        GROUPS,
        "Noop",
    );
    check(
        want_with(&[("displayName", json!("Sales"))], &["externalId"], None),
        Found::Shadow(&with_code),
        GROUPS,
        "Noop",
    );
}
