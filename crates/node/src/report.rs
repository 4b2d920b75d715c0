//! A node's health report: what it publishes on `node.<id>.report` (see [`orrery_proto::node_report_subject`])
//! with every Time Dilation update. The coordinator reads it only from the bus, never from the node's memory,
//! so the same report reaches it whether the node is a thread beside it or a process on another machine.

use orrery_proto::v1;

/// One hosted system as the operators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemReport {
    /// The system reported on.
    pub system_id: u32,
    /// Ships in space there.
    pub ships: usize,
    /// Time Dilation factor: 1.0 at full speed, down to the floor while the node is overloaded.
    pub factor: f64,
    /// Smoothed work per tick, milliseconds.
    pub tick_work_ms: f64,
    /// A tick panicked: the system no longer runs and its commands are answered with UNAVAILABLE.
    pub failed: bool,
    /// Its nominal tick length in milliseconds.
    pub tick_ms: u32,
    /// Its player cap (`u32::MAX`: none); more pilots wait in its queue.
    pub max_players: u32,
    /// Players waiting for a place.
    pub queued: usize,
    /// Ships destroyed there since this node started hosting it.
    pub kills: u64,
}

/// What a node last reported (refreshed with every Time Dilation update).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeReport {
    /// The reporting node.
    pub node_id: u32,
    /// Every system it hosts.
    pub systems: Vec<SystemReport>,
    /// Ticks run since the node started, all systems together.
    pub ticks: u64,
    /// Ticks that started more than one nominal tick late.
    pub late_ticks: u64,
    /// This node's reports counted from 1 (0: none yet).
    pub sequence: u64,
    /// Random at every start of the node: a new incarnation's reports replace the old one's whatever their
    /// sequence (its first reports may have been lost).
    pub incarnation: u64,
    /// Checkpoint rows waiting for the store (at most the newest of each ship); grows during a store outage
    /// and drains when it ends.
    pub store_queued_rows: u64,
    /// How long the store has not answered this node's checkpoint writer, milliseconds (0: it answers).
    pub store_down_ms: u64,
    /// Connections to the bus lost since the node started.
    pub bus_disconnects: u64,
    /// When the node's last checkpoint landed in the store (ms since the Unix epoch; 0: none yet). A failover
    /// restores its systems as they were then: the ticks since are lost.
    pub last_checkpoint_unix_ms: u64,
}

impl NodeReport {
    /// The bus message of this report.
    pub fn to_message(&self) -> v1::NodeReport {
        v1::NodeReport {
            node_id: self.node_id,
            systems: self
                .systems
                .iter()
                .map(|system| v1::SystemReport {
                    system_id: system.system_id,
                    ships: saturate(system.ships),
                    factor: system.factor,
                    tick_work_ms: system.tick_work_ms,
                    failed: system.failed,
                    tick_ms: system.tick_ms,
                    max_players: system.max_players,
                    queued: saturate(system.queued),
                    kills: system.kills,
                })
                .collect(),
            ticks: self.ticks,
            late_ticks: self.late_ticks,
            sequence: self.sequence,
            incarnation: self.incarnation,
            store_queued_rows: self.store_queued_rows,
            store_down_ms: self.store_down_ms,
            bus_disconnects: self.bus_disconnects,
            last_checkpoint_unix_ms: self.last_checkpoint_unix_ms,
        }
    }

    /// A report received from the bus.
    pub fn from_message(message: &v1::NodeReport) -> NodeReport {
        NodeReport {
            node_id: message.node_id,
            systems: message
                .systems
                .iter()
                .map(|system| SystemReport {
                    system_id: system.system_id,
                    ships: system.ships as usize,
                    factor: system.factor,
                    tick_work_ms: system.tick_work_ms,
                    failed: system.failed,
                    tick_ms: system.tick_ms,
                    max_players: system.max_players,
                    queued: system.queued as usize,
                    kills: system.kills,
                })
                .collect(),
            ticks: message.ticks,
            late_ticks: message.late_ticks,
            sequence: message.sequence,
            incarnation: message.incarnation,
            store_queued_rows: message.store_queued_rows,
            store_down_ms: message.store_down_ms,
            bus_disconnects: message.bus_disconnects,
            last_checkpoint_unix_ms: message.last_checkpoint_unix_ms,
        }
    }
}

fn saturate(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_the_bus_encoding() {
        let report = NodeReport {
            node_id: 3,
            systems: vec![SystemReport {
                system_id: 30000142,
                ships: 12,
                factor: 0.4,
                tick_work_ms: 812.5,
                failed: true,
                tick_ms: 100,
                max_players: 500,
                queued: 7,
                kills: 5,
            }],
            ticks: 99,
            late_ticks: 4,
            sequence: 17,
            incarnation: 0x5eed,
            store_queued_rows: 1200,
            store_down_ms: 3500,
            bus_disconnects: 2,
            last_checkpoint_unix_ms: 1_796_000_000_000,
        };
        let bytes = prost::Message::encode_to_vec(&report.to_message());
        let decoded = orrery_proto::frame::decode::<v1::NodeReport>(&bytes).expect("decodes");
        assert_eq!(NodeReport::from_message(&decoded), report);
    }
}
