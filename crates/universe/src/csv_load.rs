//! Loading a universe from the CSV layout of the EVE static data export (see `shared/data/eve/README.md`):
//!
//! | file | required columns | optional |
//! | --- | --- | --- |
//! | systems.csv | `system_id,name,constellation_id,region_id,x,y,z,security` | `kind` (kspace, wspace, other; default kspace) |
//! | jumps.csv | `from_system_id,to_system_id` | |
//! | constellations.csv | `constellation_id,name,region_id` | |
//! | regions.csv | `region_id,name` | |
//!
//! Extra columns are ignored and columns may come in any order. The constellation and region files are
//! optional: without them the groups get placeholder names.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::csv_table::{CsvTable, Input, open_file as open};
use crate::{
    Constellation, ConstellationId, LoadError, Location, Region, RegionId, SolarSystem, SystemId, SystemKind, Universe,
    Vec3,
};

/// The inputs of [`load_universe`]; only the systems are required.
pub struct UniverseFiles<'a> {
    /// `systems.csv`: every system with its position, security and groups; the universe is these systems.
    pub systems: Input<'a>,
    /// `jumps.csv`: the stargates; without it the systems stand unconnected (fine for purely spatial tests).
    pub jumps: Option<Input<'a>>,
    /// `constellations.csv`: names for the constellations; without it they get placeholder names.
    pub constellations: Option<Input<'a>>,
    /// `regions.csv`: names for the regions; without it they get placeholder names.
    pub regions: Option<Input<'a>>,
}

/// Reads a universe from CSV inputs, checking every row: ids unique, gates joining known systems, positions and
/// security finite. The first problem found is returned with its file, line and column.
pub fn load_universe(files: UniverseFiles<'_>) -> Result<Universe, LoadError> {
    let regions = match files.regions {
        Some(input) => read_regions(input)?,
        None => Vec::new(),
    };
    let constellations = match files.constellations {
        Some(input) => read_constellations(input)?,
        None => Vec::new(),
    };
    let systems = read_systems(files.systems)?;
    let gates = match files.jumps {
        Some(input) => read_jumps(input, &systems)?,
        None => Vec::new(),
    };
    let systems: Vec<SolarSystem> = systems.into_iter().map(|(_, s)| s).collect();
    Universe::new(systems, &gates, constellations, regions)
        .map_err(|e| LoadError::invalid(Location::file("universe"), e.to_string()))
}

/// Opens the files and calls [`load_universe`]. When `jumps` is `None` the universe has no stargates.
/// `constellations.csv` and `regions.csv` are picked up from the directory of the systems file when present.
pub fn load_universe_paths(systems: &Path, jumps: Option<&Path>) -> Result<Universe, LoadError> {
    let dir = systems.parent().unwrap_or(Path::new("."));
    let beside = |name: &str| -> Option<PathBuf> {
        let path = dir.join(name);
        path.is_file().then_some(path)
    };
    let constellations = beside("constellations.csv");
    let regions = beside("regions.csv");

    let names: Vec<String> = [Some(systems), jumps, constellations.as_deref(), regions.as_deref()]
        .iter()
        .map(|p| p.map(|p| p.display().to_string()).unwrap_or_default())
        .collect();
    let mut systems_reader = open(systems, &names[0])?;
    let mut jumps_reader = jumps.map(|p| open(p, &names[1])).transpose()?;
    let mut constellations_reader = constellations.as_deref().map(|p| open(p, &names[2])).transpose()?;
    let mut regions_reader = regions.as_deref().map(|p| open(p, &names[3])).transpose()?;
    load_universe(UniverseFiles {
        systems: Input::new(&names[0], &mut systems_reader),
        jumps: jumps_reader.as_mut().map(|r| Input::new(&names[1], r as &mut dyn Read)),
        constellations: constellations_reader.as_mut().map(|r| Input::new(&names[2], r as &mut dyn Read)),
        regions: regions_reader.as_mut().map(|r| Input::new(&names[3], r as &mut dyn Read)),
    })
}

