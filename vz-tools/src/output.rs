//! What a tool prints besides its results: a progress bar while it works, and one summary line
//! at the end. `--quiet` (for cron) silences both; errors always go to stderr.
//!
//! Also how every tool ends: [`finish`] prints an error as one line, and [`write_stdout`]
//! ends the process quietly when stdout is a pipe whose reader has gone
//! (`vz-channel list | head -1`).

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a visible bar redraws by itself: the elapsed time and the spinner keep moving
/// while a long step (one big channel, one slow query) has nothing to count yet.
pub const TICK: Duration = Duration::from_millis(150);

/// `--quiet` / `--verbose`, shared by the long-running tools.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct OutputArgs {
    /// Print nothing but errors (for cron).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print a line per channel and step.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

impl OutputArgs {
    /// A progress bar over `len` items, drawn on stderr only when it is a terminal and the
    /// tool is not quiet (so cron mails and pipes stay clean), redrawn every [`TICK`].
    pub fn progress(&self, len: u64, label: &str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        }
        visible_bar(len, label, ProgressDrawTarget::stderr())
    }

    /// The final summary line, on stdout unless quiet.
    pub fn summary(&self, line: impl Display) {
        if !self.quiet {
            // A summary that cannot be written is no reason to fail work that is done.
            let _ = write_stdout(format!("{line}\n").as_bytes());
        }
    }

    /// A detail line, printed only with `--verbose`, above the progress bar.
    pub fn detail(&self, bar: &ProgressBar, line: impl Display) {
        if self.verbose {
            bar.suspend(|| eprintln!("{line}"));
        }
    }
}

/// Every bar the tools draw: styled, labelled and ticking steadily until it is finished.
fn visible_bar(len: u64, label: &str, target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let style = ProgressStyle::with_template(
        "{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(TICK);
    bar
}

/// Writes `bytes` to stdout and flushes.
///
/// When stdout is a pipe whose reader has gone (`vz-channel list | head -1`), the rest of the
/// output is unwanted, not an error: the process ends at once with status 0, as `ls` and `cat`
/// do. (Rust ignores SIGPIPE, so `println!` would panic there instead.)
///
/// # Errors
/// Any other write error.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        result => result,
    }
}

/// How a tool's `main` ends: success, or its error as one line `<tool>: <message>` on
/// stderr and exit status 1.
///
/// The rule for the tools' errors: each message includes its cause (`cannot open database
/// URL: database error: …`), so only the outermost message is printed and never the chain
/// of sources, which would repeat every cause once per level.
pub fn finish<E: Display>(tool: &str, result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = error.to_string().replace('\n', " ");
            // Nothing is left to tell if stderr is gone too.
            let _ = writeln!(std::io::stderr(), "{tool}: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.0.lock().unwrap().push(s.to_owned());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bars_redraw_while_nothing_is_counted() {
        let terminal = Recorder::default();
        let bar = visible_bar(
            3,
            "aggregating",
            ProgressDrawTarget::term_like(Box::new(terminal.clone())),
        );
        // The position stays 0/3; only the steady tick can redraw the bar. Wait until it has
        // (the deadline is for a broken tick, which never comes).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let frames = loop {
            // Bars, without the blank lines that clear them before a redraw.
            let frames: Vec<String> = (terminal.0.lock().unwrap().iter())
                .filter(|line| !line.trim().is_empty())
                .cloned()
                .collect();
            let spinners: std::collections::HashSet<char> =
                frames.iter().filter_map(|f| f.chars().next()).collect();
            if spinners.len() >= 3 {
                break frames;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the bar was not redrawn: {frames:?}"
            );
            std::thread::sleep(TICK);
        };
        assert!(
            frames.iter().all(|f| f.contains("aggregating [")),
            "{frames:?}"
        );
        assert!(frames.iter().all(|f| f.contains(" 0/3 ")), "{frames:?}");
        bar.finish_and_clear();
    }

    #[test]
    fn quiet_bars_are_hidden() {
        let quiet = OutputArgs {
            quiet: true,
            verbose: false,
        };
        assert!(quiet.progress(3, "x").is_hidden());
        // Under `cargo test` stderr is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(OutputArgs::default().progress(3, "x").is_hidden());
        }
    }

    #[test]
    fn errors_end_as_one_line_and_status_1() {
        assert_eq!(finish::<String>("vz-x", Ok(())), ExitCode::SUCCESS);
        assert_eq!(finish("vz-x", Err("a\nb")), ExitCode::FAILURE);
    }
}
