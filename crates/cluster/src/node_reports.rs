//! The coordinator's view of the sol nodes' health, kept from the bus: the latest report each node published
//! on `node.<id>.report`, and when it arrived. The coordinator holds no pointer into a node; this board is the
//! same whether the nodes are threads beside it or processes elsewhere, and the arrival times are the
//! heartbeats a node lease is built on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use orrery_bus::{Bus, BusError, Subscription};
use orrery_node::NodeReport;
use orrery_proto::v1;
use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;

/// One node's latest report and when it arrived.
#[derive(Debug, Clone)]
pub struct Heard {
    /// What the node said about itself: its systems, their load and time dilation.
    pub report: NodeReport,
    /// When it arrived (monotonic clock): the heartbeat a lease on the node is judged by.
    pub at: Instant,
}

/// The latest report of every node heard from, by node id.
#[derive(Clone, Default)]
pub struct NodeReports {
    latest: Arc<RwLock<BTreeMap<u32, Heard>>>,
}

impl NodeReports {
    /// Subscribe to the reports of nodes `0..nodes` and keep the latest of each until `stop`.
    pub async fn follow(bus: &dyn Bus, nodes: u32, stop: CancellationToken) -> Result<NodeReports, BusError> {
        let board = NodeReports::default();
        for node in 0..nodes {
            let subscription = bus.subscribe(&orrery_proto::node_report_subject(node)).await?;
            tokio::spawn(board.clone().listen(node, subscription, stop.clone()));
        }
        Ok(board)
    }

    async fn listen(self, node: u32, mut subscription: Subscription, stop: CancellationToken) {
        loop {
            let payload = tokio::select! {
                _ = stop.cancelled() => return,
                payload = subscription.next() => match payload {
                    Some(payload) => payload,
                    None => return,
                },
            };
            match orrery_proto::frame::decode::<v1::NodeReport>(&payload) {
                Ok(message) if message.node_id == node => self.record(NodeReport::from_message(&message)),
                Ok(message) => {
                    tracing::warn!(
                        subject_node = node,
                        claimed = message.node_id,
                        "node report on another node's subject ignored"
                    );
                }
                Err(problem) => tracing::warn!(node, %problem, "undecodable node report ignored"),
            }
        }
    }

    /// Keep `report` unless a newer one of the same node is already kept (a report from a restarted node —
    /// another incarnation, whose count starts again — replaces whatever was kept).
    fn record(&self, report: NodeReport) {
        let mut latest = self.latest.write();
        let stale = latest.get(&report.node_id).is_some_and(|kept| {
            kept.report.incarnation == report.incarnation && kept.report.sequence >= report.sequence
        });
        if !stale {
            latest.insert(report.node_id, Heard { report, at: Instant::now() });
        }
    }

    /// The latest report of every node heard from, in node order.
    pub fn latest(&self) -> Vec<NodeReport> {
        self.latest.read().values().map(|heard| heard.report.clone()).collect()
    }

    /// The latest report of every node heard from within `age`, in node order: the nodes alive as far as the
    /// bus tells (a dead node's last report stays behind in [`NodeReports::latest`]).
    pub fn latest_within(&self, age: std::time::Duration) -> Vec<NodeReport> {
        self.latest
            .read()
            .values()
            .filter(|heard| heard.at.elapsed() <= age)
            .map(|heard| heard.report.clone())
            .collect()
    }

    /// One node's latest report and when it arrived; `None` before its first.
    pub fn heard(&self, node: u32) -> Option<Heard> {
        self.latest.read().get(&node).cloned()
    }
}
