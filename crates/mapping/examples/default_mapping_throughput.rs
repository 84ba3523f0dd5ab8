//! Measures how many times per second the default SCIM user mapping can be
//! evaluated for one user on one core, against a baseline (cloning the
//! source attributes the mapping reads) measured in the same run.
//!
//! Run with `cargo run --release -p roster-mapping --example
//! default_mapping_throughput`.

use std::time::{Duration, Instant};

use roster_mapping::defaults::scim_user_mapping;
use roster_mapping::{
    ApplyMapping, AttributeMapping, EvalContext, MapSource, MappingType, ObjectMapping, SourceObject,
    USER_SOURCE_ATTRIBUTES,
};

/// The default mapping with ten attributes made of expressions, as admins write them.
fn expression_heavy() -> ObjectMapping {
    let mut m = scim_user_mapping();
    let exprs = [
        ("displayName", r#"Join(" ", PCase([givenName]), ToUpper([surname]))"#),
        ("nickName", r#"ToLower(Left(NormalizeDiacritics(StripSpaces([givenName])), 3))"#),
        ("title", r#"Switch([department], "Staff", "R&D", Append([jobTitle], " (R&D)"), "Sales", "Seller")"#),
        ("userType", r#"IIF(IsPresent([employeeId]), "Employee", "Guest")"#),
        ("locale", r#"Replace([preferredLanguage], , "-", , "_", , )"#),
        ("profileUrl", r#"Join("/", "https://people.example.com", Word([mail], 1, "@"))"#),
        ("timezone", r#"Coalesce([extension_tz], "UTC")"#),
        ("name.honorificPrefix", r#"Mid([displayName], 1, 2)"#),
        ("name.middleName", r#"Replace([mailNickname], , "[aeiou]", , "", , )"#),
        (r#"emails[type eq "home"].value"#, r#"Join("@", ToLower(NormalizeDiacritics([givenName])), "home.example")"#),
    ];
    m.attributes.retain(|a| !exprs.iter().any(|(t, _)| *t == a.target));
    for (target, expression) in exprs {
        m.attributes.push(AttributeMapping {
            target: target.to_string(),
            mapping: MappingType::Expression { expression: expression.to_string() },
            default_value: None,
            apply: ApplyMapping::Always,
            matching_precedence: None,
        });
    }
    m
}

fn user() -> MapSource {
    MapSource::new()
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
        .with("postalCode", "98052")
        .with("country", "US")
        .with("businessPhones", vec!["+1 425 555 0100"])
        .with("mobile", "+1 425 555 0101")
        .with("mailNickname", "zoe")
        .with("objectId", "7f0c")
        .with("employeeId", "E42")
        .with("department", "R&D")
        .with("manager", "11aa")
        .with("IsSoftDeleted", false)
}

fn rate(mut work: impl FnMut() -> usize) -> f64 {
    let budget = Duration::from_secs(2);
    let start = Instant::now();
    let mut runs = 0u64;
    let mut sink = 0usize;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            sink = sink.wrapping_add(work());
        }
        runs += 1000;
    }
    std::hint::black_box(sink);
    runs as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let compiled = match scim_user_mapping().compile(USER_SOURCE_ATTRIBUTES) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("the default mapping does not compile: {errors:?}");
            std::process::exit(1);
        }
    };
    let src = user();
    let ctx = EvalContext::at(chrono::Utc::now());
    let baseline = rate(|| USER_SOURCE_ATTRIBUTES.iter().take(20).map(|a| src.attribute(a).is_null() as usize).sum());
    let evaluations = rate(|| compiled.evaluate(&src, &ctx, true).map_or(0, |v| v.len()));
    println!("baseline (read 20 attributes): {baseline:>12.0} /s");
    println!("default user mapping evaluated: {evaluations:>12.0} /s");
    println!("ratio mapping / baseline:       {:>12.2}", evaluations / baseline);
    let heavy = match expression_heavy().compile(USER_SOURCE_ATTRIBUTES) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("the expression-heavy mapping does not compile: {errors:?}");
            std::process::exit(1);
        }
    };
    let heavy_rate = rate(|| heavy.evaluate(&src, &ctx, true).map_or(0, |v| v.len()));
    println!("expression-heavy mapping:       {heavy_rate:>12.0} /s");
    println!("ratio heavy / default:          {:>12.2}", heavy_rate / evaluations);
}
