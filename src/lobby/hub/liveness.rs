//! Heartbeats and silence: `HELLO` to a member that has heard nothing for
//! a while, and removal of one that has said nothing for too long.
//!
//! This file only decides and queues; it must never write to a socket itself
//! (the flush pass does) nor remove a member outside `reap`.

use std::time::Instant;

use crate::wire::ToMember;

use super::super::member::{Exit, doom, encode, queue_or_drop};
use super::Hub;

impl Hub {
    /// Says `HELLO` to members that have heard nothing for a while, and
    /// removes members that have said nothing for too long.
    pub(super) fn check_liveness(&mut self) {
        let now = Instant::now();
        let hello = encode(&ToMember::Hello);
        for (&id, member) in &mut self.members {
            if member.doomed {
                continue;
            }
            if now.duration_since(member.last_heard) >= self.config.silence_timeout {
                doom(id, member, Exit::Silent, &mut self.doomed);
            } else if now.duration_since(member.last_sent) >= self.config.hello_interval {
                queue_or_drop(id, member, &hello, &self.config, &mut self.doomed, now);
            }
        }
        self.forget_away(now);
        self.reap();
    }
}
