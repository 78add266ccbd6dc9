//! A warning that keeps coming (a flood of forged chat requests) is shown
//! once; its repeats are counted and summed up in one line a little later.
//! A plain type: it takes `now` and returns the lines to show.

use std::time::{Duration, Instant};

use crate::screen::ScreenLine;

/// How long repeats of a warning are counted before the count is shown.
pub(super) const REPEAT_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(super) struct Repeats {
    /// The warning shown last, and when.
    last: Option<(String, Instant)>,
    count: u64,
    /// When the count is shown, if there is one.
    due: Option<Instant>,
}

impl Repeats {
    /// The lines that show `warning` at `now`: none if it is the one shown
    /// last and came again soon after it (or while its repeats are being
    /// counted), for then it is counted instead.
    pub(super) fn warn(&mut self, warning: String, now: Instant) -> Vec<ScreenLine> {
        let repeat = match &self.last {
            Some((last, shown)) => {
                *last == warning && (self.count > 0 || now.duration_since(*shown) < REPEAT_WINDOW)
            }
            None => false,
        };
        if repeat {
            self.count += 1;
            self.due.get_or_insert(now + REPEAT_WINDOW);
            return Vec::new();
        }
        let mut lines: Vec<ScreenLine> = self.count_shown(now).into_iter().collect();
        lines.push(ScreenLine::Notice(warning.clone()));
        self.last = Some((warning, now));
        lines
    }

    /// How often the last warning came again since it was shown, if it did;
    /// from `now` on, the next one is a repeat only if it comes soon.
    pub(super) fn count_shown(&mut self, now: Instant) -> Option<ScreenLine> {
        self.due = None;
        if let Some((_, shown)) = &mut self.last {
            // The count stands for the warning.
            *shown = now;
        }
        let count = std::mem::take(&mut self.count);
        let times = if count == 1 { "time" } else { "times" };
        (count > 0).then(|| format!("(The same warning came {count} more {times}.)").into())
    }

    /// When the count should be shown, if repeats are being counted.
    pub(super) fn due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(repeats: &mut Repeats, warning: &str, at: Instant, expected: &[&str]) {
        let got: Vec<String> = repeats
            .warn(warning.to_string(), at)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, expected, "{warning} at {at:?}");
    }

    #[test]
    fn repeats_are_counted_and_summed_up_once() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut repeats = Repeats::default();
        check(&mut repeats, "forged", t0, &["forged"]);
        check(&mut repeats, "forged", ms(10), &[]);
        assert_eq!(repeats.due(), Some(ms(10) + REPEAT_WINDOW));
        check(&mut repeats, "forged", ms(2000), &[]);
        let count = repeats.count_shown(ms(1010)).map(|l| l.to_string());
        assert_eq!(
            count.as_deref(),
            Some("(The same warning came 2 more times.)")
        );
        assert_eq!(repeats.due(), None);
        // Soon after the count, the same warning is a repeat again...
        check(&mut repeats, "forged", ms(1500), &[]);
        // ...and another warning shows the count before it.
        check(
            &mut repeats,
            "other",
            ms(1600),
            &["(The same warning came 1 more time.)", "other"],
        );
        // Long after it was shown, the same warning is shown again.
        check(&mut repeats, "other", ms(5000), &["other"]);
    }
}
