//! Generated values: Guid and RandomString (typically for initial
//! passwords). Not deterministic, so tests check their shape.

use rand::seq::SliceRandom;
use rand::Rng;

use super::text::invalid;
use super::Args;
use crate::expr::error::EvalError;
use crate::value::Value;

/// The special characters RandomString draws from.
pub(crate) const SPECIAL_CHARACTERS: &str = "!@#$%^&*()-_=+[]{};:,.<>?";

/// Longest string RandomString makes.
const MAX_LENGTH: i64 = 256;

/// `Guid()`: a new random GUID, lower-case with hyphens.
pub(crate) fn guid() -> Value {
    Value::Str(uuid::Uuid::new_v4().to_string())
}

/// `RandomString(length[, minimumNumbers[, minimumSpecialCharacters[,
/// minimumCapital[, minimumLowerCase[, charactersToAvoid]]]]])`: a random
/// string of `length` characters (1 to 256) holding at least the given
/// numbers of digits, special characters (`!@#$%^&*()-_=+[]{};:,.<>?`),
/// capitals and lower-case letters, and none of `charactersToAvoid`.
/// Missing minimums are 0. Minimums adding up to more than the length are
/// an error.
pub(crate) fn random_string(a: &Args) -> Result<Value, EvalError> {
    let length = a.int(0)?.unwrap_or(0);
    if !(1..=MAX_LENGTH).contains(&length) {
        return Err(invalid(a, 1, format!("length must be 1 to {MAX_LENGTH}, got {length}")));
    }
    let mut minimums = [0usize; 4];
    for (k, slot) in minimums.iter_mut().enumerate() {
        let m = a.int(k + 1)?.unwrap_or(0);
        if !(0..=MAX_LENGTH).contains(&m) {
            return Err(invalid(a, k + 2, format!("minimum must be 0 to {MAX_LENGTH}, got {m}")));
        }
        *slot = usize::try_from(m).unwrap_or(0);
    }
    let avoid: Vec<char> = a.text(5)?.unwrap_or_default().chars().collect();
    let length = usize::try_from(length).unwrap_or(0);
    if minimums.iter().sum::<usize>() > length {
        return Err(invalid(a, 1, "the minimums add up to more than the length".into()));
    }
    let pool = |set: &str| -> Vec<char> { set.chars().filter(|c| !avoid.contains(c)).collect() };
    let classes = [
        pool("0123456789"),
        pool(SPECIAL_CHARACTERS),
        pool("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        pool("abcdefghijklmnopqrstuvwxyz"),
    ];
    let mut rng = rand::thread_rng();
    let mut out: Vec<char> = Vec::with_capacity(length);
    for (class, &min) in classes.iter().zip(&minimums) {
        if min > 0 && class.is_empty() {
            return Err(invalid(a, 6, "charactersToAvoid removes a whole required class".into()));
        }
        for _ in 0..min {
            if let Some(c) = class.choose(&mut rng) {
                out.push(*c);
            }
        }
    }
    let all: Vec<char> = classes.concat();
    if all.is_empty() {
        return Err(invalid(a, 6, "charactersToAvoid leaves no character to use".into()));
    }
    while out.len() < length {
        out.push(all[rng.gen_range(0..all.len())]);
    }
    out.shuffle(&mut rng);
    Ok(Value::Str(out.into_iter().collect()))
}
