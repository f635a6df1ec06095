//! Rolling statistics over the most recent samples of a measurement: a fixed-size ring of
//! values with mean, variance, percentiles and a coarse histogram.
//!
//! Written for the `infill bench` typing traces; plain `std` Rust.

use std::fmt;

/// The last `capacity` samples, oldest overwritten first.
#[derive(Debug, Clone)]
pub struct Window {
    values: Vec<f64>,
    capacity: usize,
    next: usize,
    filled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub std_dev: f64,
    pub min: f64,
    pub max: f64,
}

impl Window {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a window needs room for one sample");
        Self { values: Vec::with_capacity(capacity), capacity, next: 0, filled: false }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, value: f64) {
        if self.filled {
            self.values[self.next] = value;
        } else {
            self.values.push(value);
        }
        self.next = (self.next + 1) % self.capacity();
        if self.next == 0 {
            self.filled = true;
        }
    }

    /// Samples from the oldest to the newest.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.values.split_at(if self.filled { self.next } else { 0 });
        older.iter().chain(newer.iter()).copied()
    }

    pub fn mean(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        Some(self.iter().sum::<f64>() / self.len() as f64)
    }

    pub fn variance(&self) -> Option<f64> {
        let mean = self.mean()?;
        if self.len() < 2 {
            return Some(0.0);
        }
        let squares: f64 = self.iter().map(|v| (v - mean) * (v - mean)).sum();
        Some(squares / (self.len() - 1) as f64)
    }

    /// Nearest-rank percentile, `p` between 0 and 100.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.is_empty() || !(0.0..=100.0).contains(&p) {
            return None;
        }
        let mut sorted: Vec<f64> = self.iter().collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.saturating_sub(1)])
    }

    pub fn summary(&self) -> Option<Summary> {
        let mean = self.mean()?;
        let std_dev = self.variance()?.sqrt();
        let min = self.iter().fold(f64::INFINITY, f64::min);
        let max = self.iter().fold(f64::NEG_INFINITY, f64::max);
        Some(Summary { count: self.len(), mean, std_dev, min, max })
    }

    /// Counts of samples in `buckets` equal-width bins between the smallest and largest sample.
    pub fn histogram(&self, buckets: usize) -> Vec<usize> {
        let mut counts = vec![0; buckets];
        let Some(summary) = self.summary() else { return counts };
        if buckets == 0 {
            return counts;
        }
        let width = (summary.max - summary.min) / buckets as f64;
        for value in self.iter() {
            let index = if width == 0.0 { 0 } else { ((value - summary.min) / width) as usize };
            counts[index.min(buckets - 1)] += 1;
        }
        counts
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={} mean={:.2} sd={:.2} min={:.2} max={:.2}",
            self.count, self.mean, self.std_dev, self.min, self.max
        )
    }
}

/// Exponentially weighted moving average: recent samples count more.
#[derive(Debug, Clone, Copy)]
pub struct Ewma {
    alpha: f64,
    value: Option<f64>,
}

impl Ewma {
    pub fn new(alpha: f64) -> Self {
        Self { alpha: alpha.clamp(0.0, 1.0), value: None }
    }

    pub fn update(&mut self, sample: f64) -> f64 {
        let next = match self.value {
            Some(previous) => previous + self.alpha * (sample - previous),
            None => sample,
        };
        self.value = Some(next);
        next
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_samples_are_overwritten() {
        let mut window = Window::new(3);
        for value in [1.0, 2.0, 3.0, 4.0] {
            window.push(value);
        }
        assert_eq!(window.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 4.0]);
        assert_eq!(window.percentile(50.0), Some(3.0));
    }
}
