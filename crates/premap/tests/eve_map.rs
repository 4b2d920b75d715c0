//! The premapper on the real EVE k-space map (5,432 systems) with a load derived from its activity snapshot:
//! what `best` is built to achieve, checked where the data says it is achievable. The numbers behind these
//! bounds are in docs/benchmarks.md.
//!
//! The map lives outside the repository: `orrery_testdata::require_eve_data` finds it (`ORRERY_EVE_DATA`, by
//! default `../shared/data/eve` beside the repository); without it these tests fail and say so.

mod common;

use common::{assert_below, metis, run, run_with};
use orrery_premap::{Metrics, Options, Strategy};
use orrery_universe::Universe;

/// The map (from `ORRERY_EVE_DATA`, failing the test if it is missing) and its load.
fn eve() -> (Universe, Vec<f64>) {
    let dir = orrery_testdata::require_eve_data();
    common::eve::eve_kspace(&dir).unwrap_or_else(|e| panic!("the EVE map in {} does not load: {e}", dir.display()))
}

#[test]
fn best_keeps_every_node_in_one_piece_and_balances_like_lpt_up_to_64_nodes() {
    let (universe, load) = eve();
    for nodes in [3, 7, 24, 64] {
        let best = run(&universe, &load, nodes, Strategy::Best);
        let lpt = run(&universe, &load, nodes, Strategy::Lpt);
        let rcb = run(&universe, &load, nodes, Strategy::Rcb);
        assert_eq!(best.fragmented_nodes, 0, "{nodes} nodes: best split a node into pieces");
        assert!(
            best.shared_max_over_mean <= lpt.shared_max_over_mean * 1.001,
            "{nodes} nodes: best's balance {:.5} is not within 0.1% of LPT's {:.5}",
            best.shared_max_over_mean,
            lpt.shared_max_over_mean
        );
        assert_below(&format!("{nodes} nodes, cut gates"), best.cut_gates, "rcb", rcb.cut_gates);
        assert!(
            best.fragmented_nodes < rcb.fragmented_nodes.max(1),
            "{nodes} nodes: rcb should fragment nodes where best does not"
        );
        let metis = metis(&universe, &load, nodes);
        if nodes == 64 {
            // At LPT's balance (measured 2026-12-03: 1.0014 against LPT's 1.0015), better than METIS at its
            // default 3% (1.0249) on every measure since regions (step 11) run by default: 331 cut gates
            // against 342, no node in pieces against 14, 6.06 ly against 6.29.
            assert_beats_metis_on_every_measure(nodes, &best, &metis);
            regions_turned_off_cut_more_gates(&universe, &load, &best);
        } else {
            // With every node whole and (nearly) LPT's balance, no more cut gates than METIS (which runs at
            // 1–3% imbalance and leaves nodes in pieces at 7 and 24).
            assert!(
                best.cut_gates <= metis.cut_gates,
                "{nodes} nodes: best cuts {} gates, METIS {}",
                best.cut_gates,
                metis.cut_gates
            );
        }
    }
}

/// Regions (step 11) run by default at 64 nodes and can be turned off: off, `best` cuts more gates than `with`
/// (the default's metrics), every node still whole.
fn regions_turned_off_cut_more_gates(universe: &Universe, load: &[f64], with: &Metrics) {
    let off = run_with(universe, load, 64, Strategy::Best, Options { region_nodes: Some(0), ..Options::default() });
    assert_below("cut gates with regions", with.cut_gates, "without", off.cut_gates);
    assert_eq!(off.fragmented_nodes, 0, "without regions a node is in pieces");
}

#[test]
fn best_fragments_fewer_nodes_than_metis_and_rcb_at_250_nodes() {
    let (universe, load) = eve();
    let best = run(&universe, &load, 250, Strategy::Best);
    let rcb = run(&universe, &load, 250, Strategy::Rcb);
    // Balance before wholeness gives up connectivity on at most one node in five (measured: 40 of 244 shared
    // nodes in pieces, against rcb's 221 and METIS's 54) to bring the shared nodes from 1.25 to 1.029 × their
    // mean (LPT: 1.0073, METIS 1.34).
    assert!(
        best.fragmented_nodes * 4 < rcb.fragmented_nodes,
        "best {} vs rcb {}",
        best.fragmented_nodes,
        rcb.fragmented_nodes
    );
    assert!(best.shared_max_over_mean < 1.05, "best's shared-node balance {:.4}", best.shared_max_over_mean);
    let metis = metis(&universe, &load, 250);
    assert_below("nodes in pieces", best.fragmented_nodes, "METIS", metis.fragmented_nodes);
    assert_below("shared-node balance", best.shared_max_over_mean, "METIS", metis.shared_max_over_mean);
    // Jita and the other systems above the per-node share get nodes of their own under every strategy.
    let dedicated = |m: &Metrics| m.dedicated.iter().filter(|&&d| d).count();
    assert!(dedicated(&best) >= 1, "Jita should get a dedicated node at 250 nodes");
    assert_eq!(dedicated(&best), dedicated(&rcb));
}

