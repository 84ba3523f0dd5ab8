//! Table-driven tests of attribute mappings: validation at compile time,
//! evaluation rules (nulls, defaults, OnCreateOnly, IgnoreFlow), the
//! default SCIM mappings and the JSON shape.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::defaults::{scim_app_mappings, scim_group_mapping, scim_user_mapping};
use crate::value::MapSource;
use crate::USER_SOURCE_ATTRIBUTES;

fn ctx() -> EvalContext<'static> {
    EvalContext::at(Utc.with_ymd_and_hms(2021, 7, 2, 15, 33, 38).single().unwrap_or_default())
}

fn map(target: &str, mapping: MappingType) -> AttributeMapping {
    AttributeMapping {
        target: target.into(),
        mapping,
        default_value: None,
        apply: ApplyMapping::Always,
        matching_precedence: None,
    }
}
fn direct(target: &str, source: &str) -> AttributeMapping {
    map(target, MappingType::Direct { source: source.into() })
}
fn expr(target: &str, expression: &str) -> AttributeMapping {
    map(target, MappingType::Expression { expression: expression.into() })
}
fn constant(target: &str, value: &str) -> AttributeMapping {
    map(target, MappingType::Constant { value: value.into() })
}
fn none(target: &str) -> AttributeMapping {
    map(target, MappingType::None)
}
fn default(mut m: AttributeMapping, v: &str) -> AttributeMapping {
    m.default_value = Some(v.into());
    m
}
fn create_only(mut m: AttributeMapping) -> AttributeMapping {
    m.apply = ApplyMapping::OnCreateOnly;
    m
}
fn matching(mut m: AttributeMapping, p: u32) -> AttributeMapping {
    m.matching_precedence = Some(p);
    m
}
fn users(attributes: Vec<AttributeMapping>) -> ObjectMapping {
    ObjectMapping {
        name: "Provision users".into(),
        enabled: true,
        source_object: SourceObjectType::User,
        target_object: "User".into(),
        actions: TargetActions::default(),
        scoping: ScopingFilter::default(),
        attributes,
    }
}

fn user() -> MapSource {
    MapSource::new()
        .with("userName", "john@contoso.com")
        .with("givenName", "John")
        .with("surname", "Doe")
        .with("mail", "")
        .with("IsSoftDeleted", false)
        .with("objectId", "7f0c")
}

