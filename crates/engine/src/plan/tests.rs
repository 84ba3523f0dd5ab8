use super::*;

#[test]
fn a_cursor_names_its_phase_and_its_last_id() {
    assert_eq!(parse_cursor(None).ok(), Some((1, String::new(), 0)));
    assert_eq!(parse_cursor(Some("")).ok(), Some((1, String::new(), 0)));
    assert_eq!(parse_cursor(Some("1:#3")).ok(), Some((1, String::new(), 3)));
    assert_eq!(parse_cursor(Some("2:u-1#12")).ok(), Some((2, "u-1".to_string(), 12)));
    assert_eq!(parse_cursor(Some("4:g:with#hash#7")).ok(), Some((4, "g:with#hash".to_string(), 7)));
    for bad in ["5:x#1", "x", "1", ":1", "é:1#1", "1:u-1", "1:u-1#", "1:u-1#-1", "1:u-1#x"] {
        assert!(parse_cursor(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn the_summary_counts_actions_attributes_members_and_requests() {
    let change = |action, modified: Vec<ModifiedProperty>, requests: usize| PlannedChange {
        cursor: "1:a".into(),
        object: "user".into(),
        source_id: "a".into(),
        name: None,
        target_id: None,
        action,
        steps: Vec::new(),
        modified,
        requests: (0..requests)
            .map(|_| PlanRequest { method: "PATCH".into(), path: "/x".into(), body: None, note: None })
            .collect(),
    };
    let prop = |name: &str, old: Value, new: Value| ModifiedProperty::new(name, old, new);
    let mut s = PlanSummary::default();
    tally(&mut s, &change(LogAction::Create, vec![prop("title", Value::Null, "x".into())], 1));
    tally(&mut s, &change(LogAction::Update, vec![prop("title", "a".into(), "b".into())], 1));
    tally(
        &mut s,
        &change(
            LogAction::Enable,
            vec![prop("title", "a".into(), "b".into()), prop("active", false.into(), true.into())],
            2,
        ),
    );
    tally(&mut s, &change(LogAction::Disable, vec![prop("active", true.into(), false.into())], 1));
    tally(
        &mut s,
        &change(LogAction::Update, vec![prop("members", serde_json::json!(["1"]), serde_json::json!(["2", "3"]))], 1),
    );
    tally(&mut s, &change(LogAction::Skip, Vec::new(), 0));
    assert_eq!((s.creates, s.updates, s.enables, s.disables, s.skips), (1, 2, 1, 1, 1));
    assert_eq!(s.requests, 6);
    assert_eq!(s.member_changes, 3);
    assert_eq!(s.updates_by_attribute.get("title"), Some(&2));
    assert_eq!(s.updates_by_attribute.get("active"), Some(&1));
    assert_eq!(s.updates_by_attribute.get("members"), None);
}
