//! The HR rules, as one pure function: given what a record says (start and end
//! dates), the directory user it matched (if any) and the time, what happens to
//! the user's account — created now, enabled or not, put off, disabled, enabled
//! again — and what is scheduled for later. No I/O: the table test below is the
//! rule book.
//!
//! - **Joiner.** A hire is created `prehireDays` before the start date at the
//!   earliest (put off until then), disabled until the start date and enabled on it.
//! - **Leaver.** An end date disables the user on that date (at once when it has
//!   passed); a leaver never yet in the directory is not created.
//! - **Rehire.** A start date after the end date means a new employment: the old
//!   end date no longer counts, and the same user (matched by employee id) is
//!   enabled again on the new start date, never created a second time.
//! - A current employee whose record carries a future start date (a transfer, a
//!   corrected date) keeps access: a rule never disables on a start date.
//!
//! Dates are instants in milliseconds; a date without a time is its day's
//! start in UTC.

/// The length of a day, in milliseconds.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// The user a record matched, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// Whether the account is enabled now.
    pub active: bool,
    /// When an enable is already scheduled for it.
    pub enable_at: Option<i64>,
}

/// What the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dates {
    /// The (latest) start date.
    pub start: Option<i64>,
    /// The end date.
    pub end: Option<i64>,
}

/// A scheduled action of the user: left as it is, set, or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Left as it is.
    Keep,
    /// Set to this time.
    At(i64),
    /// Removed.
    Clear,
}

/// What happens to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// A new user, enabled or not; with the enable and disable it schedules.
    Create { active: bool, enable: When, disable: When },
    /// Not yet: the start date is more than `prehireDays` away; the record is
    /// kept and the user created at `create_at`.
    PutOff { create_at: i64 },
    /// The matched user: its attributes are updated; `active` is set when it
    /// changes; `rehire` when a former employee comes back.
    Keep { active: Option<bool>, enable: When, disable: When, rehire: bool },
    /// Nothing is done, for this reason.
    Skip { reason: &'static str },
}

/// The rules' settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How many days before the start date a hire is created.
    pub prehire_days: u32,
}

