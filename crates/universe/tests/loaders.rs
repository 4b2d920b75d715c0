//! The CSV loaders: the happy path, and for every kind of bad file an error that names the file, the line and the
//! column where there is one.

use std::path::PathBuf;

use orrery_universe::{
    ActivityWeights, ConstellationId, DEFAULT_LOAD, Input, Load, LoadError, LoadProfile, Location, RegionId, SystemId,
    SystemKind, Universe, UniverseFiles, Vec3, load_universe, load_universe_paths,
};

// ---------------------------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------------------------

/// Four k-space systems and one wormhole, in two constellations of one region plus a wormhole region.
const SYSTEMS: &str = "\
system_id,name,constellation_id,region_id,x,y,z,security,kind
30000001,Tanoo,20000001,10000001,-1.5e16,2.5e15,3e16,0.9,kspace
30000002,Lashesih,20000001,10000001,1e16,0,0,0.5,kspace
30000003,Akpivem,20000002,10000001,0,1e16,0,0.2,kspace
30000004,Jark,20000002,10000001,0,0,1e16,-0.4,kspace
31000001,J100001,21000001,11000001,8e18,0,0,-1.0,wspace
";

/// A chain 1–2–3–4; the second row repeats the first gate in the other direction.
const JUMPS: &str = "\
from_system_id,to_system_id
30000001,30000002
30000002,30000001
30000002,30000003
30000003,30000004
";

const CONSTELLATIONS: &str = "\
constellation_id,name,region_id
20000001,San Matar,10000001
20000002,Kimotoro,10000001
";

const REGIONS: &str = "\
region_id,name
10000001,Derelik
";

/// Loads a universe from in-memory CSV texts, naming them like the files they stand for.
fn load(
    systems: &str,
    jumps: Option<&str>,
    constellations: Option<&str>,
    regions: Option<&str>,
) -> Result<Universe, LoadError> {
    let mut systems_reader = systems.as_bytes();
    let mut jumps_reader = jumps.map(str::as_bytes);
    let mut constellations_reader = constellations.map(str::as_bytes);
    let mut regions_reader = regions.map(str::as_bytes);
    load_universe(UniverseFiles {
        systems: Input::new("systems.csv", &mut systems_reader),
        jumps: jumps_reader.as_mut().map(|r| Input::new("jumps.csv", r)),
        constellations: constellations_reader.as_mut().map(|r| Input::new("constellations.csv", r)),
        regions: regions_reader.as_mut().map(|r| Input::new("regions.csv", r)),
    })
}

fn load_systems(systems: &str) -> Result<Universe, LoadError> {
    load(systems, None, None, None)
}

fn load_jumps(jumps: &str) -> Result<Universe, LoadError> {
    load(SYSTEMS, Some(jumps), None, None)
}

fn fixture() -> Universe {
    load(SYSTEMS, Some(JUMPS), Some(CONSTELLATIONS), Some(REGIONS)).expect("the fixture is valid")
}

fn load_csv(text: &str, universe: &Universe) -> Result<LoadProfile, LoadError> {
    let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
    LoadProfile::from_csv(Input::new("load.csv", &mut reader), universe)
}

fn load_activity(text: &str, universe: &Universe) -> Result<LoadProfile, LoadError> {
    let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
    LoadProfile::from_activity(Input::new("activity.csv", &mut reader), universe, &ActivityWeights::default())
}

/// Unwraps the error of a result that must have failed.
fn error<T: std::fmt::Debug>(result: Result<T, LoadError>) -> LoadError {
    match result {
        Ok(value) => panic!("expected a load error, got {value:?}"),
        Err(e) => e,
    }
}

