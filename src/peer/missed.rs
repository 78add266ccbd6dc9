//! Chat requests answered `BUSY` while the user could not be asked (in a
//! chat, or answering another request), kept to be told once the user is
//! back at the menu: "erin (name not checked) tried to reach you at
//! 10:42". A request answered busy is answered before its ticket is
//! checked, so the name is only what the request claimed, and the line
//! says so.
//!
//! Anyone can send a chat request, and a busy answer checks no ticket, so
//! the names are only claims, and what is kept is bounded: one entry per
//! name, `MAX_NAMES` names, and a count of the rest. A plain type: it takes
//! the time and keeps lines, and does no I/O.

use chrono::{DateTime, Local, Utc};

/// The most names kept; requests from others are only counted.
pub(super) const MAX_NAMES: usize = 8;

/// The busy requests of one claimed name.
#[derive(Debug)]
struct Tries {
    from: String,
    count: u32,
    last: DateTime<Utc>,
}

/// The requests the user has not been told of yet.
#[derive(Debug, Default)]
pub(super) struct Missed {
    tries: Vec<Tries>,
    /// Requests from names past `MAX_NAMES`.
    others: u32,
}

impl Missed {
    /// A request from `from` was answered busy at `at`.
    pub(super) fn busy(&mut self, from: &str, at: DateTime<Utc>) {
        // The names a leader sends are checked by the wire, but a name can
        // be spelt in any case.
        let known = self
            .tries
            .iter()
            .position(|t| t.from.eq_ignore_ascii_case(from));
        match known {
            Some(i) => {
                let tries = &mut self.tries[i];
                tries.count = tries.count.saturating_add(1);
                tries.last = at;
            }
            None if self.tries.len() < MAX_NAMES => self.tries.push(Tries {
                from: from.to_string(),
                count: 1,
                last: at,
            }),
            None => self.others = self.others.saturating_add(1),
        }
    }

    /// The lines to tell the user, oldest name first; empties the list.
    pub(super) fn take(&mut self) -> Vec<String> {
        let mut lines: Vec<String> = self.tries.drain(..).map(|t| t.line()).collect();
        match std::mem::take(&mut self.others) {
            0 => {}
            1 => lines.push("1 more chat request came while you were busy.".into()),
            n => lines.push(format!("{n} more chat requests came while you were busy.")),
        }
        lines
    }
}

impl Tries {
    fn line(&self) -> String {
        let at = self.last.with_timezone(&Local).format("%H:%M");
        let from = &self.from;
        match self.count {
            1 => format!(
                "{from} (name not checked) tried to reach you at {at}, while you were busy."
            ),
            n => format!(
                "{from} (name not checked) tried to reach you {n} times, last at {at}, while you were busy."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 1, 2, 10, minute, 0).unwrap()
    }

    fn local(minute: u32) -> String {
        at(minute).with_timezone(&Local).format("%H:%M").to_string()
    }

    #[test]
    fn one_line_per_name_and_a_count_of_the_rest() {
        let mut missed = Missed::default();
        assert!(missed.take().is_empty());
        missed.busy("erin", at(42));
        missed.busy("frank", at(43));
        missed.busy("ERIN", at(44));
        assert_eq!(
            missed.take(),
            [
                format!(
                    "erin (name not checked) tried to reach you 2 times, last at {}, while you were busy.",
                    local(44)
                ),
                format!(
                    "frank (name not checked) tried to reach you at {}, while you were busy.",
                    local(43)
                ),
            ]
        );
        // Told once: the list starts again empty.
        assert!(missed.take().is_empty());
    }

    #[test]
    fn strangers_cannot_grow_it() {
        let mut missed = Missed::default();
        for i in 0..MAX_NAMES + 5 {
            missed.busy(&format!("n{i}"), at(1));
            missed.busy(&format!("n{i}"), at(2));
        }
        let lines = missed.take();
        assert_eq!(lines.len(), MAX_NAMES + 1);
        assert_eq!(
            lines[MAX_NAMES],
            "10 more chat requests came while you were busy."
        );
    }
}