/// Compiles `mapping` against the user attributes and evaluates it for
/// `src`. `Ok` lists the (target, JSON value) pairs sent, OnCreateOnly ones
/// marked with a trailing `*`; `Err` lists the error messages (compile or
/// evaluation).
fn check(
    mapping: ObjectMapping,
    src: &MapSource,
    on_create: bool,
    expected: Result<&[(&str, serde_json::Value)], &[&str]>,
) {
    let got = mapping
        .compile(USER_SOURCE_ATTRIBUTES)
        .map_err(|es| es.iter().map(ToString::to_string).collect::<Vec<_>>())
        .and_then(|c| c.evaluate(src, &ctx(), on_create).map_err(|e| vec![e.to_string()]))
        .map(|attrs| {
            attrs
                .into_iter()
                .map(|a| {
                    let star = if a.apply == ApplyMapping::OnCreateOnly { "*" } else { "" };
                    (format!("{}{star}", a.target), a.value.to_json())
                })
                .collect::<Vec<_>>()
        });
    let expected = expected
        .map(|v| v.iter().map(|(t, j)| (t.to_string(), j.clone())).collect::<Vec<_>>())
        .map_err(|v| v.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    assert_eq!(got, expected);
}

#[test]
fn evaluation_rules() {
    let u = user();
    let id = || matching(direct("userName", "userName"), 1);
    check(users(vec![id(), direct("title", "jobTitle")]), &u, true, Ok(&[("userName", json!("john@contoso.com"))]));
    check(users(vec![id(), direct("emails", "mail")]), &u, true, Ok(&[("userName", json!("john@contoso.com"))]));
    check(
        users(vec![id(), default(direct("title", "jobTitle"), "Staff")]),
        &u,
        true,
        Ok(&[("userName", json!("john@contoso.com")), ("title", json!("Staff"))]),
    );
    check(
        users(vec![id(), default(direct("title", "jobTitle"), "Staff")]),
        &u,
        false,
        Ok(&[("userName", json!("john@contoso.com"))]),
    );
    check(
        users(vec![id(), default(direct("name.givenName", "GIVENNAME"), "X")]),
        &u,
        true,
        Ok(&[("userName", json!("john@contoso.com")), ("name.givenName", json!("John"))]),
    );
    check(
        users(vec![id(), default(none("userType"), "Member")]),
        &u,
        true,
        Ok(&[("userName", json!("john@contoso.com")), ("userType", json!("Member"))]),
    );
    check(users(vec![id(), none("userType")]), &u, true, Ok(&[("userName", json!("john@contoso.com"))]));
    check(
        users(vec![id(), constant("userType", "Employee")]),
        &u,
        false,
        Ok(&[("userName", json!("john@contoso.com")), ("userType", json!("Employee"))]),
    );
    check(
        users(vec![id(), create_only(expr("password", "Append([givenName], \"!1\")"))]),
        &u,
        false,
        Ok(&[("userName", json!("john@contoso.com")), ("password*", json!("John!1"))]),
    );
    check(
        users(vec![id(), default(expr("title", "IgnoreFlowIfNullOrEmpty([jobTitle])"), "Staff")]),
        &u,
        true,
        Ok(&[("userName", json!("john@contoso.com"))]),
    );
    check(
        users(vec![id(), expr("active", "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")")]),
        &u,
        false,
        Ok(&[("userName", json!("john@contoso.com")), ("active", json!("True"))]),
    );
    check(
        users(vec![id(), expr("hired", "CDate([employeeHireDate])")]),
        &u.clone().with("employeeHireDate", "2012-03-16-07:00"),
        false,
        Ok(&[("userName", json!("john@contoso.com")), ("hired", json!("2012-03-16T07:00:00Z"))]),
    );
    check(
        users(vec![id(), direct("x", "extension_abc_costCenter")]),
        &u.clone().with("extension_abc_costCenter", 42),
        false,
        Ok(&[("userName", json!("john@contoso.com")), ("x", json!(42))]),
    );
    check(
        users(vec![id(), direct("phones", "businessPhones")]),
        &u.clone().with("businessPhones", vec!["", "1"]),
        false,
        Ok(&[("userName", json!("john@contoso.com")), ("phones", json!(["1"]))]),
    );
    check(
        users(vec![id(), expr("roles", "SingleAppRoleAssignment([appRoleAssignments])")]),
        &u,
        false,
        Ok(&[("userName", json!("john@contoso.com"))]),
    );
    check(users(vec![id(), expr("hired", "CDate([givenName])")]), &u, false, Err(&["target attribute hired: CDate: cannot read \"John\" as a date: expected ISO-8601 (2012-03-16T07:00:00Z, 2012-03-16-07:00), generalized time (20150123105347.1Z) or M/d/yyyy h:mm:ss tt"]));
}

#[test]
fn validation_errors() {
    let u = user();
    let id = || matching(direct("userName", "userName"), 1);
    check(
        users(vec![id(), direct("title", "jobtitel")]),
        &u,
        true,
        Err(&["target attribute title: unknown source attribute \"jobtitel\""]),
    );
    check(
        users(vec![id(), expr("name.formatted", "Join(\" \", [givenName], [lastName])")]),
        &u,
        true,
        Err(&["target attribute name.formatted: unknown source attribute \"lastName\""]),
    );
    check(users(vec![id(), expr("title", "Left([jobTitle] 3)")]), &u, true, Err(&["target attribute title: invalid expression: at character 16: expected ',' or ')' in the arguments of Left, found number 3"]));
    check(
        users(vec![direct("userName", "userName")]),
        &u,
        true,
        Err(&[
            "object mapping \"Provision users\" has no matching attribute (set matchingPrecedence 1 on one attribute)",
        ]),
    );
    check(
        users(vec![id(), direct("USERNAME", "mail")]),
        &u,
        true,
        Err(&["target attribute USERNAME is mapped more than once"]),
    );
    check(
        users(vec![id(), matching(direct("externalId", "objectId"), 1)]),
        &u,
        true,
        Err(&["matching precedence 1 is given to both userName and externalId"]),
    );
    check(
        users(vec![id(), matching(none("emails"), 2)]),
        &u,
        true,
        Err(&["target attribute emails cannot be a matching attribute: it has no source (mapping type None)"]),
    );
    check(users(vec![matching(expr("userName", "SelectUniqueValue([mail], [userName])"), 1)]), &u, true, Err(&["target attribute userName cannot be a matching attribute: SelectUniqueValue cannot be used on a matching attribute"]));
    check(users(vec![id(), direct(" ", "mail")]), &u, true, Err(&["attribute mapping 2 has no target attribute"]));
    let mut scoped = users(vec![id()]);
    scoped.scoping.groups.push(crate::scoping::ScopingClauseGroup {
        clauses: vec![crate::scoping::ScopingClause {
            attribute: "dept".into(),
            operator: crate::scoping::ScopingOperator::RegexMatch,
            value: Some("(".into()),
        }],
    });
    let regex_error = match crate::scoping::ScopingFilter::compile(&scoped.scoping) {
        Err(e) => format!("scoping filter: {e}"),
        Ok(_) => String::new(),
    };
    check(
        scoped,
        &u,
        true,
        Err(&[regex_error.as_str(), "target attribute scoping filter: unknown source attribute \"dept\""]),
    );
    let mut disabled = users(vec![direct("userName", "userName")]);
    disabled.enabled = false;
    check(disabled, &u, true, Ok(&[("userName", json!("john@contoso.com"))]));
}

#[test]
fn invalid_expression_error_points_at_the_position() {
    let m = users(vec![matching(expr("userName", "Join(\" \", Fooo([a]))"), 1)]);
    let errors = m.compile(USER_SOURCE_ATTRIBUTES).err().unwrap_or_default();
    let rendered: Vec<String> = errors
        .iter()
        .filter_map(|e| match e {
            MappingValidationError::InvalidExpression { expression, error, .. } => Some(error.render(expression)),
            _ => None,
        })
        .collect();
    assert_eq!(rendered, vec!["Join(\" \", Fooo([a]))\n          ^ unknown function Fooo".to_string()]);
}

#[test]
fn default_user_mapping() {
    let src = MapSource::new()
        .with("userName", "zoe@contoso.com")
        .with("displayName", "Zoë Saldaña")
        .with("givenName", "Zoë")
        .with("surname", "Saldaña")
        .with("jobTitle", "Engineer")
        .with("mail", "zoe@contoso.com")
        .with("preferredLanguage", "en-US")
        .with("officeLocation", "B41")
        .with("streetAddress", "1 Main St")
        .with("city", "Redmond")
        .with("state", "WA")
        .with("postalCode", "98052")
        .with("country", "US")
        .with("businessPhones", vec!["+1 425 555 0100", "+1 425 555 0199"])
        .with("mobile", "+1 425 555 0101")
        .with("mailNickname", "")
        .with("objectId", "7f0c")
        .with("employeeId", "E42")
        .with("department", "R&D")
        .with("manager", "11aa")
        .with("IsSoftDeleted", true);
    let e = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let expected = [
        ("userName", json!("zoe@contoso.com")),
        ("active", json!("False")),
        ("displayName", json!("Zoë Saldaña")),
        ("title", json!("Engineer")),
        ("emails[type eq \"work\"].value", json!("zoe@contoso.com")),
        ("preferredLanguage", json!("en-US")),
        ("name.givenName", json!("Zoë")),
        ("name.familyName", json!("Saldaña")),
        ("name.formatted", json!("Zoë Saldaña")),
        ("addresses[type eq \"work\"].formatted", json!("B41")),
        ("addresses[type eq \"work\"].streetAddress", json!("1 Main St")),
        ("addresses[type eq \"work\"].locality", json!("Redmond")),
        ("addresses[type eq \"work\"].postalCode", json!("98052")),
        ("addresses[type eq \"work\"].country", json!("US")),
        ("phoneNumbers[type eq \"work\"].value", json!("+1 425 555 0100")),
        ("phoneNumbers[type eq \"mobile\"].value", json!("+1 425 555 0101")),
        ("externalId", json!("7f0c")),
        (&format!("{e}:employeeNumber"), json!("E42")),
        (&format!("{e}:department"), json!("R&D")),
        (&format!("{e}:manager"), json!("11aa")),
    ];
    check(scim_user_mapping(), &src, true, Ok(&expected));
    let minimal = MapSource::new().with("userName", "a@b.c").with("mailNickname", "a").with("IsSoftDeleted", false);
    let expected = [("userName", json!("a@b.c")), ("active", json!("True")), ("externalId", json!("a"))];
    check(scim_user_mapping(), &minimal, true, Ok(&expected));
}

#[test]
fn default_group_mapping_and_matching() {
    let compiled = scim_group_mapping().compile(crate::GROUP_SOURCE_ATTRIBUTES);
    let src = MapSource::new().with("displayName", "Sales").with("objectId", "g1").with("members", vec!["u1", "u2"]);
    let got = compiled
        .as_ref()
        .map_err(|e| format!("{e:?}"))
        .and_then(|c| c.evaluate(&src, &ctx(), true).map_err(|e| e.to_string()));
    let got: Result<Vec<(String, serde_json::Value)>, String> =
        got.map(|v| v.into_iter().map(|a| (a.target, a.value.to_json())).collect());
    let expected = vec![
        ("displayName".to_string(), json!("Sales")),
        ("externalId".into(), json!("g1")),
        ("members".into(), json!(["u1", "u2"])),
    ];
    assert_eq!(got, Ok(expected));
    assert_eq!(compiled.as_ref().map(|c| c.matching_attributes()).ok(), Some(vec![(1, "displayName")]));
    assert!(compiled.as_ref().is_ok_and(|c| c.in_scope(&src)));
    let user = scim_user_mapping().compile(USER_SOURCE_ATTRIBUTES);
    let values = user
        .as_ref()
        .map_err(|e| format!("{e:?}"))
        .and_then(|c| c.matching_values(&src.clone().with("userName", "x"), &ctx()).map_err(|e| e.to_string()));
    assert_eq!(values.map(|v| v.into_iter().map(|a| a.target).collect::<Vec<_>>()), Ok(vec!["userName".to_string()]));
    assert!(scim_app_mappings().compile().is_ok());
}

#[test]
fn json_shape() {
    let m = users(vec![
        matching(direct("userName", "userName"), 1),
        create_only(default(constant("userType", "Member"), "x")),
        expr("displayName", "Join(\" \", [givenName], [surname])"),
        none("nickName"),
    ]);
    let expected = json!({
        "name": "Provision users", "enabled": true, "sourceObject": "user", "targetObject": "User",
        "actions": {"create": true, "update": true, "delete": false},
        "scoping": {"groups": []},
        "attributes": [
            {"target": "userName", "mapping": {"type": "direct", "source": "userName"}, "apply": "always", "matchingPrecedence": 1},
            {"target": "userType", "mapping": {"type": "constant", "value": "Member"}, "defaultValue": "x", "apply": "onCreateOnly"},
            {"target": "displayName", "mapping": {"type": "expression", "expression": "Join(\" \", [givenName], [surname])"}, "apply": "always"},
            {"target": "nickName", "mapping": {"type": "none"}, "apply": "always"}
        ]
    });
    assert_eq!(serde_json::to_value(&m).ok(), Some(expected.clone()));
    assert_eq!(serde_json::from_value::<ObjectMapping>(expected).ok(), Some(m));
    let minimal = json!({"sourceObject": "group", "name": "g", "targetObject": "Group", "attributes": []});
    let parsed = serde_json::from_value::<ObjectMapping>(minimal).map_err(|e| e.to_string());
    assert_eq!(parsed.map(|m| (m.enabled, m.actions, m.scoping.groups.len())), Ok((true, TargetActions::default(), 0)));
    let app = scim_app_mappings();
    let text = serde_json::to_string(&app).unwrap_or_default();
    assert_eq!(serde_json::from_str::<AppMappings>(&text).ok(), Some(app));
}

#[test]
fn targets_must_be_attribute_paths() {
    fn check(target: &str, ok: bool) {
        assert_eq!(super::check_target_path(target).is_ok(), ok, "{target:?}: {:?}", super::check_target_path(target));
    }
    check("userName", true);
    check("name.givenName", true);
    check("emails[type eq \"work\"].value", true);
    check("addresses[type eq \"work\"].streetAddress", true);
    check("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", true);
    check("members.$ref", true);
    check("FederationIdentifier", true);
    check("given_name", true);
    check("éaaaaaaa", false);
    check("aaaaaaé", false);
    check("user name", false);
    check("1st", false);
    check("name.", false);
    check("emails[type eq \"work\"", false);
    check("notaurn:manager", false);
    check("urn:x:é:manager", false);
}