/// Asserts that the error is located at `file`, `line` and `column` — both in [`LoadError::location`] and in the
/// message a user sees — and that the message contains every one of `words`.
#[track_caller]
fn assert_located(error: &LoadError, file: &str, line: Option<u64>, column: Option<&str>, words: &[&str]) {
    let expected = Location { file: file.to_owned(), line, column: column.map(str::to_owned) };
    assert_eq!(error.location(), &expected, "location of: {error}");
    let message = error.to_string();
    assert!(message.contains(file), "`{message}` does not name the file {file}");
    if let Some(line) = line {
        assert!(message.contains(&format!("line {line}")), "`{message}` does not name line {line}");
    }
    if let Some(column) = column {
        assert!(message.contains(&format!("`{column}`")), "`{message}` does not name column {column}");
    }
    for word in words {
        assert!(message.contains(word), "`{message}` does not mention `{word}`");
    }
}

/// A fresh, empty directory under the system temp dir, unique to this process and `tag`; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("orrery-universe-loaders-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Happy paths
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn loads_systems_gates_and_groups() {
    let u = fixture();
    assert_eq!(u.len(), 5);
    let jita_like = u.by_id(SystemId(30000001)).expect("Tanoo is loaded");
    assert_eq!(jita_like.name, "Tanoo");
    assert_eq!(jita_like.position, Vec3::new(-1.5e16, 2.5e15, 3e16));
    assert_eq!(jita_like.security, 0.9);
    assert_eq!(jita_like.constellation, ConstellationId(20000001));
    assert_eq!(jita_like.region, RegionId(10000001));
    assert_eq!(jita_like.kind, SystemKind::KSpace);
    assert_eq!(u.by_id(SystemId(31000001)).unwrap().kind, SystemKind::WSpace);
    // Systems keep file order as their index.
    let ids: Vec<u32> = u.systems().iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [30000001, 30000002, 30000003, 30000004, 31000001]);
    // The gate listed in both directions is one gate.
    assert_eq!(u.gate_count(), 3);
    let i = |id| u.index_of(SystemId(id)).unwrap();
    assert_eq!(u.neighbours(i(30000002)), &[i(30000001), i(30000003)]);
    assert!(u.neighbours(i(31000001)).is_empty());
    // Names come from the group files.
    let names: Vec<&str> = u.constellations().iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"San Matar") && names.contains(&"Kimotoro"), "{names:?}");
    assert!(u.regions().iter().any(|r| r.id == RegionId(10000001) && r.name == "Derelik"));
    // Groups named by systems but absent from the files still exist (with some placeholder name).
    assert!(u.constellations().iter().any(|c| c.id == ConstellationId(21000001)));
    assert!(u.regions().iter().any(|r| r.id == RegionId(11000001)));
}

#[test]
fn extra_columns_are_ignored_and_order_does_not_matter() {
    let shuffled = "\
security,comment,z,y,x,region_id,constellation_id,name,system_id,luminosity
0.9,first one,3e16,2.5e15,-1.5e16,10000001,20000001,Tanoo,30000001,0.1
0.5,,0,0,1e16,10000001,20000001,Lashesih,30000002,0.2
";
    let jumps = "note,to_system_id,from_system_id\nx,30000002,30000001\n";
    let u = load(shuffled, Some(jumps), None, None).expect("shuffled columns load");
    assert_eq!(u.len(), 2);
    let s = u.by_id(SystemId(30000001)).unwrap();
    assert_eq!(s.name, "Tanoo");
    assert_eq!(s.position, Vec3::new(-1.5e16, 2.5e15, 3e16));
    assert_eq!(s.security, 0.9);
    assert_eq!(s.constellation, ConstellationId(20000001));
    assert_eq!(s.region, RegionId(10000001));
    assert_eq!(u.gate_count(), 1);
}

#[test]
fn kind_column_is_optional_and_defaults_to_kspace() {
    let without_kind = "\
system_id,name,constellation_id,region_id,x,y,z,security
1,A,2,3,0,0,0,0.1
4,B,2,3,1,1,1,-0.1
";
    let u = load_systems(without_kind).expect("no kind column is fine");
    assert!(u.systems().iter().all(|s| s.kind == SystemKind::KSpace));
    let with_other = "system_id,name,constellation_id,region_id,x,y,z,security,kind\n1,A,2,3,0,0,0,0.1,other\n";
    assert_eq!(load_systems(with_other).unwrap().system(0).kind, SystemKind::Other);
}

