//! Pictures drawn on the server as SVG, with no script: an app's provisioning
//! activity (entries per hour by action over the last days, failures in red on
//! top) and a small sparkline of failures per day. Each bar carries a
//! `<title>` with its counts, and each picture a text alternative.

use maud::{html, Markup};
use roster_store::activity::{ActivityCount, HOUR_MS};
use roster_store::{LogAction, LogStatus};

/// The actions in stacking order, with their colour and the word a title uses.
const SERIES: &[(LogAction, &str, &str)] = &[
    (LogAction::Create, "#2e7d32", "created"),
    (LogAction::Update, "#1565c0", "updated"),
    (LogAction::Enable, "#00897b", "enabled"),
    (LogAction::Disable, "#ef6c00", "disabled"),
    (LogAction::Delete, "#6a1b9a", "deleted"),
    (LogAction::Skip, "#9e9e9e", "skipped"),
];
const FAILED: &str = "#c62828";

const WIDTH: f64 = 840.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// The counts of one hour: by action (not failed), and failed.
#[derive(Default, Clone)]
struct Hour {
    by_action: [i64; 6],
    failed: i64,
}

impl Hour {
    fn total(&self) -> i64 {
        self.by_action.iter().sum::<i64>() + self.failed
    }
}

/// The smallest of 1, 2, 5 × 10^k not below `n`.
fn nice(n: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= n {
                return m * step;
            }
        }
        step *= 10;
    }
}

fn hour_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:00 UTC").to_string()).unwrap_or_default()
}

fn day_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%b %d").to_string()).unwrap_or_default()
}

/// Entries per hour from `since` (an hour's start) for `hours` hours.
pub fn activity(counts: &[ActivityCount], since: i64, hours: usize) -> Markup {
    let mut slots = vec![Hour::default(); hours];
    for c in counts {
        let Some(slot) = usize::try_from((c.hour - since) / HOUR_MS).ok().and_then(|i| slots.get_mut(i)) else {
            continue;
        };
        if c.status == LogStatus::Failure {
            slot.failed += c.count;
        } else if let Some(i) = SERIES.iter().position(|(a, _, _)| *a == c.action) {
            slot.by_action[i] += c.count;
        }
    }
    let total: i64 = slots.iter().map(Hour::total).sum();
    let failed: i64 = slots.iter().map(|h| h.failed).sum();
    let days = hours / 24;
    let label = format!("Provisioning activity, last {days} days: {total} log entries, {failed} failed");
    if total == 0 {
        return html! { p class="muted" data-part="activity-empty" { "No provisioning activity in the last " (days) " days." } };
    }
    let top = nice(slots.iter().map(Hour::total).max().unwrap_or(1).max(1));
    let plot_w = WIDTH - LEFT - 4.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let bar = plot_w / hours as f64;
    let y = |v: i64| TOP + plot_h - plot_h * v as f64 / top as f64;
    html! {
        figure class="chart" {
            svg class="activity" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
                title { (label) }
                line x1=(LEFT) y1=(y(0)) x2=(WIDTH - 4.0) y2=(y(0)) stroke="#888" {}
                line x1=(LEFT) y1=(y(top)) x2=(WIDTH - 4.0) y2=(y(top)) stroke="#ddd" stroke-dasharray="3 3" {}
                text x=(LEFT - 6.0) y=(y(top) + 4.0) text-anchor="end" font-size="11" fill="#555" { (top) }
                text x=(LEFT - 6.0) y=(y(0) + 4.0) text-anchor="end" font-size="11" fill="#555" { "0" }
                @for d in 0..days {
                    @let x = LEFT + bar * (d * 24) as f64;
                    line x1=(x) y1=(TOP) x2=(x) y2=(y(0)) stroke="#eee" {}
                    text x=(x + 2.0) y=(HEIGHT - 6.0) font-size="11" fill="#555" { (day_text(since + (d * 24) as i64 * HOUR_MS)) }
                }
                @for (i, h) in slots.iter().enumerate().filter(|(_, h)| h.total() > 0) {
                    @let x = LEFT + bar * i as f64;
                    g data-hour=(since + i as i64 * HOUR_MS) {
                        title { (hour_title(since + i as i64 * HOUR_MS, h)) }
                        @for (base, height, colour) in stack(h) {
                            rect x=(format!("{x:.2}")) y=(format!("{:.2}", y(base + height))) width=(format!("{:.2}", (bar - 0.6).max(0.6)))
                                height=(format!("{:.2}", y(base) - y(base + height))) fill=(colour) {}
                        }
                    }
                }
            }
            figcaption class="legend" {
                @for (colour, word) in SERIES.iter().map(|s| (s.1, s.2)).chain([(FAILED, "failed")]) {
                    span { (swatch(colour)) (word) }
                }
            }
        }
    }
}

