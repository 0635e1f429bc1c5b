//! Progress and logging for the command line: an indicatif bar on a terminal, throttled
//! plain lines when stderr is not one, or JSON lines for programs.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// Always a bar.
    Bar,
    /// One plain line every few seconds.
    Plain,
    /// One JSON object per line, every second: {"position","duration","fraction","frames","fps"}.
    Json,
    /// Nothing.
    None,
}

impl Mode {
    /// `Auto` made concrete: a bar when stderr is a terminal, plain lines otherwise.
    pub fn resolved(self) -> Mode {
        match self {
            Mode::Auto if std::io::stderr().is_terminal() => Mode::Bar,
            Mode::Auto => Mode::Plain,
            m => m,
        }
    }
}

/// Shows a transcode's progress on stderr.
pub struct Reporter {
    mode: Mode,
    bar: Option<ProgressBar>,
    started: Instant,
    last: Option<Instant>,
    label: String,
}

impl Reporter {
    /// A reporter for `label` (the source name).
    pub fn new(mode: Mode, label: &str) -> Reporter {
        let mode = mode.resolved();
        let bar = (mode == Mode::Bar).then(|| {
            let b = ProgressBar::new(1000);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:40}] {percent:>3}% {prefix} elapsed {elapsed_precise} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_message(label.to_string());
            b
        });
        Reporter {
            mode,
            bar,
            started: Instant::now(),
            last: None,
            label: label.to_string(),
        }
    }

    /// Takes a progress snapshot from the engine.
    pub fn update(&mut self, p: engine::Progress) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let speed = p.position / elapsed;
        let fps = p.frames as f64 / elapsed;
        if let Some(bar) = &self.bar {
            bar.set_position((p.fraction() * 1000.0) as u64);
            bar.set_prefix(format!("{speed:.2}x {fps:.0} fps"));
            return;
        }
        let every = match self.mode {
            Mode::Json => Duration::from_secs(1),
            Mode::Plain => Duration::from_secs(5),
            _ => return,
        };
        if !p.finishing && self.last.is_some_and(|l| now.duration_since(l) < every) {
            return;
        }
        self.last = Some(now);
        if self.mode == Mode::Json {
            eprintln!(
                "{}",
                serde_json::json!({
                    "source": self.label,
                    "position": (p.position * 1000.0).round() / 1000.0,
                    "duration": p.duration,
                    "fraction": (p.fraction() * 1000.0).round() / 1000.0,
                    "frames": p.frames,
                    "fps": (fps * 10.0).round() / 10.0,
                    "finishing": p.finishing,
                })
            );
        } else {
            eprintln!(
                "mpe: {} {:5.1}% ({:.1}/{:.1} s, {speed:.2}x, {fps:.0} fps){}",
                self.label,
                p.fraction() * 100.0,
                p.position,
                p.duration,
                if p.finishing { ", finishing" } else { "" }
            );
        }
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Sets up tracing on stderr; `RUST_LOG` overrides the verbosity flag.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        // The watcher's one line per job state change is its normal output.
        0 => "warn,mpe::watch=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