#[test]
fn cells_are_trimmed_and_blank_lines_skipped() {
    let text = "\
system_id, name ,constellation_id,region_id,x,y,z,security
 1 , Spaced Out ,2,3, 1.5 ,0,0, 0.3

4,B,2,3,0,0,0,0.2
";
    let u = load_systems(text).expect("whitespace is trimmed");
    assert_eq!(u.len(), 2);
    let s = u.by_id(SystemId(1)).unwrap();
    assert_eq!(s.name, "Spaced Out");
    assert_eq!(s.position.x, 1.5);
}

#[test]
fn byte_order_mark_and_crlf_line_endings_are_accepted() {
    let text = "\u{feff}system_id,name,constellation_id,region_id,x,y,z,security\r\n1,A,2,3,0,0,0,0.1\r\n4,B,2,3,1,1,1,0.2\r\n";
    let u = load_systems(text).expect("a BOM and CRLF line ends load");
    assert_eq!(u.len(), 2);
    assert_eq!(u.system(1).security, 0.2);
}

#[test]
fn line_numbers_count_blank_lines_and_the_header() {
    // The bad row is the fifth line of the file; a blank line comes before it.
    let text = "\
system_id,name,constellation_id,region_id,x,y,z,security
1,A,2,3,0,0,0,0.1

4,B,2,3,0,0,0,0.2
5,C,2,3,0,0,0,7
";
    assert_located(&error(load_systems(text)), "systems.csv", Some(5), Some("security"), &[]);
}

// ---------------------------------------------------------------------------------------------------------------
// Bad universe files
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn missing_column_names_file_header_line_and_column() {
    let text = "system_id,name,constellation_id,region_id,x,y,z\n1,A,2,3,0,0,0\n";
    let e = error(load_systems(text));
    assert!(matches!(&e, LoadError::MissingColumn { column, .. } if column == "security"), "{e:?}");
    assert_located(&e, "systems.csv", Some(1), None, &["security"]);

    let e = error(load_jumps("from_system_id,to\n30000001,30000002\n"));
    assert!(matches!(&e, LoadError::MissingColumn { column, .. } if column == "to_system_id"), "{e:?}");
    assert_located(&e, "jumps.csv", Some(1), None, &["to_system_id"]);
}

#[test]
fn unknown_system_in_jumps_names_the_to_column() {
    let jumps = "from_system_id,to_system_id\n30000001,30000002\n30000002,30009999\n";
    assert_located(&error(load_jumps(jumps)), "jumps.csv", Some(3), Some("to_system_id"), &["30009999"]);
}

#[test]
fn unknown_system_in_jumps_names_the_from_column() {
    let jumps = "from_system_id,to_system_id\n30000001,30000002\n30000002,30000003\n30008888,30000001\n";
    assert_located(&error(load_jumps(jumps)), "jumps.csv", Some(4), Some("from_system_id"), &["30008888"]);
}

#[test]
fn duplicate_system_id_names_both_lines() {
    let text = format!("{SYSTEMS}30000002,Again,20000001,10000001,5,5,5,0.5,kspace\n");
    // The duplicate is on line 7 (header + 5 rows + 1); the first occurrence is on line 3.
    assert_located(&error(load_systems(&text)), "systems.csv", Some(7), Some("system_id"), &["30000002", "line 3"]);
}

#[test]
fn nan_and_infinite_coordinates_are_refused() {
    for (column, row) in [
        ("x", "9,N,2,3,NaN,0,0,0.1"),
        ("y", "9,N,2,3,0,inf,0,0.1"),
        ("z", "9,N,2,3,0,0,-inf,0.1"),
        ("security", "9,N,2,3,0,0,0,NaN"),
    ] {
        let text = format!("system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,0.1\n{row}\n");
        assert_located(&error(load_systems(&text)), "systems.csv", Some(3), Some(column), &[]);
    }
}

#[test]
fn empty_systems_file_is_an_error() {
    let e = error(load_systems(""));
    assert!(matches!(e, LoadError::Empty { .. }), "{e:?}");
    assert_located(&e, "systems.csv", None, None, &["empty"]);
}

