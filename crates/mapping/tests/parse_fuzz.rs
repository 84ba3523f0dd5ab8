//! Property tests: `parse` never panics, whatever the input (arbitrary
//! text, expression-like token soup, deep nestings), and whatever parses
//! evaluates without panicking.

use proptest::prelude::*;
use roster_mapping::{parse, EvalContext, MapSource};

/// Text made of the language's own pieces, so the parser gets deep rather
/// than failing at the first character.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just("=".to_string()),
        Just("[givenName]".to_string()),
        Just("[businessPhones]".to_string()),
        Just("\"a\\\"b\"".to_string()),
        Just("\"[a-z]+\"".to_string()),
        Just("\"(\"".to_string()),
        Just("-3".to_string()),
        Just("1".to_string()),
        Just("True".to_string()),
        prop::sample::select(roster_mapping::expr::function_names().collect::<Vec<_>>()).prop_map(str::to_string),
    ];
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

fn source() -> MapSource {
    MapSource::new().with("givenName", "Zoë").with("businessPhones", vec!["1", "2"])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parse_and_eval_never_panic_on_token_soup(s in token_soup()) {
        if let Ok(e) = parse(&s) {
            let _ = e.eval(&source(), &EvalContext::at(chrono::DateTime::UNIX_EPOCH));
            let _ = e.references();
        } else if let Err(err) = parse(&s) {
            prop_assert!(err.position <= s.chars().count());
            let _ = err.render(&s);
        }
    }

    #[test]
    fn nesting_is_refused_past_the_limit(depth in 0usize..300, name in prop::sample::select(vec!["ToLower(", "Not(", "(", "[", "IIF(True, "])) {
        let src = format!("{}[givenName]{}", name.repeat(depth), ")".repeat(depth));
        let result = parse(&src);
        if name == "ToLower(" && depth <= roster_mapping::expr::MAX_DEPTH {
            prop_assert!(result.is_ok(), "{:?}", result.err());
        }
        if depth > roster_mapping::expr::MAX_DEPTH {
            prop_assert!(result.is_err());
        }
    }
}

#[test]
fn a_hundred_thousand_open_brackets_are_a_clean_error() {
    for open in ["(", "[", "Join(\",\", "] {
        for n in [10_000, 100_000] {
            let src = open.repeat(n);
            let err = parse(&src).err();
            assert!(err.is_some(), "{open} x {n} parsed");
        }
    }
}
