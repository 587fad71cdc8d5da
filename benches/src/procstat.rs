//! The server's memory, read from `/proc`: the processes that hold a listening port, their
//! resident set (`VmRSS`) and proportional set (`Pss`, which splits pages that several processes
//! share, so nginx's master and workers can be added up).

use std::fs;
use std::io;

/// Memory of a set of processes, in KiB.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Sum of `VmRSS`.
    pub rss_kib: u64,
    /// Sum of `Pss` from `smaps_rollup`.
    pub pss_kib: u64,
    /// How many of the processes could be read.
    pub processes: usize,
}

/// Processes (other than this one) that hold a TCP socket listening on `port`, IPv4 or IPv6.
///
/// # Errors
/// `/proc/net/tcp` cannot be read.
pub fn listening_pids(port: u16) -> io::Result<Vec<u32>> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the inode.
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let listening_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && listening_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .ok()
                .and_then(|link| link.to_str().map(|l| inodes.iter().any(|i| i == l)))
                .unwrap_or(false)
        });
        if holds {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// Adds up the memory of `pids`; processes that are gone are skipped.
pub fn memory(pids: &[u32]) -> Memory {
    let mut total = Memory::default();
    for pid in pids {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        total.rss_kib += kib(&status, "VmRSS:");
        if let Ok(rollup) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            total.pss_kib += kib(&rollup, "Pss:");
        }
        total.processes += 1;
    }
    total
}

/// CPU time (user + system) used so far by `pids` (all threads), in seconds.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let mut ticks = 0_u64;
    for pid in pids {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    // /proc reports USER_HZ ticks, which Linux fixes at 100 per second for user space.
    ticks as f64 / 100.0
}

/// The kernel threads that run deferred network processing (`ksoftirqd/N`). Under heavy loopback
/// traffic part of both sides' TCP work moves there, so it is reported apart from other processes.
pub fn softirq_threads() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let comm = fs::read_to_string(entry.path().join("comm")).ok()?;
            comm.starts_with("ksoftirqd").then_some(pid)
        })
        .collect()
}

/// CPU time (all cores, busy = not idle and not waiting for I/O) the whole machine used so far,
/// in seconds, from the first line of `/proc/stat`.
pub fn machine_busy_seconds() -> f64 {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy as f64 / 100.0
}

/// The number after `key` on its line, e.g. `VmRSS:   1234 kB`.
fn kib(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields() {
        let status = "Name:\tx\nVmRSS:\t    1234 kB\nPss:  77 kB\n";
        assert_eq!(kib(status, "VmRSS:"), 1234);
        assert_eq!(kib(status, "Pss:"), 77);
        assert_eq!(kib(status, "Missing:"), 0);
    }

    #[test]
    fn finds_this_process_memory() {
        let me = memory(&[std::process::id()]);
        assert_eq!(me.processes, 1);
        assert!(me.rss_kib > 0);
        let start = cpu_seconds(&[std::process::id()]);
        let mut x = 0_u64;
        for i in 0..50_000_000_u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        assert!(x > 0);
        assert!(cpu_seconds(&[std::process::id()]) >= start);
        assert!(machine_busy_seconds() > 0.0);
    }
}