#[test]
fn empty_jumps_file_is_an_error() {
    let e = error(load_jumps(""));
    assert!(matches!(e, LoadError::Empty { .. }), "{e:?}");
    assert_located(&e, "jumps.csv", None, None, &["empty"]);
}

#[test]
fn empty_group_files_are_errors() {
    let e = error(load(SYSTEMS, None, Some(""), None));
    assert_located(&e, "constellations.csv", None, None, &["empty"]);
    let e = error(load(SYSTEMS, None, None, Some("")));
    assert_located(&e, "regions.csv", None, None, &["empty"]);
}

#[test]
fn header_only_systems_file_is_an_error() {
    let e = error(load_systems("system_id,name,constellation_id,region_id,x,y,z,security\n"));
    assert_located(&e, "systems.csv", None, None, &["no systems"]);
}

#[test]
fn header_only_jumps_file_means_no_gates() {
    let u = load_jumps("from_system_id,to_system_id\n").expect("a jumps file without rows is fine");
    assert_eq!(u.gate_count(), 0);
}

#[test]
fn non_numeric_ids_are_refused() {
    let text = "system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,0.1\nJita,B,2,3,0,0,0,0.1\n";
    assert_located(&error(load_systems(text)), "systems.csv", Some(3), Some("system_id"), &["Jita"]);

    let text = "system_id,name,constellation_id,region_id,x,y,z,security\n1,A,two,3,0,0,0,0.1\n";
    assert_located(&error(load_systems(text)), "systems.csv", Some(2), Some("constellation_id"), &["two"]);

    let text = "system_id,name,constellation_id,region_id,x,y,z,security\n-5,A,2,3,0,0,0,0.1\n";
    assert_located(&error(load_systems(text)), "systems.csv", Some(2), Some("system_id"), &["-5"]);

    let e = error(load_jumps("from_system_id,to_system_id\n30000001,3.5\n"));
    assert_located(&e, "jumps.csv", Some(2), Some("to_system_id"), &["3.5"]);
}

#[test]
fn empty_id_cell_is_refused() {
    let text = "system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,,0,0,0,0.1\n";
    assert_located(&error(load_systems(text)), "systems.csv", Some(2), Some("region_id"), &["empty"]);
}

#[test]
fn security_out_of_range_is_refused() {
    for bad in ["1.5", "-1.01"] {
        let text = format!("system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,{bad}\n");
        assert_located(&error(load_systems(&text)), "systems.csv", Some(2), Some("security"), &[bad]);
    }
    // The bounds themselves are fine.
    let text = "system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,1.0\n2,B,2,3,0,0,0,-1.0\n";
    assert_eq!(load_systems(text).unwrap().len(), 2);
}

#[test]
fn unknown_kind_is_refused() {
    let text = "system_id,name,constellation_id,region_id,x,y,z,security,kind\n1,A,2,3,0,0,0,0.1,jspace\n";
    assert_located(&error(load_systems(text)), "systems.csv", Some(2), Some("kind"), &["jspace"]);
}

#[test]
fn self_loop_gate_is_refused() {
    let jumps = "from_system_id,to_system_id\n30000001,30000002\n30000003,30000003\n";
    assert_located(&error(load_jumps(jumps)), "jumps.csv", Some(3), Some("to_system_id"), &["30000003"]);
}

#[test]
fn wrong_number_of_fields_is_refused() {
    // Too few fields on line 3.
    let text = "system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,0.1\n2,B,2,3,0,0\n";
    assert_located(&error(load_systems(text)), "systems.csv", Some(3), None, &["6 fields", "8"]);
    // Too many fields on line 4.
    let jumps = "from_system_id,to_system_id\n30000001,30000002\n30000002,30000003\n30000003,30000004,9\n";
    assert_located(&error(load_jumps(jumps)), "jumps.csv", Some(4), None, &["3 fields", "2"]);
}

