//! Time Dilation: how a sol node slows its busiest systems down instead of falling behind on all of them.
//!
//! The node measures the CPU time of every system's tick and feeds it to a [`TidiController`]. Each system's
//! *demand* is the fraction of a core it needs at full speed: its smoothed tick work divided by its nominal
//! tick interval. While the total fits the node's budget every system runs at full speed. When it does not, the
//! budget is shared max-min fairly (water-filling): there is a share `s` with `Σ min(demandᵢ, s) = budget`;
//! systems needing less than `s` keep full speed, the others are slowed to `s / demandᵢ` (never below the
//! floor). Factors fall at once, to protect the node, and recover gradually, so a brief lull does not bounce
//! a fleet fight back to full speed.
//!
//! The controller does not read clocks: work comes in as numbers and [`TidiController::update`] is called by
//! the node on its own schedule.

use std::collections::BTreeMap;

/// How the controller shares a node's CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TidiConfig {
    /// The slowest a system may run, as a fraction of full speed (EVE: 0.1).
    pub floor: f64,
    /// The fraction of one core the node may spend on ticks; the rest is for networking and persistence.
    pub budget: f64,
    /// The weight of a new work sample in the moving average (1 = no smoothing).
    pub smoothing: f64,
    /// The most a factor may rise per update.
    pub recovery_per_update: f64,
}

impl Default for TidiConfig {
    fn default() -> Self {
        TidiConfig { floor: 0.1, budget: 0.8, smoothing: 0.3, recovery_per_update: 0.1 }
    }
}

/// A configuration value out of its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tidi.{field}: {value} is not in {range}")]
pub struct TidiConfigError {
    /// The offending field of [`TidiConfig`], as named in settings (`floor`, `budget`, …).
    pub field: &'static str,
    /// The value that was refused.
    pub value: f64,
    /// The range it must lie in, written out for the message (e.g. `(0, 1]`).
    pub range: &'static str,
}

