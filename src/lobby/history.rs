//! The lobby's memory for late joiners: the last `--history N` messages said
//! in it, replayed to a member right after it is admitted.
//!
//! This is a plain type with no I/O and no clock (the hub hands in the
//! time). It must never hold a private message, and never more than its
//! limit.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::wire::{Succession, ToMember, history_pieces, stamp};

use super::MAX_HISTORY;

/// One message as it was said, with its number in the lobby (`SEQ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub from: String,
    pub text: String,
}

/// The last `limit` messages of a lobby, oldest first.
#[derive(Debug)]
pub(super) struct History {
    limit: usize,
    /// How many of them a newcomer gets; the rest are kept for members who
    /// come back and name the last one they have.
    shown: usize,
    said: VecDeque<Said>,
    /// The number the next message gets; numbers start at 1.
    next_seq: u64,
}

impl History {
    /// A history of at most `limit` messages (and `MAX_HISTORY`); 0 keeps
    /// none.
    pub(super) fn new(limit: usize) -> History {
        History::keeping(limit, limit)
    }

    /// A history that shows a newcomer the last `shown` messages and keeps
    /// `kept` (at most `MAX_HISTORY`) for members who come back.
    pub(super) fn keeping(shown: usize, kept: usize) -> History {
        History {
            limit: kept.max(shown).min(MAX_HISTORY),
            shown,
            // Grows as messages come, up to the limit, which may be large.
            said: VecDeque::new(),
            next_seq: 1,
        }
    }

    /// Takes over the messages a lobby's previous leader numbered, so that
    /// its members can name what they have; the next message follows them.
    pub(super) fn inherit(&mut self, said: Vec<Said>) {
        for said in said {
            self.next_seq = self.next_seq.max(said.seq + 1);
            if self.limit > 0 {
                if self.said.len() >= self.limit {
                    self.said.pop_front();
                }
                self.said.push_back(said);
            }
        }
    }

    /// The number of the last message said, 0 before the first.
    #[cfg(test)]
    pub(super) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The messages kept, oldest first.
    pub(super) fn said(&self) -> Vec<Said> {
        self.said.iter().cloned().collect()
    }