#[test]
fn duplicate_group_ids_are_refused() {
    let constellations = format!("{CONSTELLATIONS}20000001,Again,10000001\n");
    let e = error(load(SYSTEMS, None, Some(&constellations), None));
    assert_located(&e, "constellations.csv", Some(4), Some("constellation_id"), &["20000001"]);
    let regions = format!("{REGIONS}10000001,Again\n");
    let e = error(load(SYSTEMS, None, None, Some(&regions)));
    assert_located(&e, "regions.csv", Some(3), Some("region_id"), &["10000001"]);
}

#[test]
fn invalid_utf8_is_refused_with_the_line() {
    let mut bytes = b"system_id,name,constellation_id,region_id,x,y,z,security\n1,A,2,3,0,0,0,0.1\n2,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b",2,3,0,0,0,0.1\n");
    let mut reader = bytes.as_slice();
    let e = error(load_universe(UniverseFiles {
        systems: Input::new("systems.csv", &mut reader),
        jumps: None,
        constellations: None,
        regions: None,
    }));
    assert_eq!(e.location().file, "systems.csv");
    assert_eq!(e.location().line, Some(3), "{e}");
    assert!(e.to_string().contains("UTF-8"), "{e}");
}

// ---------------------------------------------------------------------------------------------------------------
// Load fingerprints
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn load_csv_happy_path() {
    let u = fixture();
    // Extra column, shuffled order, an empty mem cell and one row without mem.
    let text = "mem,note,cpu,system_id\n4,hub,150.5,30000001\n,,2,30000002\n0,,0,30000004\n";
    let profile = load_csv(text, &u).expect("a valid load file");
    assert_eq!(profile.explicit_len(), 3);
    assert_eq!(profile.get(SystemId(30000001)), Load { cpu: 150.5, mem: 4.0 });
    assert_eq!(profile.get(SystemId(30000002)), Load { cpu: 2.0, mem: DEFAULT_LOAD.mem });
    assert_eq!(profile.get(SystemId(30000004)), Load { cpu: 0.0, mem: 0.0 });
    // Systems the file does not name get the default load.
    assert_eq!(profile.get(SystemId(30000003)), DEFAULT_LOAD);
    assert_eq!(profile.cpu(&u), vec![150.5, 2.0, DEFAULT_LOAD.cpu, 0.0, DEFAULT_LOAD.cpu]);

    // Without a mem column at all.
    let profile = load_csv("system_id,cpu\n30000003,7\n", &u).unwrap();
    assert_eq!(profile.get(SystemId(30000003)), Load { cpu: 7.0, mem: DEFAULT_LOAD.mem });
}

#[test]
fn load_csv_round_trips_through_write_csv() {
    let u = fixture();
    let profile = LoadProfile::from_loads([
        (SystemId(30000001), Load { cpu: 0.1 + 0.2, mem: 1.0 / 3.0 }),
        (SystemId(30000003), Load { cpu: 1e-300, mem: 12345.678 }),
    ]);
    let mut out = Vec::new();
    profile.write_csv(&u, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("system_id,cpu,mem\n"), "{text}");
    assert_eq!(text.lines().count(), 1 + u.len());
    let back = load_csv(&text, &u).expect("what write_csv writes, from_csv reads");
    for s in u.systems() {
        assert_eq!(back.get(s.id), profile.get(s.id), "system {}", s.id);
    }
}

#[test]
fn load_csv_missing_cpu_column() {
    let e = error(load_csv("system_id,mem\n30000001,1\n", &fixture()));
    assert!(matches!(&e, LoadError::MissingColumn { column, .. } if column == "cpu"), "{e:?}");
    assert_located(&e, "load.csv", Some(1), None, &["cpu"]);
}

#[test]
fn load_csv_unknown_system() {
    let e = error(load_csv("system_id,cpu\n30000001,1\n30000002,1\n30005555,1\n", &fixture()));
    assert_located(&e, "load.csv", Some(4), Some("system_id"), &["30005555"]);
}

#[test]
fn load_csv_duplicate_system() {
    let e = error(load_csv("system_id,cpu\n30000001,1\n30000002,1\n30000001,2\n", &fixture()));
    assert_located(&e, "load.csv", Some(4), Some("system_id"), &["30000001", "line 2"]);
}