impl TidiConfig {
    /// Checks every field: floor, smoothing and recovery in (0, 1], budget positive and finite.
    pub fn validate(&self) -> Result<(), TidiConfigError> {
        let unit = |field, value: f64| {
            if value > 0.0 && value <= 1.0 { Ok(()) } else { Err(TidiConfigError { field, value, range: "(0, 1]" }) }
        };
        unit("floor", self.floor)?;
        unit("smoothing", self.smoothing)?;
        unit("recovery_per_update", self.recovery_per_update)?;
        if !(self.budget > 0.0 && self.budget.is_finite()) {
            return Err(TidiConfigError { field: "budget", value: self.budget, range: "(0, ∞)" });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct SystemLoad {
    /// Moving average of work / interval: the fraction of a core needed at full speed.
    demand: f64,
    factor: f64,
}

/// The per-node Time Dilation controller: work samples in, per-system speed factors out. Deterministic (systems
/// are kept in id order). The default uses [`TidiConfig::default`].
#[derive(Debug, Clone, Default)]
pub struct TidiController {
    config: TidiConfig,
    systems: BTreeMap<u32, SystemLoad>,
}

impl TidiController {
    /// A controller with no systems, if the configuration is valid.
    pub fn new(config: TidiConfig) -> Result<Self, TidiConfigError> {
        config.validate()?;
        Ok(TidiController { config, systems: BTreeMap::new() })
    }

    /// The configuration in force, including a floor changed with [`set_floor`](Self::set_floor).
    pub fn config(&self) -> &TidiConfig {
        &self.config
    }

    /// Records one tick of `system`: the CPU seconds it took and its nominal tick interval in seconds. Samples
    /// that are not finite, negative, or have no positive interval are ignored. A new system runs at full speed
    /// until the next [`update`](Self::update).
    pub fn observe(&mut self, system: u32, work_s: f64, nominal_interval_s: f64) {
        let sample = work_s / nominal_interval_s;
        if !(work_s >= 0.0 && nominal_interval_s > 0.0 && sample.is_finite()) {
            return;
        }
        let weight = self.config.smoothing;
        self.systems
            .entry(system)
            .and_modify(|load| load.demand = weight * sample + (1.0 - weight) * load.demand)
            .or_insert(SystemLoad { demand: sample, factor: 1.0 });
    }

    /// Forgets a system (unloaded or moved away).
    pub fn remove(&mut self, system: u32) {
        self.systems.remove(&system);
    }

    /// Change the floor while running (an operator's live setting). Refused, leaving the old floor, when the new
    /// one is out of range.
    pub fn set_floor(&mut self, floor: f64) -> Result<(), TidiConfigError> {
        let config = TidiConfig { floor, ..self.config };
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Recomputes every factor from the current demands: falls to the target at once, rises by at most
    /// `recovery_per_update`.
    pub fn update(&mut self) {
        let share = fair_share(self.systems.values().map(|load| load.demand), self.config.budget);
        for load in self.systems.values_mut() {
            let target = match share {
                Some(share) if load.demand > share => (share / load.demand).clamp(self.config.floor, 1.0),
                _ => 1.0,
            };
            load.factor =
                if target < load.factor { target } else { (load.factor + self.config.recovery_per_update).min(target) };
        }
    }

    /// The speed factor of a system: 1.0 is full speed; unknown systems run at full speed.
    pub fn factor(&self, system: u32) -> f64 {
        self.systems.get(&system).map_or(1.0, |load| load.factor)
    }

    /// Every known system's factor, in system id order.
    pub fn factors(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.systems.iter().map(|(&id, load)| (id, load.factor))
    }

    /// A system's smoothed demand (fraction of a core at full speed), if it has been observed.
    pub fn demand(&self, system: u32) -> Option<f64> {
        self.systems.get(&system).map(|load| load.demand)
    }
}

/// The max-min fair share of `budget` among `demands`: the `s` with `Σ min(dᵢ, s) = budget`, or `None` when all
/// demands fit in the budget together (nobody needs slowing down).
pub fn fair_share(demands: impl Iterator<Item = f64>, budget: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = demands.collect();
    if sorted.iter().sum::<f64>() <= budget {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mut remaining = budget;
    for (i, &demand) in sorted.iter().enumerate() {
        let share = remaining / (sorted.len() - i) as f64;
        if demand > share {
            return Some(share);
        }
        remaining -= demand;
    }
    None
}

/// A factor in thousandths, as the client protocol carries it (1000 = full speed).
pub fn permille(factor: f64) -> u32 {
    (factor.clamp(0.0, 1.0) * 1000.0).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: f64 = 1.0;

    fn controller() -> TidiController {
        TidiController::new(TidiConfig::default()).expect("the defaults are valid")
    }

    /// Feeds steady demands (CPU seconds per 1 s tick) until the averages settle, then updates.
    fn settle(tidi: &mut TidiController, demands: &[(u32, f64)]) {
        for _ in 0..60 {
            for &(system, work) in demands {
                tidi.observe(system, work, INTERVAL);
            }
        }
        tidi.update();
    }

    #[test]
    fn everything_fits_at_full_speed() {
        let mut tidi = controller();
        settle(&mut tidi, &[(1, 0.2), (2, 0.3), (3, 0.25)]);
        assert!(tidi.factors().all(|(_, f)| f == 1.0));
        assert_eq!(tidi.factor(99), 1.0);
    }

    #[test]
    fn one_heavy_system_is_dilated_and_the_quiet_ones_are_not() {
        let mut tidi = controller();
        let demands = [(1, 0.05), (2, 1.6), (3, 0.1)];
        settle(&mut tidi, &demands);
        assert_eq!(tidi.factor(1), 1.0);
        assert_eq!(tidi.factor(3), 1.0);
        let heavy = tidi.factor(2);
        assert!((heavy - 0.65 / 1.6).abs() < 1e-9, "{heavy}");
        let used: f64 = demands.iter().map(|&(s, _)| tidi.demand(s).unwrap_or(0.0) * tidi.factor(s)).sum();
        assert!(used <= 0.8 + 1e-9, "{used}");
    }

    #[test]
    fn the_floor_holds_under_extreme_load() {
        let mut tidi = controller();
        settle(&mut tidi, &[(1, 50.0), (2, 80.0)]);
        assert_eq!(tidi.factor(1), 0.1);
        assert_eq!(tidi.factor(2), 0.1);
    }

    #[test]
    fn recovery_is_gradual_and_monotone() {
        let mut tidi = controller();
        settle(&mut tidi, &[(1, 8.0)]);
        assert_eq!(tidi.factor(1), 0.1);
        let mut previous = tidi.factor(1);
        let mut updates = 0;
        while tidi.factor(1) < 1.0 && updates < 100 {
            tidi.observe(1, 0.1, INTERVAL);
            tidi.update();
            let now = tidi.factor(1);
            assert!(now >= previous && now - previous <= 0.1 + 1e-12, "{previous} -> {now}");
            previous = now;
            updates += 1;
        }
        assert!(updates >= 9, "recovered from 0.1 to 1.0 in {updates} updates");
        assert_eq!(tidi.factor(1), 1.0);
    }

    #[test]
    fn removal_frees_the_budget() {
        let mut tidi = controller();
        settle(&mut tidi, &[(1, 0.6), (2, 0.6)]);
        assert!((tidi.factor(1) - 0.4 / 0.6).abs() < 1e-9);
        tidi.remove(2);
        assert_eq!(tidi.factors().count(), 1);
        assert_eq!(tidi.factor(2), 1.0);
        for _ in 0..5 {
            tidi.update();
        }
        assert_eq!(tidi.factor(1), 1.0);
    }

    #[test]
    fn bad_samples_are_ignored() {
        let mut tidi = controller();
        tidi.observe(1, 0.5, INTERVAL);
        for (work, interval) in [(f64::NAN, 1.0), (-1.0, 1.0), (f64::INFINITY, 1.0), (1.0, 0.0), (1.0, f64::NAN)] {
            tidi.observe(1, work, interval);
            tidi.observe(2, work, interval);
        }
        assert_eq!(tidi.demand(1), Some(0.5));
        assert_eq!(tidi.demand(2), None);
        tidi.update();
        assert_eq!(tidi.factor(1), 1.0);
    }

    #[test]
    fn smoothing_weighs_new_samples() {
        let mut tidi = controller();
        tidi.observe(1, 1.0, 0.5);
        tidi.observe(1, 0.0, 0.5);
        assert!(tidi.demand(1).is_some_and(|d| (d - 0.7 * 2.0).abs() < 1e-12));
    }

    #[test]
    fn invalid_configurations_are_refused() {
        for config in [
            TidiConfig { floor: 0.0, ..TidiConfig::default() },
            TidiConfig { budget: f64::NAN, ..TidiConfig::default() },
            TidiConfig { smoothing: 1.5, ..TidiConfig::default() },
            TidiConfig { recovery_per_update: -0.1, ..TidiConfig::default() },
        ] {
            assert!(TidiController::new(config).is_err(), "{config:?}");
        }
    }

    #[test]
    fn fair_share_water_fills() {
        assert_eq!(fair_share([0.1, 0.2].into_iter(), 0.8), None);
        assert_eq!(fair_share([0.1, 1.0, 1.0].into_iter(), 0.7), Some(0.3));
        assert_eq!(permille(0.4063), 406);
        assert_eq!(permille(f64::NAN), 0);
    }
}
