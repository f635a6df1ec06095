//! The servers' memory: peak resident set size from `/proc/<pid>/status` (Linux only; elsewhere
//! the figure is reported as n/a).

use std::path::Path;

/// `VmHWM` (peak RSS since the process started) in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let value = line["VmHWM:".len()..].trim().strip_suffix("kB")?;
    value.trim().parse().ok()
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
    fn own_process_has_a_peak() {
        let peak = peak_rss_kib(std::process::id());
        if cfg!(target_os = "linux") {
            assert!(peak.is_some_and(|kib| kib > 0));
        }
    }
}