#[test]
fn load_csv_negative_value() {
    let e = error(load_csv("system_id,cpu,mem\n30000001,1,1\n30000002,-0.5,1\n", &fixture()));
    assert_located(&e, "load.csv", Some(3), Some("cpu"), &["-0.5"]);
    let e = error(load_csv("system_id,cpu,mem\n30000001,1,-3\n", &fixture()));
    assert_located(&e, "load.csv", Some(2), Some("mem"), &["-3"]);
}

#[test]
fn load_csv_nan_and_infinite_values() {
    for bad in ["NaN", "inf", "-inf", "nan"] {
        let text = format!("system_id,cpu\n30000001,1\n30000002,{bad}\n");
        assert_located(&error(load_csv(&text, &fixture())), "load.csv", Some(3), Some("cpu"), &[]);
    }
    let e = error(load_csv("system_id,cpu,mem\n30000001,1,NaN\n", &fixture()));
    assert_located(&e, "load.csv", Some(2), Some("mem"), &[]);
}

#[test]
fn load_csv_non_numeric_value() {
    let e = error(load_csv("system_id,cpu\n30000001,heavy\n", &fixture()));
    assert_located(&e, "load.csv", Some(2), Some("cpu"), &["heavy"]);
}

#[test]
fn load_csv_empty_file() {
    let e = error(load_csv("", &fixture()));
    assert!(matches!(e, LoadError::Empty { .. }), "{e:?}");
    assert_located(&e, "load.csv", None, None, &["empty"]);
}

#[test]
fn load_csv_wrong_number_of_fields() {
    let e = error(load_csv("system_id,cpu,mem\n30000001,1,1\n30000002,1\n", &fixture()));
    assert_located(&e, "load.csv", Some(3), None, &["fields"]);
}

#[test]
fn activity_happy_path() {
    let u = fixture();
    let w = ActivityWeights::default();
    let text = "\
system_id,ship_jumps,ship_kills,npc_kills,pod_kills,snapshot_date
30000001,2147,26,142,21,2024-06-17
30000003,0,0,500,0,2024-06-17
";
    let profile = load_activity(text, &u).expect("a valid activity snapshot");
    let jita_like =
        w.base + 2147.0 * w.per_ship_jump + 26.0 * w.per_ship_kill + 142.0 * w.per_npc_kill + 21.0 * w.per_pod_kill;
    assert!((profile.get(SystemId(30000001)).cpu - jita_like).abs() < 1e-9);
    assert!((profile.get(SystemId(30000003)).cpu - (w.base + 500.0 * w.per_npc_kill)).abs() < 1e-9);
    // Systems absent from the snapshot had no activity: the base load, not the default load.
    assert_eq!(profile.get(SystemId(30000002)).cpu, w.base);
    assert_eq!(profile.get(SystemId(31000001)).cpu, w.base);

    // Custom weights are honoured.
    let weights =
        ActivityWeights { base: 0.0, per_ship_jump: 1.0, per_ship_kill: 0.0, per_pod_kill: 0.0, per_npc_kill: 0.0 };
    let mut reader = text.as_bytes();
    let profile = LoadProfile::from_activity(Input::new("activity.csv", &mut reader), &u, &weights).unwrap();
    assert_eq!(profile.get(SystemId(30000001)).cpu, 2147.0);
    assert_eq!(profile.get(SystemId(30000004)).cpu, 0.0);
}

