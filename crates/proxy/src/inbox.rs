//! The proxy's bus inbox (`proxy.<id>`): answers and re-routings from sol nodes, dispatched to sessions.

use std::sync::Arc;

use orrery_proto::v1::{self, proxy_inbox::Body};

use crate::Shared;
use crate::session::Control;

pub async fn serve(shared: Arc<Shared>, mut inbox: orrery_bus::Subscription) {
    loop {
        let message = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            message = inbox.next() => message,
        };
        let Some(message) = message else { return };
        let decoded: v1::ProxyInbox = match orrery_proto::frame::decode(&message) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::error!(%error, "undecodable message in the proxy inbox");
                continue;
            }
        };
        let control = match decoded.body {
            Some(Body::Forward(envelope)) => Control::Forward(envelope),
            Some(Body::Entered(entered)) => {
                Control::Entered { system: entered.system_id, ship_id: entered.ship_id, snapshot: entered.snapshot }
            }
            Some(Body::Left(envelope)) => Control::Left(envelope),
            Some(Body::Lost(lost)) => Control::Lost { system: lost.system_id, ship_id: lost.ship_id },
            None => continue,
        };
        if let Some(control) = tell(&shared, decoded.session_id, control) {
            tracing::debug!(session = decoded.session_id, "message for a session that is gone");
            if let Control::Entered { system, ship_id, .. } = control {
                // The client left while its ship was entering space: take the ship out again so that it
                // does not stay in space without a pilot.
                crate::session::send_out_of_space(&shared, None, (system, ship_id), decoded.session_id, None).await;
            }
        }
    }
}

/// Cluster-wide events (`cluster`): live settings, notices for everyone, the final shutdown.
pub async fn broadcasts(shared: Arc<Shared>, mut events: orrery_bus::Subscription) {
    use std::sync::atomic::Ordering::Relaxed;
    use v1::cluster_event::Body as E;
    loop {
        let message = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            message = events.next() => message,
        };
        let Some(message) = message else { return };
        let event: v1::ClusterEvent = match orrery_proto::frame::decode(&message) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(%error, "undecodable cluster event");
                continue;
            }
        };
        match event.body {
            Some(E::Settings(settings)) => {
                let live = &shared.live;
                live.idle_timeout_ms.store(settings.idle_timeout_s.saturating_mul(1000), Relaxed);
                live.rate_limit_per_s.store(u64::from(settings.rate_limit_per_s), Relaxed);
                live.max_frame_bytes.store(settings.max_frame_bytes, Relaxed);
                *live.motd.lock() = settings.motd;
            }
            Some(E::Notice(notice)) => tell_everyone(&shared, &Control::Notice(notice.text)),
            Some(E::SystemAdded(system)) => {
                shared.world.write().add(system);
            }
            Some(E::SessionOpened(opened)) => {
                // One session per account: a login on another proxy closes this proxy's session of the account.
                let elsewhere = opened.route.is_none_or(|route| route.proxy_id != shared.config.proxy_id);
                let previous = if elsewhere { shared.accounts.lock().taken_elsewhere(opened.account_id) } else { None };
                if let Some(previous) = previous {
                    tell(&shared, previous, Control::Replaced);
                }
            }
            Some(E::ShuttingDown(notice)) => {
                shared.closing.store(true, Relaxed);
                tell_everyone(&shared, &Control::Close(notice.text));
            }
            // Sessions address systems, never nodes: a system that moved is reached on the same subject, and
            // its new node holds what arrives during the move.
            Some(E::MappingChanged(epoch)) => tracing::debug!(epoch, "mapping changed"),
            None => {}
        }
    }
}

/// Pass a control message to one session of this proxy; given back if the session is gone.
pub(crate) fn tell(shared: &Shared, session_id: u64, control: Control) -> Option<Control> {
    let link = shared.sessions.lock().get(&session_id).cloned();
    match link {
        Some(link) => link.control(control).err(),
        None => Some(control),
    }
}

/// Pass a control message to every session of this proxy.
pub(crate) fn tell_everyone(shared: &Shared, control: &Control) {
    let sessions = shared.sessions.lock();
    for link in sessions.values() {
        let _ = link.control(control.clone());
    }
}
