//! events: runc's event stream. `--stats` prints one stats event; otherwise a stats event
//! every `--interval`, an `oom` event whenever the OOM killer has struck since the last look,
//! until the container stops.
//!
//! A rootless container without a cgroup has no statistics: `--stats` prints runc 1.1's event
//! for it (every count zero, exit 0: what scripts written for runc parse) and says on stderr
//! why they are zero; the stream fails (exit 1) as runc's does, which cannot watch OOM kills
//! without a memory cgroup.

use crate::cli::EventsArgs;
use crate::error::CliError;
use libcontainer::stats::Stats;
use libcontainer::{Container, Error, Status};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub fn events(root: &Path, args: &EventsArgs) -> Result<i32, CliError> {
    let interval = parse_interval(&args.interval)?;
    let c = Container::load(root, &args.id)?;
    if args.stats {
        let event = match stats_event(&c) {
            Err(CliError::Container(e @ Error::NoCgroup { .. })) => {
                log::warn!("{e}: every count is reported as zero");
                json!({"type": "stats", "id": c.id(), "data": Stats::default()})
            }
            other => other?,
        };
        emit(&event)?;
        return Ok(0);
    }
    let mut ooms = c.oom_kills()?;
    loop {
        let c = match Container::load(root, &args.id) {
            Ok(c) => c,
            // Gone: the stream ends, as runc's does.
            Err(Error::NotFound(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        // The status first, then the count: an OOM kill that stopped the container (its init
        // was the victim) happened before the stop, so it is still counted and reported. A
        // cgroup already removed by delete has no count.
        let stopped = c.status() == Status::Stopped;
        let now = c.oom_kills().unwrap_or(ooms);
        if now > ooms {
            emit(&json!({"type": "oom", "id": c.id()}))?;
        }
        ooms = now;
        if stopped {
            return Ok(0);
        }
        match stats_event(&c) {
            Ok(e) => emit(&e)?,
            Err(CliError::Container(Error::WrongStatus { .. })) => return Ok(0),
            Err(e) => return Err(e),
        }
        std::thread::sleep(interval);
    }
}

fn stats_event(c: &Container) -> Result<serde_json::Value, CliError> {
    let stats = c.stats()?;
    Ok(json!({"type": "stats", "id": c.id(), "data": stats}))
}

fn emit(event: &serde_json::Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        crate::ordered::line(event, crate::ordered::EVENT_KEYS)
    )
    .and_then(|_| out.flush())
    .map_err(|e| CliError::io("stdout", e))
}

/// A duration as runc (Go) writes one: a number with a unit ns, us, ms, s, m or h.
fn parse_interval(s: &str) -> Result<Duration, CliError> {
    let bad = || CliError::Flag {
        flag: "--interval",
        reason: format!("invalid duration {s:?} (e.g. 5s, 500ms, 1m)"),
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(CliError::Flag {
            flag: "--interval",
            reason: format!("{s:?} must be positive"),
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_like_go_durations() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("1.5m").unwrap(), Duration::from_secs(90));
        for bad in ["", "5", "s", "0s", "5x"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
