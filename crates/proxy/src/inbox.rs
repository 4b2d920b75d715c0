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
            None => continue,
        };
        let link = shared.sessions.lock().ok().and_then(|sessions| sessions.get(&decoded.session_id).cloned());
        match link {
            Some(link) => {
                let _ = link.control.send(control);
            }
            None => {
                tracing::debug!(session = decoded.session_id, "message for a session that is gone");
                if let Control::Entered { system, ship_id, .. } = control {
                    // The client left while its ship was entering space: take the ship out again so that it
                    // does not stay in space without a pilot.
                    crate::session::send_out_of_space(&shared, system, ship_id, None).await;
                }
            }
        }
    }
}
