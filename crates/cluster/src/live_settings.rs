//! Settings from the database, live: a watcher polls the `settings` table, validates every row with
//! `orrery-settings`, logs each change with its old and new value (and each refused value once, with the
//! reason — the previous value stays in force), and broadcasts the settings in force on the `cluster`
//! subject, where sol nodes and proxies apply what concerns them. A change made with any SQL client takes
//! effect within one poll interval.
//!
//! The command line gives the cluster's base values; a row in the table overrides its key, and deleting the
//! row returns the key to the base value.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orrery_bus::Bus;
use orrery_proto::v1;
use orrery_settings::Settings;
use orrery_store::Store;
use parking_lot::Mutex;
use prost::Message;
use tokio_util::sync::CancellationToken;

/// The settings in force, shared with the admin API.
pub type SharedSettings = Arc<Mutex<Settings>>;

/// What the settings look like on the bus.
pub fn to_message(settings: &Settings) -> v1::LiveSettings {
    v1::LiveSettings {
        idle_timeout_s: settings.idle_timeout_s,
        rate_limit_per_s: settings.rate_limit_per_s,
        max_players: settings.max_players,
        system_max_players: settings.system_max_players.iter().map(|(k, v)| (*k, *v)).collect(),
        tick_ms: settings.tick_ms,
        system_tick_ms: settings.system_tick_ms.iter().map(|(k, v)| (*k, *v)).collect(),
        tidi_floor: settings.tidi_floor,
        max_frame_bytes: settings.max_frame_bytes as u64,
        motd: settings.motd.clone(),
    }
}

/// Publish the settings in force on the `cluster` subject, where nodes and proxies apply them; a failure is
/// logged, not returned, because the next change (or the next start) broadcasts again.
pub async fn broadcast(bus: &dyn Bus, settings: &Settings) {
    let event = v1::ClusterEvent { body: Some(v1::cluster_event::Body::Settings(to_message(settings))) };
    if let Err(problem) = bus.publish(orrery_proto::CLUSTER_SUBJECT, Bytes::from(event.encode_to_vec())).await {
        tracing::error!(%problem, "could not broadcast settings");
    }
}

/// Poll the table every `every` until `stop`; `base` holds the command line's values.
pub async fn watch(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    base: Settings,
    shared: SharedSettings,
    every: Duration,
    stop: CancellationToken,
) {
    let base_rows: BTreeMap<String, String> =
        base.entries().into_iter().map(|(key, value)| (key, value.to_json_text())).collect();
    let mut reported: HashSet<(String, String)> = HashSet::new();
    loop {
        match store.settings().await {
            Ok(rows) => {
                let mut merged = base_rows.clone();
                merged.extend(rows.into_iter().map(|row| (row.key, row.value)));
                let rows: Vec<(String, String)> = merged.into_iter().collect();
                let current = shared.lock().clone();
                let reconciled = orrery_settings::reconcile(&current, &rows);
                for rejection in &reconciled.rejected {
                    if reported.insert((rejection.key.clone(), rejection.raw.clone())) {
                        tracing::error!(
                            key = %rejection.key,
                            value = %rejection.raw,
                            reason = %rejection.reason,
                            "setting refused; the previous value stays in force"
                        );
                    }
                }
                reported.retain(|(key, raw)| rows.iter().any(|(k, r)| k == key && r == raw));
                if !reconciled.changes.is_empty() {
                    for change in &reconciled.changes {
                        tracing::info!(
                            key = %change.key,
                            old = %change.old.to_json_text(),
                            new = %change.new.to_json_text(),
                            "setting changed"
                        );
                    }
                    *shared.lock() = reconciled.settings.clone();
                    broadcast(bus.as_ref(), &reconciled.settings).await;
                }
            }
            Err(problem) => tracing::error!(%problem, "cannot read settings"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
