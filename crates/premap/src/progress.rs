//! What a long premap is doing, for a caller that shows it.
//!
//! `best` takes milliseconds at 250 nodes but up to half a minute at 24–64 nodes, where its searches for fewer
//! cut gates (kicks and regions, steps 10 and 11 of docs/premap.md) run. The library has no clock and does no
//! I/O; [`crate::premap_with_progress`] calls back with a [`Progress`] as `best` moves on, and the caller decides
//! what to show (`orrery run` and `orrery premap` turn it into a progress bar).

/// Where `best` is. The other strategies report nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Steps 1–8: the cap, the bisections, the balance.
    Placing,
    /// Step 9: touching nodes redraw their borders for fewer cut gates.
    Recombining,
    /// Step 10: `kicks` kicks in all.
    Kicking {
        /// How many kicks step 10 tries in all (kicks per node times the shared nodes), so a caller can say
        /// how much work lies ahead; the kicks themselves are not reported one by one.
        kicks: usize,
    },
    /// Step 11: region `region` of `regions` (one a node) in round `round` (from 1) of at most `rounds`.
    Regions {
        /// The round under way, from 1: first the rounds for fewer cut gates, then those for compact nodes.
        round: usize,
        /// The most rounds there can be; fewer run when a round keeps nothing, so this is a bound, not a promise.
        rounds: usize,
        /// The region about to be mapped again, from 1 (region `v` is node `v` with its closest neighbours).
        region: usize,
        /// Regions in a round: one per shared node.
        regions: usize,
    },
}
