//! A file transfer's progress as a terminal shows it: the `Progress` a
//! transfer reports, the `Meter` that turns its reports into a rate and the
//! time left, one row of text for a given width (`↓ report.pdf from bob
//! [#####-----]  52%  3.1 MiB/s  0:12 left`), and the `Throttle` that keeps
//! reports to a few a second.
//!
//! This module does no I/O and reads no clock: every method takes `now`.
//! It never decides where a row is drawn (the `peer` binary's console does)
//! and never escapes text (the label comes escaped, as every screen line).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use unicode_width::UnicodeWidthChar;

/// Where a transfer stands, as it reaches the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Tells this transfer apart from every other running at once.
    pub key: String,
    /// What moves, and with whom: `↓ report.pdf from bob`.
    pub label: String,
    pub done: u64,
    pub total: u64,
    /// The transfer is over, whichever way: its row goes away.
    pub ended: bool,
}

/// How far back the rate looks: long enough to be steady, short enough to
/// follow a transfer that speeds up or slows down.
const WINDOW: Duration = Duration::from_secs(5);

/// The reports of one transfer: what it has done, and when.
#[derive(Debug, Clone)]
pub struct Meter {
    total: u64,
    /// The reports of the last `WINDOW`, and the one before them, oldest
    /// first; never empty.
    samples: VecDeque<(Instant, u64)>,
}

impl Meter {
    /// A transfer of `total` bytes, `done` of them there already at `now`
    /// (a resumed transfer counts its rate from there).
    pub fn new(done: u64, total: u64, now: Instant) -> Meter {
        Meter {
            total,
            samples: VecDeque::from([(now, done)]),
        }
    }

    /// `done` bytes are there at `now`.
    pub fn update(&mut self, done: u64, now: Instant) {
        self.samples.push_back((now, done));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) > WINDOW {
            self.samples.pop_front();
        }
    }

    pub fn done(&self) -> u64 {
        self.samples.back().map_or(0, |&(_, done)| done)
    }

    /// The share done, in per cent; an empty file is done at once.
    pub fn percent(&self) -> u8 {
        if self.total == 0 {
            return 100;
        }
        // In u128, so that no size overflows.
        (u128::from(self.done().min(self.total)) * 100 / u128::from(self.total)) as u8
    }

    /// Bytes a second over the window; none until some time has passed
    /// and some bytes have moved.
    pub fn rate(&self) -> Option<f64> {
        let (&(first_at, first), &(last_at, last)) = (self.samples.front()?, self.samples.back()?);
        let secs = last_at.duration_since(first_at).as_secs_f64();
        (secs > 0.0 && last > first).then(|| (last - first) as f64 / secs)
    }

    /// The time left at the current rate, if there is one.
    pub fn left(&self) -> Option<Duration> {
        let rate = self.rate()?;
        let remaining = self.total.saturating_sub(self.done()) as f64;
        Duration::try_from_secs_f64(remaining / rate).ok()
    }

    /// The row for `label`, at most `width` columns wide: the label, a bar
    /// if there is room, the share, the rate and the time left. The label
    /// is cut, with `…`, to leave room for the figures.
    pub fn row(&self, label: &str, width: usize) -> String {
        let label = drawable(label);
        let figures = format!(
            "  {:>3}%  {:>10}  {}",
            self.percent(),
            rate_text(self.rate()),
            left_text(self.left())
        );
        let room = width.saturating_sub(columns(&figures));
        let label_width = columns(&label);
        let mut row = if room >= label_width + 4 + BAR_MIN {
            let bar_width = (room - label_width - 4).min(BAR_MAX);
            let filled = bar_width * usize::from(self.percent()) / 100;
            let bar = format!("{}{}", "#".repeat(filled), "-".repeat(bar_width - filled));
            format!("{label}  [{bar}]")
        } else {
            cut(&label, room)
        };
        row.push_str(&figures);
        cut(&row, width)
    }
}

/// `label` with only characters a terminal gives one or two columns: a
/// tab becomes a space, and what takes none (a joiner, a variation
/// selector, a combining mark) is left out, since terminals disagree on
/// how such sequences are drawn. The row's width is then the sum of its
/// characters' widths, as a terminal counts them, and a row measured to
/// fit one line takes one line.
fn drawable(label: &str) -> String {
    label
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|c| matches!(c.width(), Some(1 | 2)))
        .collect()
}