/// A legend's colour square (an SVG fill: the portal's CSP allows no inline style).
fn swatch(colour: &str) -> Markup {
    html! { svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true" { rect width="10" height="10" rx="2" fill=(colour) {} } }
}

/// The segments of an hour's bar, bottom up: (start, height, colour).
fn stack(h: &Hour) -> Vec<(i64, i64, &'static str)> {
    let mut out = Vec::new();
    let mut base = 0;
    for (i, (_, colour, _)) in SERIES.iter().enumerate() {
        if h.by_action[i] > 0 {
            out.push((base, h.by_action[i], *colour));
            base += h.by_action[i];
        }
    }
    if h.failed > 0 {
        out.push((base, h.failed, FAILED));
    }
    out
}

fn hour_title(at: i64, h: &Hour) -> String {
    let mut parts: Vec<String> = SERIES
        .iter()
        .enumerate()
        .filter(|(i, _)| h.by_action[*i] > 0)
        .map(|(i, s)| format!("{} {}", h.by_action[i], s.2))
        .collect();
    if h.failed > 0 {
        parts.push(format!("{} failed", h.failed));
    }
    format!("{}: {}", hour_text(at), parts.join(", "))
}

/// Failures per day as a small line, red when there are any.
pub fn sparkline(days: &[i64]) -> Markup {
    let total: i64 = days.iter().sum();
    let label = format!(
        "Failures per day, last {} days: {}",
        days.len(),
        days.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
    );
    let top = days.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 68.0 / (days.len().max(2) - 1) as f64;
    let points: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:.1},{:.1}", 1.0 + step * i as f64, 17.0 - 15.0 * *n as f64 / top))
        .collect();
    let colour = if total > 0 { FAILED } else { "#9e9e9e" };
    html! {
        svg class="spark" width="70" height="18" viewBox="0 0 70 18" role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            polyline points=(points.join(" ")) fill="none" stroke=(colour) stroke-width="1.5" {}
        }
        @if total > 0 { span class="spark-count" { (total) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(hour: i64, action: LogAction, status: LogStatus, count: i64) -> ActivityCount {
        ActivityCount { hour: hour * HOUR_MS, action, status, count }
    }

    #[test]
    fn bars_stack_by_action_with_failures_on_top() {
        let since = 480_000 * HOUR_MS;
        let counts = [
            count(480_000, LogAction::Create, LogStatus::Success, 8),
            count(480_000, LogAction::Update, LogStatus::Failure, 2),
            count(480_030, LogAction::Disable, LogStatus::Success, 1),
            count(470_000, LogAction::Create, LogStatus::Success, 99),
        ];
        let svg = activity(&counts, since, 168).into_string();
        assert!(svg.contains("last 7 days: 11 log entries, 2 failed"), "{svg}");
        assert_eq!(svg.matches("<g data-hour").count(), 2, "only hours with entries are drawn, and none before: {svg}");
        assert!(svg.contains(": 8 created, 2 failed</title>"), "{svg}");
        assert!(svg.contains(&format!("fill=\"{FAILED}\"")));
        assert!(!svg.contains("<script"));
        assert!(svg.contains(">10<"), "the scale's top is 10: {svg}");
    }

    #[test]
    fn no_activity_says_so() {
        assert!(activity(&[], 0, 168).into_string().contains("No provisioning activity in the last 7 days"));
    }

    #[test]
    fn scales_are_round() {
        assert_eq!([nice(1), nice(3), nice(7), nice(11), nice(2000), nice(2001)], [1, 5, 10, 20, 2000, 5000]);
    }

    #[test]
    fn a_sparkline_is_red_with_failures() {
        let quiet = sparkline(&[0; 7]).into_string();
        assert!(quiet.contains("#9e9e9e") && !quiet.contains("spark-count"));
        let busy = sparkline(&[0, 0, 3, 0, 1, 0, 0]).into_string();
        assert!(busy.contains(FAILED) && busy.contains("0, 0, 3, 0, 1, 0, 0") && busy.contains(">4<"), "{busy}");
    }
}