/// Decides what happens to the account of a record with these `dates`, which
/// matched `matched` (or nobody), at `now`.
pub fn lifecycle(dates: Dates, matched: Option<Matched>, now: i64, rules: Rules) -> Lifecycle {
    // An end date passed before the (new) start date belongs to an earlier
    // employment; one still to come ends the current one before the next.
    let end = match (dates.start, dates.end) {
        (Some(start), Some(end)) if start > end && end <= now => None,
        (_, end) => end,
    };
    let comes_back = matches!((dates.start, end), (Some(start), Some(end)) if start > end);
    let ended = end.is_some_and(|e| e <= now);
    let future_start = dates.start.filter(|s| *s > now);
    let disable = match end {
        Some(e) if e > now => When::At(e),
        _ => When::Clear,
    };
    let Some(m) = matched else {
        if ended {
            return Lifecycle::Skip { reason: "the person has left: a leaver is not created" };
        }
        return match future_start {
            Some(start) if start - now > i64::from(rules.prehire_days) * DAY_MS => {
                Lifecycle::PutOff { create_at: start - i64::from(rules.prehire_days) * DAY_MS }
            }
            Some(start) => Lifecycle::Create { active: false, enable: When::At(start), disable },
            None => Lifecycle::Create { active: true, enable: When::Clear, disable },
        };
    };
    if ended {
        let active = m.active.then_some(false);
        return Lifecycle::Keep { active, enable: When::Clear, disable: When::Clear, rehire: false };
    }
    // A former employee (disabled, no hire pending) coming back is a rehire.
    let rehire = !m.active && m.enable_at.is_none();
    match future_start {
        // Leaving, then coming back: disabled on the end date, enabled on the start.
        Some(start) if m.active && comes_back => {
            Lifecycle::Keep { active: None, enable: When::At(start), disable, rehire: false }
        }
        // A current employee keeps access whatever the start date says.
        Some(_) if m.active => Lifecycle::Keep { active: None, enable: When::Clear, disable, rehire: false },
        Some(start) => Lifecycle::Keep { active: None, enable: When::At(start), disable, rehire },
        None => Lifecycle::Keep { active: (!m.active).then_some(true), enable: When::Clear, disable, rehire },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const RULES: Rules = Rules { prehire_days: 7 };

    fn days(n: i64) -> i64 {
        NOW + n * DAY_MS
    }

    fn dates(start: Option<i64>, end: Option<i64>) -> Dates {
        Dates { start: start.map(days), end: end.map(days) }
    }

    fn active() -> Option<Matched> {
        Some(Matched { active: true, enable_at: None })
    }

    fn disabled() -> Option<Matched> {
        Some(Matched { active: false, enable_at: None })
    }

    fn prehire(start: i64) -> Option<Matched> {
        Some(Matched { active: false, enable_at: Some(days(start)) })
    }

    #[track_caller]
    fn check(d: Dates, matched: Option<Matched>, expected: Lifecycle) {
        assert_eq!(lifecycle(d, matched, NOW, RULES), expected, "{d:?} {matched:?}");
    }

    fn keep(active: Option<bool>, enable: When, disable: When, rehire: bool) -> Lifecycle {
        Lifecycle::Keep { active, enable, disable, rehire }
    }

    #[test]
    fn joiners() {
        // No dates, a past start, today's start: created enabled.
        check(dates(None, None), None, Lifecycle::Create { active: true, enable: When::Clear, disable: When::Clear });
        check(
            dates(Some(-30), None),
            None,
            Lifecycle::Create { active: true, enable: When::Clear, disable: When::Clear },
        );
        check(
            dates(Some(0), None),
            None,
            Lifecycle::Create { active: true, enable: When::Clear, disable: When::Clear },
        );
        // A start within prehireDays: created disabled, enabled on the date.
        check(
            dates(Some(3), None),
            None,
            Lifecycle::Create { active: false, enable: When::At(days(3)), disable: When::Clear },
        );
        check(
            dates(Some(7), None),
            None,
            Lifecycle::Create { active: false, enable: When::At(days(7)), disable: When::Clear },
        );
        // Further away: put off until prehireDays before it.
        check(dates(Some(8), None), None, Lifecycle::PutOff { create_at: days(1) });
        check(dates(Some(60), None), None, Lifecycle::PutOff { create_at: days(53) });
        // A fixed-term hire: its end date is scheduled at creation.
        check(
            dates(Some(2), Some(90)),
            None,
            Lifecycle::Create { active: false, enable: When::At(days(2)), disable: When::At(days(90)) },
        );
        check(
            dates(None, Some(30)),
            None,
            Lifecycle::Create { active: true, enable: When::Clear, disable: When::At(days(30)) },
        );
    }

    #[test]
    fn leavers() {
        // An end date passed or today: disabled now, schedules cleared.
        check(dates(Some(-300), Some(-1)), active(), keep(Some(false), When::Clear, When::Clear, false));
        check(dates(None, Some(0)), active(), keep(Some(false), When::Clear, When::Clear, false));
        // Already disabled: stays so, nothing sent again.
        check(dates(None, Some(-5)), disabled(), keep(None, When::Clear, When::Clear, false));
        // A future end date: disabled on that date.
        check(dates(Some(-300), Some(14)), active(), keep(None, When::Clear, When::At(days(14)), false));
        // The end date withdrawn: the scheduled disable goes.
        check(dates(Some(-300), None), active(), keep(None, When::Clear, When::Clear, false));
        // A leaver never in the directory is not created.
        check(
            dates(Some(-300), Some(-1)),
            None,
            Lifecycle::Skip { reason: "the person has left: a leaver is not created" },
        );
    }

    #[test]
    fn rehires() {
        // A new start date after the old end date: the same user comes back.
        check(dates(Some(-1), Some(-100)), disabled(), keep(Some(true), When::Clear, When::Clear, true));
        check(dates(Some(0), Some(-100)), disabled(), keep(Some(true), When::Clear, When::Clear, true));
        // In the future: enabled on the date, not before.
        check(dates(Some(10), Some(-100)), disabled(), keep(None, When::At(days(10)), When::Clear, true));
        // Leaving next month and rehired after: disabled on the end date, enabled on the new start.
        check(dates(Some(60), Some(30)), active(), keep(None, When::At(days(60)), When::At(days(30)), false));
        // No dates at all and disabled: enabled again (HR says they work here).
        check(dates(None, None), disabled(), keep(Some(true), When::Clear, When::Clear, true));
    }

    #[test]
    fn movers_and_prehires() {
        // An active employee with nothing new: kept as is.
        check(dates(Some(-300), None), active(), keep(None, When::Clear, When::Clear, false));
        // A future start on an active employee never disables them.
        check(dates(Some(20), None), active(), keep(None, When::Clear, When::Clear, false));
        // A prehire sent again before its date: still waiting, the date may move.
        check(dates(Some(5), None), prehire(5), keep(None, When::At(days(5)), When::Clear, false));
        check(dates(Some(6), None), prehire(5), keep(None, When::At(days(6)), When::Clear, false));
        // Its date has come (the schedule not run yet): enabled.
        check(dates(Some(0), None), prehire(0), keep(Some(true), When::Clear, When::Clear, false));
    }
}