    /// Remembers a message, forgetting the oldest one past the limit. Once
    /// full, the forgotten message's buffers hold the new one, so the hub's
    /// relaying does not allocate for the history.
    /// Returns the message's number.
    pub(super) fn record(&mut self, at: DateTime<Utc>, from: &str, text: &str) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.limit == 0 {
            return seq;
        }
        let mut said = if self.said.len() >= self.limit {
            self.said.pop_front().expect("a full history is not empty")
        } else {
            Said {
                seq,
                at,
                from: String::new(),
                text: String::new(),
            }
        };
        said.seq = seq;
        said.at = stamp(at);
        said.from.clear();
        said.from.push_str(from);
        said.text.clear();
        said.text.push_str(text);
        self.said.push_back(said);
        seq
    }

    /// The `HISTORY` lines a newcomer gets, oldest first; a message too long
    /// for one line comes in several pieces. They take at most `budget`
    /// bytes on the wire: if all of them would not fit, the oldest messages
    /// are left out, so that a long history can never make the newcomer
    /// look like a member that stopped reading.
    pub(super) fn replay(&self, budget: usize) -> Vec<ToMember> {
        self.lines(None, budget, false)
    }

    /// As `replay`, each message followed by `SEQ <n>`: for a newcomer
    /// (`after` is `None`) the last `shown` messages, for a member who
    /// comes back those after the one it names.
    pub(super) fn replay_numbered(&self, after: Option<u64>, budget: usize) -> Vec<ToMember> {
        self.lines(after, budget, true)
    }

    fn lines(&self, after: Option<u64>, budget: usize, numbered: bool) -> Vec<ToMember> {
        let mut lines = Vec::new();
        let mut used = 0;
        let picked = self.said.iter().rev().enumerate();
        let picked = picked.take_while(|(i, said)| match after {
            None => *i < self.shown,
            Some(after) => said.seq > after,
        });
        for (_, said) in picked {
            let mut message: Vec<ToMember> = history_pieces(&said.text)
                .into_iter()
                .map(|piece| ToMember::History {
                    at: said.at,
                    from: said.from.clone(),
                    text: piece.to_string(),
                })
                .collect();
            if numbered {
                message.push(ToMember::Succession(Succession::Seq(said.seq)));
            }
            // Each line and its newline.
            let bytes: usize = message.iter().map(|l| l.to_string().len() + 1).sum();
            if used + bytes > budget {
                break;
            }
            used += bytes;
            lines.extend(message.into_iter().rev());
        }
        lines.reverse();
        lines
    }

    #[cfg(test)]
    fn texts(&self) -> Vec<String> {
        self.said
            .iter()
            .map(|s| format!("{} {}", s.from, s.text))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MAX_HISTORY_TEXT, MAX_TEXT};

    fn t0() -> DateTime<Utc> {
        crate::wire::parse_stamp("2026-12-03T07:30:05Z").unwrap()
    }

    #[track_caller]
    fn check(limit: usize, said: &[(&str, &str)], expected: &[&str]) {
        let mut history = History::new(limit);
        for (from, text) in said {
            history.record(t0(), from, text);
        }
        assert_eq!(history.texts(), expected);
        assert_eq!(history.replay(usize::MAX).len(), expected.len());
    }

    #[test]
    fn the_ring_keeps_the_last_n_in_order() {
        let said = [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")];
        check(0, &said, &[]);
        check(1, &said, &["c 4"]);
        check(3, &said, &["b 2", "a 3", "c 4"]);
        check(4, &said, &["a 1", "b 2", "a 3", "c 4"]);
        check(20, &said, &["a 1", "b 2", "a 3", "c 4"]);
        check(2, &[], &[]);
        let mut huge = History::new(usize::MAX);
        for _ in 0..MAX_HISTORY + 5 {
            huge.record(t0(), "a", "x");
        }
        assert_eq!(huge.said.len(), MAX_HISTORY);
    }

    #[test]
    fn replay_keeps_the_time_and_sender_and_splits_long_texts() {
        let mut history = History::new(5);
        let later = t0() + chrono::Duration::milliseconds(1500);
        history.record(later, "bob", "hi");
        let long = "x".repeat(MAX_TEXT);
        history.record(t0(), "carol", &long);
        let lines = history.replay(usize::MAX);
        assert_eq!(
            lines[0].to_string(),
            "HISTORY 2026-12-03T07:30:06Z bob hi",
            "stamped to the second"
        );
        assert_eq!(lines.len(), 3);
        let ToMember::History { from, text, .. } = &lines[1] else {
            panic!("{:?}", lines[1]);
        };
        assert_eq!((from.as_str(), text.len()), ("carol", MAX_HISTORY_TEXT));
        for line in &lines {
            assert_eq!(line.to_string().parse::<ToMember>().as_ref(), Ok(line));
        }
    }

    #[track_caller]
    fn check_after(after: Option<u64>, expected: &[&str]) {
        let mut history = History::keeping(2, 4);
        for text in ["1", "2", "3", "4", "5"] {
            history.record(t0(), "bob", text);
        }
        let lines = history.replay_numbered(after, usize::MAX);
        let lines: Vec<String> = lines
            .iter()
            .map(|l| match l {
                ToMember::History { text, .. } => text.clone(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(lines, expected, "after {after:?}");
    }

    #[test]
    fn a_member_who_comes_back_gets_what_it_missed_numbered() {
        check_after(None, &["4", "SEQ 4", "5", "SEQ 5"]);
        check_after(Some(5), &[]);
        check_after(Some(9), &[]);
        check_after(Some(3), &["4", "SEQ 4", "5", "SEQ 5"]);
        check_after(Some(2), &["3", "SEQ 3", "4", "SEQ 4", "5", "SEQ 5"]);
        // Message 1 is forgotten: what is kept comes, from 2 on.
        check_after(
            Some(0),
            &["2", "SEQ 2", "3", "SEQ 3", "4", "SEQ 4", "5", "SEQ 5"],
        );
    }

    #[test]
    fn an_inherited_history_goes_on_numbering() {
        let mut history = History::keeping(0, 3);
        let said = |seq: u64| Said {
            seq,
            at: t0(),
            from: "bob".into(),
            text: seq.to_string(),
        };
        history.inherit(vec![said(7), said(8), said(9), said(10)]);
        assert_eq!(history.last_seq(), 10);
        assert_eq!(history.record(t0(), "carol", "x"), 11);
        let kept: Vec<u64> = history.said().iter().map(|s| s.seq).collect();
        assert_eq!(kept, [9, 10, 11]);
        assert_eq!(history.replay_numbered(None, usize::MAX), Vec::new());
    }

    #[test]
    fn replay_leaves_out_the_oldest_messages_past_its_budget() {
        let mut history = History::new(10);
        for text in ["one", "two", "three"] {
            history.record(t0(), "bob", text);
        }
        let line = |text: &str| format!("HISTORY 2026-12-03T07:30:05Z bob {text}\n");
        let shown = |budget: usize| -> Vec<String> {
            let lines = history.replay(budget);
            lines.iter().map(|l| l.to_string()).collect()
        };
        let all = line("one").len() + line("two").len() + line("three").len();
        assert_eq!(shown(all).len(), 3);
        assert_eq!(
            shown(all - 1),
            [
                "HISTORY 2026-12-03T07:30:05Z bob two",
                "HISTORY 2026-12-03T07:30:05Z bob three"
            ]
        );
        assert_eq!(shown(line("three").len()).len(), 1);
        assert_eq!(shown(line("three").len() - 1), Vec::<String>::new());
        assert_eq!(shown(0), Vec::<String>::new());
        // A message in two pieces comes whole or not at all.
        history.record(t0(), "carol", &"x".repeat(MAX_TEXT));
        let pieces = history.replay(usize::MAX);
        assert_eq!(pieces.len(), 5);
        let two: usize = pieces[3..].iter().map(|l| l.to_string().len() + 1).sum();
        assert_eq!(history.replay(two).len(), 2);
        assert_eq!(history.replay(two - 1).len(), 0);
    }
}
