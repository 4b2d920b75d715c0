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
    Kicking { kicks: usize },
    /// Step 11: region `region` of `regions` (one a node) in round `round` (from 1) of at most `rounds`.
    Regions { round: usize, rounds: usize, region: usize, regions: usize },
}