#[test]
fn activity_errors_are_located() {
    let u = fixture();
    let header = "system_id,ship_jumps,ship_kills,npc_kills,pod_kills";
    let e = error(load_activity("system_id,ship_jumps,ship_kills,pod_kills\n", &u));
    assert_located(&e, "activity.csv", Some(1), None, &["npc_kills"]);
    let e = error(load_activity(&format!("{header}\n30000001,1,1,1,1\n39999999,1,1,1,1\n"), &u));
    assert_located(&e, "activity.csv", Some(3), Some("system_id"), &["39999999"]);
    let e = error(load_activity(&format!("{header}\n30000001,1,1,1,1\n30000001,1,1,1,1\n"), &u));
    assert_located(&e, "activity.csv", Some(3), Some("system_id"), &["line 2"]);
    let e = error(load_activity(&format!("{header}\n30000001,1,-1,1,1\n"), &u));
    assert_located(&e, "activity.csv", Some(2), Some("ship_kills"), &[]);
    let e = error(load_activity(&format!("{header}\n30000001,1,1,NaN,1\n"), &u));
    assert_located(&e, "activity.csv", Some(2), Some("npc_kills"), &[]);
    let e = error(load_activity("", &u));
    assert_located(&e, "activity.csv", None, None, &["empty"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Files on disk
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn paths_pick_up_group_files_beside_the_systems_file() {
    let dir = TempDir::new("groups");
    let systems = dir.write("systems.csv", SYSTEMS);
    let jumps = dir.write("jumps.csv", JUMPS);
    dir.write("constellations.csv", CONSTELLATIONS);
    dir.write("regions.csv", REGIONS);
    let u = load_universe_paths(&systems, Some(&jumps)).expect("the files load");
    assert_eq!(u.len(), 5);
    assert_eq!(u.gate_count(), 3);
    let constellation = |id| u.constellations().iter().find(|c| c.id == ConstellationId(id)).unwrap();
    assert_eq!(constellation(20000001).name, "San Matar");
    assert_eq!(constellation(20000002).name, "Kimotoro");
    assert_eq!(constellation(20000002).region, RegionId(10000001));
    assert_eq!(u.regions().iter().find(|r| r.id == RegionId(10000001)).unwrap().name, "Derelik");
}

#[test]
fn paths_without_group_files_or_jumps() {
    let dir = TempDir::new("bare");
    let systems = dir.write("systems.csv", SYSTEMS);
    let u = load_universe_paths(&systems, None).expect("the systems file alone loads");
    assert_eq!(u.len(), 5);
    assert_eq!(u.gate_count(), 0);
    // No names were given: whatever placeholder is used, it is not one of the names of the group files.
    let c = u.constellations().iter().find(|c| c.id == ConstellationId(20000001)).unwrap();
    assert_ne!(c.name, "San Matar");
    assert!(!c.name.is_empty());
}

#[test]
fn paths_errors_name_the_path() {
    let dir = TempDir::new("errors");
    let systems = dir.write("systems.csv", SYSTEMS);
    let bad_regions = dir.write("regions.csv", "region_id,name\n10000001,Derelik\nnope,Other\n");
    let e = error(load_universe_paths(&systems, None));
    let shown = bad_regions.display().to_string();
    assert_located(&e, &shown, Some(3), Some("region_id"), &["nope"]);

    let missing = dir.0.join("no-such-jumps.csv");
    std::fs::remove_file(&bad_regions).unwrap();
    let e = error(load_universe_paths(&systems, Some(&missing)));
    assert!(matches!(e, LoadError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains(&missing.display().to_string()), "{e}");

    let missing = dir.0.join("no-such-systems.csv");
    let e = error(load_universe_paths(&missing, None));
    assert!(matches!(e, LoadError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains(&missing.display().to_string()), "{e}");
}

#[test]
fn load_paths_name_the_path() {
    let dir = TempDir::new("loadpaths");
    let u = fixture();
    let good = dir.write("good-load.csv", "system_id,cpu\n30000001,3\n");
    assert_eq!(LoadProfile::from_csv_path(&good, &u).unwrap().get(SystemId(30000001)).cpu, 3.0);
    let bad = dir.write("bad-load.csv", "system_id,cpu\n30000001,3\n30000002,-1\n");
    let e = error(LoadProfile::from_csv_path(&bad, &u));
    assert_located(&e, &bad.display().to_string(), Some(3), Some("cpu"), &[]);
    let e = error(LoadProfile::from_activity_path(&dir.0.join("missing.csv"), &u, &ActivityWeights::default()));
    assert!(matches!(e, LoadError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.csv"), "{e}");
}