/// The columns `text` takes, character by character.
fn columns(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The narrowest bar worth drawing, and the widest.
const BAR_MIN: usize = 10;
const BAR_MAX: usize = 30;

/// `text` cut to at most `width` columns, with `…` where it was cut.
fn cut(text: &str, width: usize) -> String {
    if columns(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// A rate for people: `3.1 MiB/s`; `?/s` when it is not known yet.
fn rate_text(rate: Option<f64>) -> String {
    const UNITS: [&str; 5] = ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"];
    let Some(mut value) = rate else {
        return "?/s".to_string();
    };
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{value:.0} {}", UNITS[0]),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// The time left for people: `0:12 left`, `1:02:03 left`; `?:?? left`
/// when it is not known.
fn left_text(left: Option<Duration>) -> String {
    let Some(left) = left else {
        return "?:?? left".to_string();
    };
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let (hours, minutes, secs) = (secs / 3600, secs / 60 % 60, secs % 60);
    match hours {
        0 => format!("{minutes}:{secs:02} left"),
        // A transfer days long shows as many hours.
        _ => format!("{hours}:{minutes:02}:{secs:02} left"),
    }
}

/// Lets a report through at most once per `every`.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle { every, last: None }
    }

    /// Whether a report may go at `now`: the first may, and then one once
    /// `every` has passed since the last that went.
    pub fn due(&mut self, now: Instant) -> bool {
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.every);
        if due {
            self.last = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The row a meter of `total` bytes draws at `width` after `reports`
    /// of (seconds since the start, bytes done), the first being its start.
    #[track_caller]
    fn check(total: u64, reports: &[(f64, u64)], width: usize, expected: &str) {
        let t0 = Instant::now();
        let (_, first) = reports[0];
        let mut meter = Meter::new(first, total, t0);
        for &(at, done) in &reports[1..] {
            meter.update(done, t0 + secs(at));
        }
        let row = meter.row("↓ report.pdf from bob", width);
        assert_eq!(row, expected);
        assert!(columns(&row) <= width, "{row:?} is wider than {width}");
    }

    /// A name whose characters a terminal would draw wider than they
    /// measure (a tab; a heart with its emoji selector, 2 columns as a
    /// sequence and 1 plus 0 as characters) would wrap its row onto two
    /// lines, and each redraw would leave a copy behind: the row keeps
    /// only characters of one or two columns, and fits its width.
    #[test]
    fn a_label_a_terminal_would_draw_wider_is_drawn_as_it_measures() {
        let meter = Meter::new(0, 100, Instant::now());
        let label = format!("↓ a\tb{} from bob", "\u{2764}\u{fe0f}".repeat(40));
        for width in [20, 40, 79, 120] {
            let row = meter.row(&label, width);
            assert!(!row.contains(['\t', '\u{fe0f}']), "{row:?}");
            let taken = columns(&row);
            assert!(taken <= width, "{row:?} takes {taken} of {width}");
        }
        assert!(meter.row(&label, 200).starts_with("↓ a b\u{2764}\u{2764}"));
    }

    #[test]
    fn rows() {
        // Half of 10 MiB in 2 s: 2.5 MiB/s, 2 s left.
        check(
            10 * MIB,
            &[(0.0, 0), (2.0, 5 * MIB)],
            80,
            "↓ report.pdf from bob  [#############-------------]   50%   2.5 MiB/s  0:02 left",
        );
        // Nothing yet: the rate and the time left are not known.
        check(
            10 * MIB,
            &[(0.0, 0)],
            70,
            "↓ report.pdf from bob  [----------------]    0%         ?/s  ?:?? left",
        );
        // A resumed transfer counts from where it resumed.
        check(
            100,
            &[(0.0, 50), (10.0, 60)],
            70,
            "↓ report.pdf from bob  [#########-------]   60%       1 B/s  0:40 left",
        );
        // An empty file is done at once, with nothing to measure.
        check(
            0,
            &[(0.0, 0)],
            70,
            "↓ report.pdf from bob  [################]  100%         ?/s  ?:?? left",
        );
        // Narrow: the bar goes first, then the label is cut.
        check(
            10 * MIB,
            &[(0.0, 0), (1.0, MIB)],
            50,
            "↓ report.pdf from bob   10%   1.0 MiB/s  0:09 left",
        );
        check(
            10 * MIB,
            &[(0.0, 0), (1.0, MIB)],
            40,
            "↓ report.p…   10%   1.0 MiB/s  0:09 left",
        );
        check(10 * MIB, &[(0.0, 0), (1.0, MIB)], 10, "   10%   …");
        check(10 * MIB, &[(0.0, 0)], 0, "");
    }

    #[test]
    fn the_rate_follows_the_last_seconds() {
        // Fast for 10 s, then slow: the rate soon tells the slow one.
        let t0 = Instant::now();
        let mut meter = Meter::new(0, 1 << 40, t0);
        for s in 1..=10 {
            meter.update(s * 100 * MIB, t0 + secs(s as f64));
        }
        for s in 11..=20 {
            meter.update(1000 * MIB + (s - 10) * MIB, t0 + secs(s as f64));
        }
        let rate = meter.rate().unwrap();
        assert!((rate - MIB as f64).abs() < 1.0, "{rate}");
    }

    #[test]
    fn times_left_for_people() {
        assert_eq!(left_text(Some(secs(0.0))), "0:00 left");
        assert_eq!(left_text(Some(secs(11.2))), "0:12 left");
        assert_eq!(left_text(Some(secs(3723.0))), "1:02:03 left");
        assert_eq!(left_text(None), "?:?? left");
        assert_eq!(rate_text(Some(512.0)), "512 B/s");
        assert_eq!(rate_text(Some(3.1 * MIB as f64)), "3.1 MiB/s");
        // A rate of nothing is not a time left of forever.
        let t0 = Instant::now();
        let mut stalled = Meter::new(5, 10, t0);
        stalled.update(5, t0 + secs(3.0));
        assert_eq!(stalled.left(), None);
    }

    #[test]
    fn the_throttle_lets_one_report_through_per_interval() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(Duration::from_millis(250));
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let went: Vec<u64> = [0, 10, 249, 250, 300, 499, 500, 900]
            .into_iter()
            .filter(|&ms| throttle.due(at(ms)))
            .collect();
        assert_eq!(went, [0, 250, 500, 900]);
    }
}