/// Options allowing `imbalance` (a fraction of the ideal node load) above the ideal.
fn allowing(imbalance: f64) -> Options {
    Options { imbalance: Some(imbalance), ..Options::default() }
}

/// The EVE map, its load, and METIS's mapping of it on `nodes` nodes; fails loudly where METIS is left out.
fn eve_and_metis(nodes: usize) -> (Universe, Vec<f64>, Metrics) {
    let (universe, load) = eve();
    let metis = metis(&universe, &load, nodes);
    (universe, load, metis)
}

/// Asserts that `best` balances at least as well as `metis` (to the caps' tolerance of one part in 10⁹) and
/// beats it on every measure of locality at once: gates cut, nodes in pieces and mean spread.
fn assert_beats_metis_on_every_measure(nodes: usize, best: &Metrics, metis: &Metrics) {
    let measures = [
        ("balance", best.shared_max_over_mean, metis.shared_max_over_mean, true),
        ("cut gates", best.cut_gates as f64, metis.cut_gates as f64, false),
        ("nodes in pieces", best.fragmented_nodes as f64, metis.fragmented_nodes as f64, false),
        ("mean spread (ly)", best.mean_spread_ly, metis.mean_spread_ly, false),
    ];
    for (measure, best, metis, may_tie) in measures {
        assert!(
            best < metis || (may_tie && best <= metis * (1.0 + 1e-9)),
            "{nodes} nodes, {measure}: best {best:.4} against METIS {metis:.4}"
        );
    }
}

/// The trade-off behind the cut figures: METIS (at its default 3% tolerance) cuts fewer gates than `best` at
/// 250 nodes only because it balances far worse. Allowed a comparable imbalance, `best` beats it on every
/// measure at once — balance, gates cut, nodes in pieces and spread (measured 2026-12-03: 20% allowed gives
/// 1.200 × the mean, 721 cut gates, 5 nodes in pieces, 2.83 ly, against METIS's 1.345, 741, 54, 4.36 ly).
#[test]
fn allowed_metis_like_imbalance_best_beats_metis_on_every_measure_at_250_nodes() {
    let (universe, load, metis) = eve_and_metis(250);
    let best = run_with(&universe, &load, 250, Strategy::Best, allowing(0.20));
    let tight = run(&universe, &load, 250, Strategy::Best);
    assert_beats_metis_on_every_measure(250, &best, &metis);
    assert!(best.shared_max_over_mean <= 1.2 + 1e-9, "best passed the 20% allowed: {:.4}", best.shared_max_over_mean);
    // And the room is used: fewer gates cut and fewer nodes in pieces than at LPT's balance.
    assert!(best.cut_gates < tight.cut_gates && best.fragmented_nodes < tight.fragmented_nodes);
}

/// At 64 nodes METIS's default cuts fewer gates than `best` at LPT's balance (342 against 365), at 1.0249 × the
/// mean. Allowed exactly the imbalance METIS reached, `best` beats it on every measure at once (measured
/// 2026-12-03: 1.0249, 324 cut gates, no node in pieces, 5.38 ly, against METIS's 1.0249, 342, 14, 6.29 ly).
#[test]
fn at_metis_own_balance_best_beats_metis_on_every_measure_at_64_nodes() {
    let (universe, load, metis) = eve_and_metis(64);
    assert!(metis.dedicated.iter().all(|&d| !d), "the allowance below is relative to the mean of all nodes");
    let best = run_with(&universe, &load, 64, Strategy::Best, allowing(metis.shared_max_over_mean - 1.0));
    assert_beats_metis_on_every_measure(64, &best, &metis);
}
