//! The generated scenery: deterministic, one gate per neighbour, unique celestial ids, sensible geometry.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::{ALPHA, BETA, DELTA, GAMMA, tiny_universe};
use orrery_sim::{AU_M, CelestialKind, LayoutError, SystemLayout, is_celestial};
use orrery_universe::{GeneratorConfig, SystemId, generate};

#[test]
fn the_same_universe_gives_the_same_layouts() {
    let config = GeneratorConfig { systems: 150, ..GeneratorConfig::default() };
    let (first, second) = (generate(&config), generate(&config));
    for index in 0..first.len() {
        assert_eq!(SystemLayout::generate(&first, index), SystemLayout::generate(&second, index));
    }
}

#[test]
fn every_neighbour_gets_one_gate_and_every_id_is_unique() {
    let universe = generate(&GeneratorConfig { systems: 150, ..GeneratorConfig::default() });
    let mut ids = HashSet::new();
    for index in 0..universe.len() {
        let system = universe.system(index);
        let layout = SystemLayout::generate(&universe, index).expect("a valid index");
        assert_eq!(layout.system_id, system.id.0);
        let neighbours: BTreeSet<u32> = universe.neighbours(index).iter().map(|&n| universe.system(n).id.0).collect();
        let destinations: BTreeSet<u32> = layout.gates().filter_map(|g| g.destination).collect();
        assert_eq!(destinations, neighbours);
        assert_eq!(layout.gates().count(), neighbours.len());
        for &neighbour in &neighbours {
            let gate = layout.gate_to(neighbour).expect("a gate per neighbour");
            let name = &universe.by_id(SystemId(neighbour)).expect("a known system").name;
            assert_eq!(gate.name, format!("Stargate ({name})"));
            assert_eq!(layout.celestial(gate.id), Some(gate));
        }
        for celestial in &layout.celestials {
            assert!(is_celestial(celestial.id));
            assert!(ids.insert(celestial.id), "celestial id {} appears twice", celestial.id);
        }
    }
}

#[test]
fn star_planets_and_gates_sit_where_they_should() {
    let universe = generate(&GeneratorConfig { systems: 150, ..GeneratorConfig::default() });
    let mut planet_counts = BTreeSet::new();
    for index in 0..universe.len() {
        let layout = SystemLayout::generate(&universe, index).expect("a valid index");
        let name = &universe.system(index).name;
        assert_eq!(layout.celestials[0].kind, CelestialKind::Star);
        assert_eq!(layout.celestials[0].position, orrery_sim::Vec3::ZERO);
        let planets: Vec<_> = layout.celestials.iter().filter(|c| c.kind == CelestialKind::Planet).collect();
        assert!((1..=12).contains(&planets.len()));
        planet_counts.insert(planets.len());
        let numerals = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"];
        let mut previous_orbit = 0.0;
        for (planet, numeral) in planets.iter().zip(numerals) {
            assert_eq!(planet.name, format!("{name} {numeral}"));
            let orbit = planet.position.length() / AU_M;
            // Orbits are 0.3..=40 AU in the plane, lifted by at most 5 % of the radius.
            assert!((0.3..=40.0 * 1.002).contains(&orbit), "{orbit} AU");
            assert!(planet.position.y.abs() <= 0.051 * orbit * AU_M);
            assert!(orbit >= previous_orbit * 0.998, "planets are numbered outwards");
            previous_orbit = orbit;
        }
        for gate in layout.gates() {
            let au = gate.position.length() / AU_M;
            assert!((5.0..=30.0).contains(&au), "{au} AU");
        }
    }
    assert!(planet_counts.len() > 6, "planet counts vary between systems: {planet_counts:?}");
}

#[test]
fn gates_point_towards_their_neighbour() {
    let universe = tiny_universe();
    let alpha = SystemLayout::generate(&universe, 0).expect("Alpha");
    let to_beta = alpha.gate_to(BETA).expect("Alpha has a gate to Beta").position;
    assert!(to_beta.x > 0.0 && to_beta.y.abs() < 1.0 && to_beta.z.abs() < 1.0, "{to_beta:?}");
    let to_gamma = alpha.gate_to(GAMMA).expect("Alpha has a gate to Gamma").position;
    assert!(to_gamma.z > 0.0 && to_gamma.x.abs() < 1.0, "{to_gamma:?}");
    let beta = SystemLayout::generate(&universe, 1).expect("Beta");
    assert!(beta.gate_to(ALPHA).expect("the gate back").position.x < 0.0);
    assert!(beta.gate_to(GAMMA).is_none(), "Beta and Gamma are not joined");
    let delta = SystemLayout::generate(&universe, 3).expect("Delta");
    assert_eq!(delta.system_id, DELTA);
    assert_eq!(delta.gates().count(), 0);
}

#[test]
fn an_index_out_of_range_is_an_error() {
    assert_eq!(SystemLayout::generate(&tiny_universe(), 4), Err(LayoutError::NoSuchSystem { index: 4, len: 4 }));
}
