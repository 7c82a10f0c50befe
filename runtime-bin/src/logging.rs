//! Log lines in runc's (logrus's) shapes: containerd's shim reads the last
//! `{"level":"error","msg":...}` line of the --log file to report why a command failed, and
//! podman matches runc's text lines, so both formats are kept byte-compatible.

use crate::cli::LogFormat;
use log::LevelFilter;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

/// Writes berth's own errors and libcontainer's `log` records (hook warnings, debug
/// messages) in one format to one place.
#[derive(Debug)]
pub struct Logger {
    format: LogFormat,
    file: Mutex<Option<File>>,
    debug: bool,
}

impl Logger {
    /// Opens the --log file for appending (created 0644, as runc does; never through a
    /// symlink at the name). If it cannot be opened
    /// the error is returned so that `main` reports it on stderr.
    pub fn new(format: LogFormat, path: Option<&Path>, debug: bool) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(
                // Appended to, as runc does, so not replaced by rename; but a symlink planted
                // at the name is refused (ELOOP) rather than followed.
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o644)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Self {
            format,
            file: Mutex::new(file),
            debug,
        })
    }

    /// A logger for errors that happen before the flags are known.
    pub fn stderr() -> Self {
        Self {
            format: LogFormat::Text,
            file: Mutex::new(None),
            debug: false,
        }
    }

    /// Makes this the `log` crate's logger, so libcontainer's records land here too: warnings
    /// always (a failing poststop hook), everything down to debug with --debug.
    pub fn install(self) -> &'static Logger {
        let logger: &'static Logger = Box::leak(Box::new(self));
        // Only fails if a logger is already set, and main installs exactly one.
        let _ = log::set_logger(logger);
        let max = if logger.debug {
            LevelFilter::Debug
        } else {
            LevelFilter::Warn
        };
        log::set_max_level(max);
        logger
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg, false);
        }
    }

    /// Like runc: without --log the formatted line goes to stderr; with --log it goes to the
    /// file and the bare message to stderr, for the human at the terminal.
    pub fn error(&self, msg: &str) {
        self.write("error", msg, true);
    }

    fn write(&self, level: &str, msg: &str, echo: bool) {
        let line = format_line(self.format, level, msg, &now_rfc3339());
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match file.as_mut() {
            Some(f) => {
                // A failing log write must not hide the error being reported: it still
                // reaches stderr below.
                let _ = f.write_all(line.as_bytes());
                if echo {
                    eprintln!("{msg}");
                }
            }
            None => eprint!("{line}"),
        }
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.write(
                logrus_level(record.level()),
                &record.args().to_string(),
                false,
            );
        }
    }

    fn flush(&self) {}
}

/// logrus's level names, which containerd and podman match on.
fn logrus_level(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

/// One log line, newline included.
pub fn format_line(format: LogFormat, level: &str, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            let q = |s: &str| serde_json::Value::from(s).to_string();
            format!(
                "{{\"level\":{},\"msg\":{},\"time\":{}}}\n",
                q(level),
                q(msg),
                q(time)
            )
        }
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={}\n", quote(msg)),
    }
}

/// logrus text format quotes a value only when it holds characters outside `[A-Za-z0-9-._/@^+]`.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if plain {
        return s.to_owned();
    }
    // JSON string escaping matches Go's %q for everything a message contains in practice
    // (quotes, backslashes, control characters).
    serde_json::Value::from(s).to_string()
}

/// Now in UTC as RFC 3339 with whole seconds, logrus's default timestamp.
pub fn now_rfc3339() -> String {
    libcontainer::format_rfc3339(std::time::SystemTime::now(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_logrus_shaped() {
        let line = format_line(
            LogFormat::Json,
            "error",
            "bad \"x\"",
            "2026-01-02T03:04:05Z",
        );
        assert_eq!(
            line,
            "{\"level\":\"error\",\"msg\":\"bad \\\"x\\\"\",\"time\":\"2026-01-02T03:04:05Z\"}\n"
        );
    }

    #[test]
    fn text_lines_quote_like_logrus() {
        let t = "2026-01-02T03:04:05Z";
        assert_eq!(
            format_line(LogFormat::Text, "error", "container does not exist", t),
            "time=\"2026-01-02T03:04:05Z\" level=error msg=\"container does not exist\"\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, "debug", "plain", t),
            "time=\"2026-01-02T03:04:05Z\" level=debug msg=plain\n"
        );
    }
}
