//! Emergency shutdown: scheduled with a countdown, announced to every client (at the start, every minute,
//! then every 10 s in the last minute), cancellable until it fires. The operator must name the cluster
//! exactly: a shutdown aimed at the wrong cluster is never one click away. When it fires, proxies refuse
//! logins and disconnect everyone with the reason, and whoever runs the cluster stops it gracefully
//! (everything is stored).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use orrery_bus::Bus;
use orrery_proto::v1;
use parking_lot::Mutex;
use prost::Message;
use tokio_util::sync::CancellationToken;

/// Longest countdown accepted.
pub const MAX_COUNTDOWN_S: u64 = 24 * 3600;

/// A shutdown that is counting down: what the dashboard and the admin API show while it can still be
/// cancelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Why, as the operator gave it; every announcement to the players repeats it.
    pub reason: String,
    /// When it fires, in milliseconds since the Unix epoch (wall clock, so other machines can show it).
    pub fires_at_unix_ms: u64,
}

/// Why a shutdown request was refused; each variant names the request field at fault, so the admin API can
/// point the operator at it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShutdownError {
    /// The cluster name typed does not match: the guard against shutting down the wrong cluster.
    #[error("cluster: `{given}` is not this cluster's name")]
    WrongCluster {
        /// The name the operator typed.
        given: String,
    },
    /// The countdown, in seconds, is longer than [`MAX_COUNTDOWN_S`].
    #[error("in_seconds: {0} is more than {MAX_COUNTDOWN_S}")]
    TooLong(u64),
    /// The reason is empty or too long to announce to players.
    #[error("reason: {0}")]
    BadReason(&'static str),
    /// Cancel was asked with no shutdown counting down.
    #[error("no shutdown is scheduled")]
    NoneScheduled,
}

/// The cluster's one emergency shutdown: at most one countdown at a time (a new schedule replaces the old),
/// shared by the admin API, which schedules and cancels it, and whoever runs the cluster, which waits for
/// [`EmergencyShutdown::fired`] to stop it.
pub struct EmergencyShutdown {
    cluster_name: String,
    bus: Arc<dyn Bus>,
    current: Mutex<Option<(Scheduled, CancellationToken)>>,
    fired: CancellationToken,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// "5 min 20 s", "45 s".
pub fn describe(seconds: u64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// When to announce, as seconds left: the start, every whole minute, every 10 s in the last minute.
pub fn announcements(total: u64) -> Vec<u64> {
    let mut at: Vec<u64> = vec![total];
    at.extend((1..=total / 60).map(|m| m * 60).filter(|s| *s < total));
    at.extend([50, 40, 30, 20, 10].into_iter().filter(|s| *s < total && *s < 60));
    at.sort_unstable_by(|a, b| b.cmp(a));
    at.dedup();
    at
}

impl EmergencyShutdown {
    /// Nothing scheduled yet; `cluster_name` is what an operator must type to schedule, and announcements
    /// go to every client through `bus`.
    pub fn new(cluster_name: String, bus: Arc<dyn Bus>) -> Arc<EmergencyShutdown> {
        Arc::new(EmergencyShutdown { cluster_name, bus, current: Mutex::new(None), fired: CancellationToken::new() })
    }

    /// The name a shutdown request must give, shown on the dashboard so the operator can check it.
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// Completes when a scheduled shutdown fires.
    pub fn fired(&self) -> CancellationToken {
        self.fired.clone()
    }

    /// The countdown in progress, if any, for the dashboard.
    pub fn status(&self) -> Option<Scheduled> {
        self.current.lock().as_ref().map(|(scheduled, _)| scheduled.clone())
    }

    /// Schedule (or reschedule) the shutdown.
    pub fn schedule(
        self: &Arc<Self>,
        cluster: &str,
        in_seconds: u64,
        reason: &str,
    ) -> Result<Scheduled, ShutdownError> {
        if cluster != self.cluster_name {
            return Err(ShutdownError::WrongCluster { given: cluster.to_owned() });
        }
        if in_seconds > MAX_COUNTDOWN_S {
            return Err(ShutdownError::TooLong(in_seconds));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ShutdownError::BadReason("empty"));
        }
        if reason.len() > 200 {
            return Err(ShutdownError::BadReason("longer than 200 bytes"));
        }
        let scheduled = Scheduled { reason: reason.to_owned(), fires_at_unix_ms: now_ms() + in_seconds * 1000 };
        let cancel = CancellationToken::new();
        let previous = self.current.lock().replace((scheduled.clone(), cancel.clone()));
        if let Some((_, previous)) = previous {
            previous.cancel();
        }
        tracing::warn!(cluster = %self.cluster_name, in_seconds, reason, "emergency shutdown scheduled");
        tokio::spawn(self.clone().count_down(in_seconds, scheduled.reason.clone(), cancel));
        Ok(scheduled)
    }

    /// Stop the countdown and tell every client the shutdown is off; an error if none is scheduled.
    pub async fn cancel(&self) -> Result<(), ShutdownError> {
        let taken = self.current.lock().take();
        let Some((scheduled, token)) = taken else { return Err(ShutdownError::NoneScheduled) };
        token.cancel();
        tracing::warn!(cluster = %self.cluster_name, reason = %scheduled.reason, "emergency shutdown cancelled");
        self.announce(format!("The shutdown of {} has been cancelled.", self.cluster_name)).await;
        Ok(())
    }

    async fn count_down(self: Arc<Self>, total: u64, reason: String, cancel: CancellationToken) {
        let start = tokio::time::Instant::now();
        for left in announcements(total) {
            let at = start + Duration::from_secs(total - left);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(at) => {}
            }
            let text = format!("{} shuts down in {}: {reason}", self.cluster_name, describe(left));
            self.announce(text).await;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(start + Duration::from_secs(total)) => {}
        }
        tracing::warn!(cluster = %self.cluster_name, reason, "emergency shutdown fires");
        let event = v1::ClusterEvent {
            body: Some(v1::cluster_event::Body::ShuttingDown(v1::Notice {
                text: format!("{} is shutting down now: {reason}", self.cluster_name),
            })),
        };
        let _ = self.bus.publish(orrery_proto::CLUSTER_SUBJECT, Bytes::from(event.encode_to_vec())).await;
        self.fired.cancel();
    }

    async fn announce(&self, text: String) {
        let event = v1::ClusterEvent { body: Some(v1::cluster_event::Body::Notice(v1::Notice { text })) };
        if let Err(problem) = self.bus.publish(orrery_proto::CLUSTER_SUBJECT, Bytes::from(event.encode_to_vec())).await
        {
            tracing::error!(%problem, "could not announce the shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_every_minute_then_every_ten_seconds() {
        assert_eq!(announcements(185), vec![185, 180, 120, 60, 50, 40, 30, 20, 10]);
        assert_eq!(announcements(30), vec![30, 20, 10]);
        assert_eq!(announcements(0), vec![0]);
        assert_eq!(describe(320), "5 min 20 s");
        assert_eq!(describe(60), "1 min");
        assert_eq!(describe(9), "9 s");
    }
}
