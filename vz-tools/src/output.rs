//! What a tool prints besides its results: a progress bar while it works, and one summary line
//! at the end. `--quiet` (for cron) silences both; errors always go to stderr.

use std::fmt::Display;
use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    /// tool is not quiet (so cron mails and pipes stay clean).
    pub fn progress(&self, len: u64, label: &str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        bar
    }

    /// The final summary line, on stdout unless quiet.
    pub fn summary(&self, line: impl Display) {
        if !self.quiet {
            println!("{line}");
        }
    }

    /// A detail line, printed only with `--verbose`, above the progress bar.
    pub fn detail(&self, bar: &ProgressBar, line: impl Display) {
        if self.verbose {
            bar.suspend(|| eprintln!("{line}"));
        }
    }
}
