//! The latency `Histogram` and the `Latency` figures a report shows. It
//! keeps a fixed amount of memory whatever the number of samples, and must
//! never allocate per sample.

use std::time::Duration;

/// Sub-buckets per power of two: every recorded value is kept within 1/64
/// (1.6 %) of itself, in a fixed 30 KiB whatever the number of samples, so
/// a million deliveries do not inflate the memory the benchmark reports.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;

/// A log-linear histogram of nanoseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; (64 - SUB_BITS as usize + 1) * SUB],
            total: 0,
            max: 0,
        }
    }

    fn index(value: u64) -> usize {
        if value < SUB as u64 {
            return value as usize;
        }
        let shift = 63 - value.leading_zeros() - SUB_BITS;
        let mantissa = (value >> shift) as usize - SUB;
        ((shift as usize + 1) << SUB_BITS) + mantissa
    }

    /// The smallest value that lands in bucket `index`.
    fn floor(index: usize) -> u64 {
        if index < SUB {
            return index as u64;
        }
        let shift = (index >> SUB_BITS) - 1;
        ((SUB + (index & (SUB - 1))) as u64) << shift
    }

    pub fn record(&mut self, nanos: u64) {
        self.counts[Histogram::index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value below which a fraction `q` of the samples fall.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(Histogram::floor(index).min(self.max));
            }
        }
        Duration::from_nanos(self.max)
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    pub fn summary(&self) -> Latency {
        Latency {
            count: self.total,
            p50: self.quantile(0.50),
            p99: self.quantile(0.99),
            max: self.max(),
        }
    }
}

/// The latency figures a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    pub count: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_bucket(value: u64) {
        let index = Histogram::index(value);
        let floor = Histogram::floor(index);
        assert!(floor <= value, "{value}: floor {floor}");
        assert!(
            value - floor <= value / SUB as u64,
            "{value}: floor {floor} is too far below"
        );
        if index + 1 < Histogram::new().counts.len() {
            assert!(Histogram::floor(index + 1) > value, "{value}");
        }
    }

    #[test]
    fn buckets_hold_their_values() {
        for value in (0..5000).chain([65_535, 1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            check_bucket(value);
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((49_000..=50_000).contains(&(s.p50.as_nanos() as u64)));
        assert!((97_000..=99_000).contains(&(s.p99.as_nanos() as u64)));
        assert_eq!(s.max, Duration::from_micros(100));
    }
}
