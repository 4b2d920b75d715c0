//! A load-generator run: one tokio task per bot, a connection ramp, an optional progress display, a summary.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::bot::Bot;
use crate::config::BotsConfig;
use crate::error::ConfigError;
use crate::stats::{Shared, Summary};

/// How often the progress display refreshes.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// Past the deadline and the logout grace, bots still running are aborted after this much more.
const HARD_STOP_SLACK: Duration = Duration::from_secs(5);

/// Runs `config.count` bots for `config.duration` and returns what they measured.
///
/// Each bot is one tokio task owning one connection (no thread, no background reader), so ten thousand bots
/// cost a few tens of MiB. At most `config.max_connecting` bots connect and log in at a time. Every bot stops
/// at the deadline, logs out within `config.grace`, and any bot still running a few seconds after that is
/// aborted, so the run always ends. With `progress`, a bar (bots in space) and the live counters are drawn on
/// it about five times a second; pass `None` for no display (not a terminal, or JSON output).
///
/// Must be called inside a tokio runtime (a multi-thread one to use more than one core).
pub async fn run(config: BotsConfig, progress: Option<MultiProgress>) -> Result<Summary, ConfigError> {
    config.validate()?;
    let config = Arc::new(config);
    let shared = Arc::new(Shared::default());
    let ramp = Arc::new(Semaphore::new(config.max_connecting));
    let start = Instant::now();
    let deadline = start + config.duration;
    tracing::info!(count = config.count, scenario = %config.scenario, connect = %config.connect, "starting bots");

    let mut bots = JoinSet::new();
    for index in 0..config.count {
        let bot = Bot::new(index, Arc::clone(&config), Arc::clone(&shared));
        bots.spawn(bot.run(Arc::clone(&ramp), deadline));
    }
    let display = progress.map(|multi| Display::start(&multi, Arc::clone(&shared), config.count));

    let hard_stop = deadline + config.grace + HARD_STOP_SLACK;
    loop {
        match tokio::time::timeout_at(hard_stop, bots.join_next()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(error))) => {
                tracing::error!(%error, "a bot task failed");
                shared.errors.fetch_add(1, Relaxed);
            }
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(left = bots.len(), "bots still running at the hard stop; aborting them");
                bots.abort_all();
                while bots.join_next().await.is_some() {}
                break;
            }
        }
    }
    if let Some(display) = display {
        display.stop();
    }
    Ok(shared.summary(config.scenario, config.count, start.elapsed()))
}

/// The live progress bar and the task that refreshes it.
struct Display {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Display {
    fn start(multi: &MultiProgress, shared: Arc<Shared>, count: usize) -> Display {
        let bar = multi.add(ProgressBar::new(count as u64));
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} in space  {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let refreshed = bar.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(PROGRESS_EVERY);
            loop {
                ticker.tick().await;
                refreshed.set_position(shared.in_space.load(Relaxed));
                refreshed.set_message(format!(
                    "connected {} · jumps {} · chat {}/{} · errors {} · disconnects {}",
                    shared.connected.load(Relaxed),
                    shared.jumps.load(Relaxed),
                    shared.chat_sent.load(Relaxed),
                    shared.chat_received.load(Relaxed),
                    shared.errors.load(Relaxed),
                    shared.disconnects.load(Relaxed),
                ));
            }
        });
        Display { bar, task }
    }

    fn stop(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
