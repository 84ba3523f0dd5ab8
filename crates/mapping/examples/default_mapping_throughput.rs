//! Measures how many times per second the default SCIM user mapping can be
//! evaluated for one user on one core, against a baseline (cloning the
//! source attributes the mapping reads) measured in the same run.
//!
//! Run with `cargo run --release -p roster-mapping --example
//! default_mapping_throughput`.

use std::time::{Duration, Instant};

use roster_mapping::defaults::scim_user_mapping;
use roster_mapping::{EvalContext, MapSource, SourceObject, USER_SOURCE_ATTRIBUTES};

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
}
