//! The servers' memory: peak resident set size from `/proc/<pid>/status` (Linux only; elsewhere
//! the figure is reported as n/a).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `VmHWM` (peak RSS since the process started) in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    parse_field(status, "VmHWM:")
}

/// `VmRSS` (resident memory now) in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_field(&status, "VmRSS:")
}

fn parse_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    let value = line[name.len()..].trim().strip_suffix("kB")?;
    value.trim().parse().ok()
}

/// One memory sample: seconds since sampling started, resident MiB, the soak round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub seconds: f64,
    pub rss_mib: f64,
    pub round: u64,
}

/// Samples a process's resident memory every few seconds on a thread of its own, appending
/// each sample to a CSV as it is taken (so a soak can be watched, and a crash keeps the curve).
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    round: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

impl RssSampler {
    pub fn start(pid: u32, csv: &Path, every_s: f64) -> anyhow::Result<Self> {
        use std::io::Write as _;
        let mut out = std::fs::File::create(csv)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", csv.display()))?;
        writeln!(out, "seconds,rss_mib,round")?;
        let stop = Arc::new(AtomicBool::new(false));
        let round = Arc::new(AtomicU64::new(0));
        let (stop_flag, round_now) = (stop.clone(), round.clone());
        let every = Duration::from_secs_f64(every_s.max(0.1));
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            let mut next = started;
            loop {
                if let Some(kib) = rss_kib(pid) {
                    let sample = Sample {
                        seconds: started.elapsed().as_secs_f64(),
                        rss_mib: kib as f64 / 1024.0,
                        round: round_now.load(Ordering::Relaxed),
                    };
                    let _ = writeln!(
                        out,
                        "{:.1},{:.1},{}",
                        sample.seconds, sample.rss_mib, sample.round
                    );
                    samples.push(sample);
                }
                next += every;
                // Sleeps in short steps so that `stop` is seen soon.
                while Instant::now() < next {
                    if stop_flag.load(Ordering::Relaxed) {
                        return samples;
                    }
                    std::thread::sleep(Duration::from_millis(100).min(every));
                }
            }
        });
        Ok(Self { stop, round, thread })
    }

    pub fn set_round(&self, round: u64) {
        self.round.store(round, Ordering::Relaxed);
    }

    /// Stops sampling; every sample taken.
    pub fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// One line on a memory curve: first, after warm-up (the first tenth), peak and last; and the
/// growth per hour fitted over the samples after warm-up (least squares).
pub fn rss_summary(samples: &[Sample]) -> String {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return "RSS: no samples".into();
    };
    let warm = &samples[samples.len() / 10..];
    let peak = samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let n = warm.len() as f64;
    let (mx, my) = (
        warm.iter().map(|s| s.seconds).sum::<f64>() / n,
        warm.iter().map(|s| s.rss_mib).sum::<f64>() / n,
    );
    let var: f64 = warm.iter().map(|s| (s.seconds - mx).powi(2)).sum();
    let cov: f64 = warm.iter().map(|s| (s.seconds - mx) * (s.rss_mib - my)).sum();
    let slope = if var > 0.0 { cov / var * 3600.0 } else { 0.0 };
    format!(
        "RSS: {} samples over {:.0} s; first {:.1} MiB, after warm-up {:.1} MiB, peak {peak:.1} \
         MiB, last {:.1} MiB; trend after warm-up {slope:+.1} MiB/h",
        samples.len(),
        last.seconds,
        first.rss_mib,
        warm[0].rss_mib,
        last.rss_mib
    )
}

/// The one running process whose command name is `name`; `None` if there are none or several.
pub fn only_process_named(name: &str) -> Option<u32> {
    let mut found = std::fs::read_dir("/proc").ok()?.filter_map(|entry| {
        let entry = entry.ok()?;
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let comm =
            std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("comm")).ok()?;
        (comm.trim_end() == name).then_some(pid)
    });
    let pid = found.next()?;
    found.next().is_none().then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status = "Name:\tinfill\nVmPeak:\t 1234 kB\nVmHWM:\t  812344 kB\nVmRSS:\t 700000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(812_344));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn a_flat_curve_has_no_trend_and_a_leak_has_one() {
        let curve = |mib: fn(f64) -> f64| -> Vec<Sample> {
            (0..100)
                .map(|i| {
                    let seconds = f64::from(i) * 36.0; // an hour
                    Sample { seconds, rss_mib: mib(seconds), round: 0 }
                })
                .collect()
        };
        let flat = rss_summary(&curve(|s| if s < 300.0 { 100.0 + s / 10.0 } else { 130.0 }));
        assert!(flat.contains("trend after warm-up +0.0 MiB/h"), "{flat}");
        assert!(flat.contains("peak 130.0 MiB"), "{flat}");
        let leak = rss_summary(&curve(|s| 100.0 + s / 36.0));
        assert!(leak.contains("+100.0 MiB/h"), "{leak}");
        assert_eq!(rss_summary(&[]), "RSS: no samples");
    }

    #[test]
    fn own_process_has_a_peak() {
        let peak = peak_rss_kib(std::process::id());
        if cfg!(target_os = "linux") {
            assert!(peak.is_some_and(|kib| kib > 0));
            assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
        }
    }
}
