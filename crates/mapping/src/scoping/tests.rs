//! Table-driven tests of scoping filters: every operator on present,
//! missing, multi-valued and mistyped values; AND/OR of clauses;
//! validation; the wire names of operators.

use super::*;
use crate::value::MapSource;

/// One clause `[x] <operator> <operand>` on an object whose `x` is `value`.
fn check(value: Value, operator: &str, operand: Option<&str>, expected: bool) {
    let operator: ScopingOperator = match operator.parse() {
        Ok(op) => op,
        Err(e) => panic!("{e}"),
    };
    let filter = ScopingFilter {
        groups: vec![ScopingClauseGroup {
            clauses: vec![ScopingClause { attribute: "x".into(), operator, value: operand.map(str::to_string) }],
        }],
    };
    let src = MapSource::new().with("X", value.clone());
    let compiled = filter.compile().map(|f| f.matches(&src));
    assert_eq!(compiled, Ok(expected), "[x]={value:?} {operator} {operand:?}");
    assert_eq!(filter.matches(&src), expected);
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn l(v: &[&str]) -> Value {
    Value::from(v.to_vec())
}

const NULL: Value = Value::Null;

#[test]
fn operators() {
    check(s("Sales"), "EQUALS", Some("sales"), true);
    check(s("Sales"), "EQUALS", Some("Sale"), false);
    check(s("Zoë"), "EQUALS", Some("ZOË"), true);
    check(Value::Int(5), "EQUALS", Some("5"), true);
    check(Value::Bool(true), "EQUALS", Some("true"), true);
    check(l(&["a", "b"]), "EQUALS", Some("B"), true);
    check(NULL, "EQUALS", Some("x"), false);
    check(s(""), "EQUALS", Some(""), false);
    check(s("Sales"), "NOT EQUALS", Some("SALES"), false);
    check(s("Sales"), "NOT EQUALS", Some("HR"), true);
    check(l(&["a", "b"]), "NOT EQUALS", Some("b"), false);
    check(l(&["a", "b"]), "NOT EQUALS", Some("c"), true);
    check(NULL, "NOT EQUALS", Some("x"), false);
    check(Value::Bool(true), "IS TRUE", None, true);
    check(s("TRUE"), "IS TRUE", None, true);
    check(Value::Bool(false), "IS TRUE", None, false);
    check(s("yes"), "IS TRUE", None, false);
    check(NULL, "IS TRUE", None, false);
    check(Value::Bool(false), "IS FALSE", None, true);
    check(s("False"), "IS FALSE", None, true);
    check(Value::Bool(true), "IS FALSE", None, false);
    check(NULL, "IS FALSE", None, false);
    check(NULL, "IS NULL", None, true);
    check(s(""), "IS NULL", None, true);
    check(l(&[]), "IS NULL", None, true);
    check(s("a"), "IS NULL", None, false);
    check(Value::Bool(false), "IS NULL", None, false);
    check(NULL, "IS NOT NULL", None, false);
    check(s(""), "IS NOT NULL", None, false);
    check(s("a"), "IS NOT NULL", None, true);
    check(s("42"), "REGEX MATCH", Some("([1-9][0-9])"), true);
    check(s("x7"), "REGEX MATCH", Some("([1-9][0-9])"), false);
    check(s("Sales"), "REGEX MATCH", Some("^sales$"), false);
    check(s("Sales"), "REGEX MATCH", Some("(?i)^sales$"), true);
    check(l(&["a", "b1"]), "REGEX MATCH", Some("\\d"), true);
    check(NULL, "REGEX MATCH", Some(".*"), false);
    check(s("Sales"), "NOT REGEX MATCH", Some("^HR"), true);
    check(s("HR-1"), "NOT REGEX MATCH", Some("^HR"), false);
    check(l(&["a", "b1"]), "NOT REGEX MATCH", Some("\\d"), false);
    check(NULL, "NOT REGEX MATCH", Some("^HR"), false);
    check(Value::Int(10), "Greater_Than", Some("9"), true);
    check(s("10"), "Greater_Than", Some("10"), false);
    check(s("ten"), "Greater_Than", Some("9"), false);
    check(NULL, "Greater_Than", Some("9"), false);
    check(s("10"), "Greater_Than_OR_EQUALS", Some("10"), true);
    check(s("-3"), "Greater_Than_OR_EQUALS", Some("0"), false);
    check(Value::Int(-3), "Less_Than", Some("0"), true);
    check(Value::Int(0), "Less_Than", Some("0"), false);
    check(Value::Int(0), "Less_Than_OR_EQUALS", Some("0"), true);
    check(s("1.5"), "Less_Than_OR_EQUALS", Some("2"), false);
    check(NULL, "Less_Than_OR_EQUALS", Some("2"), false);
    check(l(&["Admins", "Sales"]), "Includes", Some("sales"), true);
    check(l(&["Admins", "Sales"]), "Includes", Some("sale"), false);
    check(s("North Sales"), "Includes", Some("SALES"), true);
    check(s("North"), "Includes", Some("south"), false);
    check(NULL, "Includes", Some("x"), false);
    check(s("john@Contoso.com"), "ENDS_WITH", Some("@contoso.COM"), true);
    check(s("john@contoso.com.evil"), "ENDS_WITH", Some("@contoso.com"), false);
    check(l(&["a@x.com", "b@y.com"]), "ENDS_WITH", Some("y.com"), true);
    check(NULL, "ENDS_WITH", Some("x"), false);
    check(Value::Int(514), "&", Some("2"), true);
    check(s("512"), "&", Some("2"), false);
    check(s("abc"), "&", Some("2"), false);
    check(NULL, "&", Some("2"), false);
    check(Value::Int(512), "!&", Some("2"), true);
    check(Value::Int(514), "!&", Some("2"), false);
    check(s("abc"), "!&", Some("2"), false);
    check(NULL, "!&", Some("2"), false);
}

#[test]
fn operator_names_round_trip() {
    for (op, name) in OPERATOR_NAMES {
        assert_eq!(op.as_str(), *name);
        assert_eq!(name.parse::<ScopingOperator>(), Ok(*op));
        assert_eq!(name.to_lowercase().parse::<ScopingOperator>(), Ok(*op));
        let json = serde_json::to_string(op).unwrap_or_default();
        assert_eq!(json, format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<ScopingOperator>(&json).ok(), Some(*op));
    }
    assert_eq!("not_equals".parse(), Ok(ScopingOperator::NotEquals));
    assert_eq!("greater than or equals".parse(), Ok(ScopingOperator::GreaterThanOrEquals));
    assert!("LIKE".parse::<ScopingOperator>().is_err());
    assert!(serde_json::from_str::<ScopingOperator>("\"LIKE\"").is_err());
}

fn clause(attribute: &str, operator: ScopingOperator, value: Option<&str>) -> ScopingClause {
    ScopingClause { attribute: attribute.into(), operator, value: value.map(str::to_string) }
}

#[test]
fn groups_are_ored_and_clauses_anded() {
    use ScopingOperator::*;
    let filter = ScopingFilter {
        groups: vec![
            ScopingClauseGroup {
                clauses: vec![clause("department", Equals, Some("Sales")), clause("country", Equals, Some("US"))],
            },
            ScopingClauseGroup { clauses: vec![clause("jobTitle", EndsWith, Some("manager"))] },
        ],
    };
    let compiled = filter.compile();
    let matches = |src: MapSource| compiled.as_ref().is_ok_and(|f| f.matches(&src));
    assert!(matches(MapSource::new().with("department", "sales").with("country", "us")));
    assert!(!matches(MapSource::new().with("department", "sales").with("country", "FR")));
    assert!(matches(MapSource::new().with("jobTitle", "Store Manager")));
    assert!(!matches(MapSource::new()));
    assert!(ScopingFilter::all().matches(&MapSource::new()));
    assert_eq!(filter.attributes(), vec!["department", "country", "jobTitle"]);
}

#[test]
fn validation() {
    use ScopingOperator::*;
    let one = |c: ScopingClause| ScopingFilter { groups: vec![ScopingClauseGroup { clauses: vec![c] }] };
    let err = |f: ScopingFilter| f.validate().err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(err(one(clause("x", Equals, None))), "scoping clause 1.1 ([x] EQUALS) needs a value");
    assert!(err(one(clause("x", RegexMatch, Some("("))))
        .starts_with("scoping clause 1.1 ([x] REGEX MATCH): invalid regex \"(\""));
    assert_eq!(
        err(one(clause("x", GreaterThan, Some("ten")))),
        "scoping clause 1.1 ([x] Greater_Than): \"ten\" is not an integer"
    );
    assert_eq!(err(one(clause("x", BitAnd, Some("")))), "scoping clause 1.1 ([x] &): \"\" is not an integer");
    assert_eq!(err(one(clause(" ", IsNull, None))), "scoping clause 1.1 names no attribute");
    assert_eq!(err(ScopingFilter { groups: vec![ScopingClauseGroup::default()] }), "scoping group 1 has no clauses");
    assert_eq!(one(clause("x", IsTrue, None)).validate(), Ok(()));
    assert!(!one(clause("x", RegexMatch, Some("("))).matches(&MapSource::new().with("x", "(")));
}

#[test]
fn json_shape() {
    let json = serde_json::json!({"groups": [{"clauses": [
        {"attribute": "department", "operator": "equals", "value": "Sales"},
        {"attribute": "accountEnabled", "operator": "IS TRUE"}
    ]}]});
    let filter: Result<ScopingFilter, _> = serde_json::from_value(json);
    let filter = filter.map_err(|e| e.to_string());
    assert_eq!(filter.as_ref().map(|f| f.groups[0].clauses[0].operator), Ok(ScopingOperator::Equals));
    let back = filter.map(|f| serde_json::to_value(f).unwrap_or_default());
    let expected = serde_json::json!({"groups": [{"clauses": [
        {"attribute": "department", "operator": "EQUALS", "value": "Sales"},
        {"attribute": "accountEnabled", "operator": "IS TRUE"}
    ]}]});
    assert_eq!(back, Ok(expected));
}