fn read_regions(input: Input<'_>) -> Result<Vec<Region>, LoadError> {
    let mut table = CsvTable::open(input)?;
    let (id_col, name_col) = (table.column("region_id")?, table.column("name")?);
    let mut seen = HashMap::new();
    let mut regions = Vec::new();
    table.for_each_row(|row| {
        let id = RegionId(row.parse(id_col, "a region id (a whole number)")?);
        row.first_time(&mut seen, id_col, "region", id)?;
        regions.push(Region { id, name: row.text(name_col).to_owned() });
        Ok(())
    })?;
    Ok(regions)
}

fn read_constellations(input: Input<'_>) -> Result<Vec<Constellation>, LoadError> {
    let mut table = CsvTable::open(input)?;
    let id_col = table.column("constellation_id")?;
    let name_col = table.column("name")?;
    let region_col = table.column("region_id")?;
    let mut seen = HashMap::new();
    let mut constellations = Vec::new();
    table.for_each_row(|row| {
        let id = ConstellationId(row.parse(id_col, "a constellation id (a whole number)")?);
        row.first_time(&mut seen, id_col, "constellation", id)?;
        let region = RegionId(row.parse(region_col, "a region id (a whole number)")?);
        constellations.push(Constellation { id, name: row.text(name_col).to_owned(), region });
        Ok(())
    })?;
    Ok(constellations)
}

/// Systems with the line each was read from, in file order.
fn read_systems(input: Input<'_>) -> Result<Vec<(u64, SolarSystem)>, LoadError> {
    let mut table = CsvTable::open(input)?;
    let file = table.file();
    let id_col = table.column("system_id")?;
    let name_col = table.column("name")?;
    let constellation_col = table.column("constellation_id")?;
    let region_col = table.column("region_id")?;
    let (x_col, y_col, z_col) = (table.column("x")?, table.column("y")?, table.column("z")?);
    let security_col = table.column("security")?;
    let kind_col = table.optional_column("kind");
    let mut seen = HashMap::new();
    let mut systems = Vec::new();
    table.for_each_row(|row| {
        let id = SystemId(row.parse(id_col, "a system id (a whole number)")?);
        row.first_time(&mut seen, id_col, "system", id)?;
        let security = row.finite(security_col)?;
        if !(-1.0..=1.0).contains(&security) {
            return Err(LoadError::invalid(row.at(security_col), format!("{security} is outside -1.0 ..= 1.0")));
        }
        let kind = match kind_col {
            None => SystemKind::KSpace,
            Some(col) => SystemKind::parse(row.text(col)).ok_or_else(|| {
                LoadError::invalid(
                    row.at(col),
                    format!("`{}` is not a system kind (kspace, wspace or other)", row.text(col)),
                )
            })?,
        };
        systems.push((
            row.line,
            SolarSystem {
                id,
                name: row.text(name_col).to_owned(),
                position: Vec3::new(row.finite(x_col)?, row.finite(y_col)?, row.finite(z_col)?),
                security,
                constellation: ConstellationId(row.parse(constellation_col, "a constellation id (a whole number)")?),
                region: RegionId(row.parse(region_col, "a region id (a whole number)")?),
                kind,
            },
        ));
        Ok(())
    })?;
    if systems.is_empty() {
        return Err(LoadError::invalid(Location::file(file), "no systems: the file has a header but no rows"));
    }
    Ok(systems)
}

fn read_jumps(input: Input<'_>, systems: &[(u64, SolarSystem)]) -> Result<Vec<(SystemId, SystemId)>, LoadError> {
    let known: std::collections::HashSet<SystemId> = systems.iter().map(|(_, s)| s.id).collect();
    let mut table = CsvTable::open(input)?;
    let from_col = table.column("from_system_id")?;
    let to_col = table.column("to_system_id")?;
    let mut gates = Vec::new();
    table.for_each_row(|row| {
        let end = |col: usize| -> Result<SystemId, LoadError> {
            let id = SystemId(row.parse(col, "a system id (a whole number)")?);
            if known.contains(&id) {
                Ok(id)
            } else {
                Err(LoadError::invalid(row.at(col), format!("system {id} is not in the systems file")))
            }
        };
        let (from, to) = (end(from_col)?, end(to_col)?);
        if from == to {
            return Err(LoadError::invalid(row.at(to_col), format!("stargate from system {from} to itself")));
        }
        gates.push((from, to));
        Ok(())
    })?;
    Ok(gates)
}
