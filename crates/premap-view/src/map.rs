//! Draws a mapping as a picture: the universe seen from above, every solar system a dot in the colour of the
//! sol node that hosts it, with a legend of per-node load.
//!
//! Why: the metrics say *how good* a mapping is; the picture shows *where* it is good or bad. An operator
//! carving a cluster up wants to see at a glance that each node is one compact piece of space, where the
//! cross-node stargates run, which systems are busy, and which node carries the most. This is that picture.
//!
//! What is drawn (plain SVG 1.1, deterministic, no scripts):
//! - the map: x to the right, z up (the galactic plane of the EVE frame seen from above), scaled to fit a
//!   1000 px square with the aspect ratio kept, and a scale bar in light years;
//! - stargates as thin grey lines under the dots; gates between two nodes (cut gates) darker and dashed;
//! - one dot per system, in its node's colour, its area growing with the system's load (clamped), ringed in
//!   black when its node is dedicated; hovering a dot shows `name (id) — node N, load X`;
//! - node numbers on the map when there are few enough nodes to read them;
//! - a title, a summary line (nodes, systems, cut gates, max/mean, fragmented nodes) and a legend: one row per
//!   node (swatch, number, load, system count, dedicated marker, a bar of its load) in up to four columns,
//!   and beyond that a "mountain range" of one bar per node with the details in hover tooltips.
//!
//! Neighbouring nodes get different colours. Two nodes are adjacent when a stargate joins them or when some of
//! their systems lie close together in the picture (systems without gates have neighbours too); that graph is
//! coloured with DSatur from a qualitative palette of well-separated hues, preferring a colour no neighbour has,
//! then one no neighbour's neighbour has, then the least used one. Colours repeat only between non-adjacent
//! nodes while the palette allows; with more neighbours than colours the least conflicting colour is reused.
//!
//! Size and speed: about 100 bytes per system and 25 per stargate — EVE k-space (5,000+ systems) gives well
//! under a megabyte, rendered in milliseconds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use orrery_universe::{LIGHT_YEAR_M, Universe};

use orrery_premap::{Mapping, Metrics};

use crate::svg::{PALETTE, Svg};

/// Side of the square map area, in pixels.
const MAP: f64 = 1000.0;
/// Empty border inside the map area.
const MARGIN: f64 = 24.0;
/// Height of the title and summary band above the map.
const HEADER: f64 = 64.0;
/// Space between the map and the legend.
const LEGEND_GAP: f64 = 12.0;
/// Space to the right of the legend.
const RIGHT_PAD: f64 = 12.0;
/// Legend: where the rows start below the top of the legend.
const LEGEND_TOP: f64 = 56.0;
/// Legend: height of the symbol key at its bottom.
const KEY_H: f64 = 100.0;
/// Legend: the smallest row that still carries readable text.
const MIN_ROW: f64 = 12.0;
/// Legend: the tallest row.
const MAX_ROW: f64 = 20.0;
/// Legend: most text columns before switching to one bar per node.
const MAX_COLUMNS: usize = 4;
/// Grid cell for finding nodes whose systems touch in the picture, in pixels.
const CELL: f64 = 10.0;
/// Node numbers are written on the map only up to this many nodes.
const MAX_MAP_LABELS: usize = 64;
/// Weight of one stargate between two nodes in the node graph (one close pair of systems weighs 1).
const GATE_WEIGHT: u64 = 4;
/// Colour of systems whose mapping entry is missing or out of range.
const UNMAPPED: &str = "#9a9a9a";

/// Renders `mapping` of `universe` (with per-system `load` and the `metrics` of the mapping) as a standalone SVG
/// document headed by `title`.
///
/// Never panics: a load vector or mapping shorter than the universe draws the missing systems with load 0 or as
/// unmapped (grey); an empty universe draws an empty map.
pub fn render(universe: &Universe, load: &[f64], mapping: &Mapping, metrics: &Metrics, title: &str) -> String {
    let systems = universe.systems();
    let nodes = mapping.nodes();
    let node_of: Vec<Option<usize>> =
        (0..systems.len()).map(|i| mapping.assignment().get(i).map(|&n| n as usize).filter(|&n| n < nodes)).collect();
    let loads: Vec<f64> = (0..systems.len()).map(|i| clean(load.get(i).copied().unwrap_or(0.0))).collect();
    let projection = Projection::fit(universe);
    let graph = node_graph(nodes, &node_of, universe, &projection.points);
    let colours: Vec<&'static str> =
        colour_graph(&graph, PALETTE.len()).into_iter().map(|c| PALETTE[c % PALETTE.len()]).collect();

    let mut members = vec![Vec::new(); nodes];
    let mut unmapped = Vec::new();
    for (system, node) in node_of.iter().enumerate() {
        match node {
            Some(n) => members[*n].push(system),
            None => unmapped.push(system),
        }
    }
    let info: Vec<NodeInfo> = (0..nodes)
        .map(|k| NodeInfo {
            load: metrics.node_loads.get(k).copied().map_or_else(|| members[k].iter().map(|&s| loads[s]).sum(), clean),
            systems: members[k].len(),
            dedicated: metrics.dedicated.get(k).copied().unwrap_or(false),
            colour: colours[k],
        })
        .collect();

    let legend = Legend::layout(nodes);
    let width = MAP + LEGEND_GAP + legend.width + RIGHT_PAD;
    let height = HEADER + MAP;
    let mut svg = Svg(String::with_capacity(
        4096 + 110 * systems.len() + 26 * universe.gate_count() + 240 * nodes + 2 * title.len(),
    ));

    svg.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"")
        .num(width)
        .raw("\" height=\"")
        .num(height)
        .raw("\" viewBox=\"0 0 ")
        .num(width)
        .raw(" ")
        .num(height)
        .raw("\" font-family=\"Helvetica, Arial, sans-serif\">\n<title>")
        .text(title)
        .raw("</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n")
        .raw("<rect x=\"0.5\" y=\"")
        .num(HEADER + 0.5)
        .raw("\" width=\"")
        .num(MAP - 1.0)
        .raw("\" height=\"")
        .num(MAP - 1.0)
        .raw("\" fill=\"#fbfbfd\" stroke=\"#e2e4ea\"/>\n");

    header(&mut svg, universe, metrics, &info, unmapped.len(), title);
    gates(&mut svg, universe, &node_of, &projection.points);
    dots(&mut svg, universe, &loads, &members, &unmapped, &info, &projection.points);
    if nodes <= MAX_MAP_LABELS {
        map_labels(&mut svg, &members, &projection.points);
    }
    scale_bar(&mut svg, projection.px_per_metre);
    legend.draw(&mut svg, MAP + LEGEND_GAP, HEADER, &info);
    key(&mut svg, MAP + LEGEND_GAP, HEADER + MAP - KEY_H, nodes <= MAX_MAP_LABELS && nodes > 0);
    svg.raw("</svg>\n");
    svg.0
}

/// What the legend says about one node.
struct NodeInfo {
    load: f64,
    systems: usize,
    dedicated: bool,
    colour: &'static str,
}

/// A load as drawn: finite and ≥ 0, anything else 0.
fn clean(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 { value } else { 0.0 }
}

/// A load as written: one decimal.
fn load_text(value: f64) -> String {
    format!("{value:.1}")
}

/// Where each system lands in the picture.
struct Projection {
    /// Picture position of every system, in index order.
    points: Vec<(f64, f64)>,
    /// Picture pixels per metre of space; 0 when the universe has no extent.
    px_per_metre: f64,
}

impl Projection {
    /// Fits the x/z extent of the universe into the map square, centred, +z up.
    fn fit(universe: &Universe) -> Projection {
        let systems = universe.systems();
        let (mut min_x, mut max_x, mut min_z, mut max_z) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for s in systems {
            min_x = min_x.min(s.position.x);
            max_x = max_x.max(s.position.x);
            min_z = min_z.min(s.position.z);
            max_z = max_z.max(s.position.z);
        }
        let inner = MAP - 2.0 * MARGIN;
        let span = (max_x - min_x).max(max_z - min_z);
        let scale = if span.is_finite() && span > 0.0 { inner / span } else { 0.0 };
        let (w, h) = if scale > 0.0 { ((max_x - min_x) * scale, (max_z - min_z) * scale) } else { (0.0, 0.0) };
        let off_x = MARGIN + (inner - w) / 2.0;
        let off_y = HEADER + MARGIN + (inner - h) / 2.0;
        let points = systems
            .iter()
            .map(|s| (off_x + (s.position.x - min_x) * scale, off_y + (max_z - s.position.z) * scale))
            .collect();
        Projection { points, px_per_metre: scale }
    }
}

/// The node graph as sorted weighted adjacency lists: nodes joined by stargates (weight [`GATE_WEIGHT`] each)
/// or with systems in the same or touching cells of a [`CELL`]-pixel grid over the picture (weight 1 per pair
/// of cells).
fn node_graph(
    nodes: usize,
    node_of: &[Option<usize>],
    universe: &Universe,
    points: &[(f64, f64)],
) -> Vec<Vec<(usize, u64)>> {
    let mut edges: Vec<(usize, usize, u64)> = Vec::new();
    let mut push = |a: usize, b: usize, w: u64| {
        if a != b {
            edges.push((a.min(b), a.max(b), w));
        }
    };
    for (a, b) in universe.gates() {
        if let (Some(Some(na)), Some(Some(nb))) = (node_of.get(a), node_of.get(b)) {
            push(*na, *nb, GATE_WEIGHT);
        }
    }

    let g = (MAP / CELL).ceil() as usize;
    let cell_of = |(x, y): (f64, f64)| {
        let cx = ((x / CELL).floor().max(0.0) as usize).min(g - 1);
        let cy = (((y - HEADER) / CELL).floor().max(0.0) as usize).min(g - 1);
        cy * g + cx
    };
    let mut occupied: Vec<(usize, usize)> =
        points.iter().zip(node_of).filter_map(|(&p, n)| n.map(|n| (cell_of(p), n))).collect();
    occupied.sort_unstable();
    occupied.dedup();
    let mut start = vec![0usize; g * g + 1];
    for &(c, _) in &occupied {
        start[c + 1] += 1;
    }
    for c in 0..g * g {
        start[c + 1] += start[c];
    }
    let cell = |c: usize| &occupied[start[c]..start[c + 1]];
    for cy in 0..g {
        for cx in 0..g {
            let here = cell(cy * g + cx);
            for (i, &(_, a)) in here.iter().enumerate() {
                for &(_, b) in &here[i + 1..] {
                    push(a, b, 1);
                }
            }
            if here.is_empty() {
                continue;
            }
            for (dx, dy) in [(1isize, 0usize), (-1, 1), (0, 1), (1, 1)] {
                let nx = cx as isize + dx;
                let ny = cy + dy;
                if nx < 0 || nx as usize >= g || ny >= g {
                    continue;
                }
                let there = cell(ny * g + nx as usize);
                for &(_, a) in here {
                    for &(_, b) in there {
                        push(a, b, 1);
                    }
                }
            }
        }
    }

    edges.sort_unstable();
    let mut adjacency = vec![Vec::new(); nodes];
    let mut i = 0;
    while i < edges.len() {
        let (a, b, _) = edges[i];
        let mut weight = 0u64;
        while i < edges.len() && edges[i].0 == a && edges[i].1 == b {
            weight = weight.saturating_add(edges[i].2);
            i += 1;
        }
        if a < nodes && b < nodes {
            adjacency[a].push((b, weight));
            adjacency[b].push((a, weight));
        }
    }
    adjacency
}

/// Colours a graph given as weighted adjacency lists with palette indices `0..colours` (at most 64), DSatur
/// order (most distinct neighbour colours first, then most neighbours, then lowest index). Each node takes the
/// colour with the least neighbour weight on it, then the fewest uses two steps away, then the fewest uses so
/// far, then the lowest index — so adjacent nodes differ whenever the palette allows. Deterministic.
fn colour_graph(adjacency: &[Vec<(usize, u64)>], colours: usize) -> Vec<usize> {
    /// Above this many neighbours the two-step preference is skipped, which keeps dense graphs fast.
    const TWO_STEP_LIMIT: usize = 64;
    let colours = colours.clamp(1, 64);
    let k = adjacency.len();
    let mut colour = vec![usize::MAX; k];
    let mut seen = vec![0u64; k];
    let mut usage = vec![0usize; colours];
    let mut conflict = vec![0u64; colours];
    let mut near = vec![0u64; colours];
    let mut queue: BinaryHeap<(u32, usize, Reverse<usize>)> =
        adjacency.iter().enumerate().map(|(v, list)| (0, list.len(), Reverse(v))).collect();
    while let Some((saturation, _, Reverse(v))) = queue.pop() {
        if colour[v] != usize::MAX || saturation != seen[v].count_ones() {
            continue; // already coloured, or a stale entry
        }
        conflict.fill(0);
        near.fill(0);
        let two_step = adjacency[v].len() <= TWO_STEP_LIMIT;
        for &(u, w) in &adjacency[v] {
            if let Some(c) = conflict.get_mut(colour[u]) {
                *c = c.saturating_add(w);
            }
            if two_step && adjacency[u].len() <= TWO_STEP_LIMIT {
                for &(x, _) in &adjacency[u] {
                    if x != v
                        && let Some(c) = near.get_mut(colour[x])
                    {
                        *c += 1;
                    }
                }
            }
        }
        let chosen = (0..colours).min_by_key(|&c| (conflict[c], near[c], usage[c], c)).unwrap_or(0);
        colour[v] = chosen;
        usage[chosen] += 1;
        for &(u, _) in &adjacency[v] {
            if colour[u] == usize::MAX && seen[u] & (1 << chosen) == 0 {
                seen[u] |= 1 << chosen;
                queue.push((seen[u].count_ones(), adjacency[u].len(), Reverse(u)));
            }
        }
    }
    colour.into_iter().map(|c| if c == usize::MAX { 0 } else { c }).collect()
}

/// The title and summary lines.
fn header(svg: &mut Svg, universe: &Universe, metrics: &Metrics, info: &[NodeInfo], unmapped: usize, title: &str) {
    let nodes = info.len();
    let dedicated = info.iter().filter(|n| n.dedicated).count();
    let gates = universe.gate_count();
    let mut summary = format!(
        "{nodes} node{} · {} system{} · {gates} stargate{}, {} cut between nodes",
        plural(nodes),
        universe.len(),
        plural(universe.len()),
        plural(gates),
        metrics.cut_gates,
    );
    if gates > 0 {
        summary.push_str(&format!(" ({:.1}%)", 100.0 * metrics.cut_gates as f64 / gates as f64));
    }
    summary.push_str(&format!(
        " · max/mean {:.3} · {} fragmented node{}",
        metrics.max_over_mean,
        metrics.fragmented_nodes,
        plural(metrics.fragmented_nodes)
    ));
    if dedicated > 0 {
        summary.push_str(&format!(" · {dedicated} dedicated"));
    }
    if unmapped > 0 {
        summary.push_str(&format!(" · {unmapped} unmapped"));
    }
    svg.text_element(16.0, 28.0, "font-size=\"20\" font-weight=\"bold\" fill=\"#111\"", title);
    svg.text_element(16.0, 50.0, "font-size=\"13\" fill=\"#444\"", &summary);
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Stargates as two paths: within a node (faint) and between nodes (darker, dashed).
fn gates(svg: &mut Svg, universe: &Universe, node_of: &[Option<usize>], points: &[(f64, f64)]) {
    let mut inner = Svg(String::new());
    let mut cut = Svg(String::new());
    for (a, b) in universe.gates() {
        let path = if node_of[a].is_some() && node_of[a] == node_of[b] { &mut inner } else { &mut cut };
        path.raw("M").num(points[a].0).raw(" ").num(points[a].1).raw("L").num(points[b].0).raw(" ").num(points[b].1);
    }
    if !inner.0.is_empty() {
        svg.raw("<path id=\"gates\" fill=\"none\" stroke=\"#b9bdc7\" stroke-width=\"0.6\" d=\"")
            .raw(&inner.0)
            .raw("\"/>\n");
    }
    if !cut.0.is_empty() {
        svg.raw(
            "<path id=\"cut-gates\" fill=\"none\" stroke=\"#5d6270\" stroke-width=\"0.7\" stroke-dasharray=\"2 1.5\" d=\"",
        )
        .raw(&cut.0)
        .raw("\"/>\n");
    }
}

/// One group of dots per node, each dot with a hover title.
fn dots(
    svg: &mut Svg,
    universe: &Universe,
    loads: &[f64],
    members: &[Vec<usize>],
    unmapped: &[usize],
    info: &[NodeInfo],
    points: &[(f64, f64)],
) {
    let n = universe.len();
    let base = if n == 0 { 3.0 } else { (0.16 * (MAP - 2.0 * MARGIN) / (n as f64).sqrt()).clamp(1.6, 7.0) };
    let mean = loads.iter().sum::<f64>() / n.max(1) as f64;
    let radius = |load: f64| {
        let r = if mean > 0.0 { base * (load / mean).sqrt() } else { base };
        r.clamp(base * 0.7, base * 3.0)
    };
    let draw = |svg: &mut Svg, id: &str, colour: &str, dedicated: bool, node: Option<usize>, list: &[usize]| {
        if list.is_empty() {
            return;
        }
        svg.raw("<g id=\"").raw(id).raw("\" fill=\"").raw(colour);
        if dedicated {
            svg.raw("\" stroke=\"#000\" stroke-width=\"1.5\">\n");
        } else {
            svg.raw("\" stroke=\"#fff\" stroke-width=\"0.4\">\n");
        }
        for &s in list {
            let system = universe.system(s);
            let r = if dedicated { radius(loads[s]).max(base * 1.5) } else { radius(loads[s]) };
            svg.raw("<circle cx=\"")
                .num(points[s].0)
                .raw("\" cy=\"")
                .num(points[s].1)
                .raw("\" r=\"")
                .num(r)
                .raw("\"><title>")
                .text(&system.name)
                .raw(" (")
                .uint(u64::from(system.id.0))
                .raw(") — ");
            match node {
                Some(k) => svg.raw("node ").uint(k as u64),
                None => svg.raw("unmapped"),
            };
            svg.raw(", load ").raw(&load_text(loads[s])).raw("</title></circle>\n");
        }
        svg.raw("</g>\n");
    };
    for (k, list) in members.iter().enumerate() {
        draw(svg, &format!("node-{k}"), info[k].colour, info[k].dedicated, Some(k), list);
    }
    draw(svg, "unmapped", UNMAPPED, false, None, unmapped);
}

/// Each node's number at its most central system, black on a white halo.
fn map_labels(svg: &mut Svg, members: &[Vec<usize>], points: &[(f64, f64)]) {
    let mut labels = Vec::new();
    for (k, list) in members.iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        let n = list.len() as f64;
        let cx = list.iter().map(|&s| points[s].0).sum::<f64>() / n;
        let cy = list.iter().map(|&s| points[s].1).sum::<f64>() / n;
        let distance = |s: usize| (points[s].0 - cx).powi(2) + (points[s].1 - cy).powi(2);
        let centre = list.iter().copied().min_by(|&a, &b| distance(a).total_cmp(&distance(b)).then(a.cmp(&b)));
        if let Some(s) = centre {
            labels.push((k, points[s]));
        }
    }
    if labels.is_empty() {
        return;
    }
    for (style, end) in [
        (
            "<g font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#fff\" stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\" opacity=\"0.85\">\n",
            "</g>\n",
        ),
        ("<g font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#111\">\n", "</g>\n"),
    ] {
        svg.raw(style);
        for &(k, (x, y)) in &labels {
            svg.raw("<text x=\"").num(x).raw("\" y=\"").num(y - 5.0).raw("\">").uint(k as u64).raw("</text>\n");
        }
        svg.raw(end);
    }
}

/// A bar of a round number of light years in the bottom left corner of the map.
fn scale_bar(svg: &mut Svg, px_per_metre: f64) {
    let px_per_ly = px_per_metre * LIGHT_YEAR_M;
    if !(px_per_ly.is_finite() && px_per_ly > 0.0) {
        return;
    }
    let target = 150.0 / px_per_ly;
    let exponent = target.log10().floor();
    let unit = 10f64.powf(exponent);
    let mantissa = [5.0, 2.0, 1.0].into_iter().find(|m| m * unit <= target).unwrap_or(1.0);
    let ly = mantissa * unit;
    let px = ly * px_per_ly;
    if !(px.is_finite() && px > 1.0) {
        return;
    }
    let label = if exponent >= 0.0 { format!("{ly:.0} ly") } else { format!("{ly:.*} ly", (-exponent) as usize) };
    let (x, y) = (MARGIN, HEADER + MAP - 14.0);
    svg.raw("<path fill=\"none\" stroke=\"#444\" stroke-width=\"1.2\" d=\"M")
        .num(x)
        .raw(" ")
        .num(y - 4.0)
        .raw("V")
        .num(y)
        .raw("H")
        .num(x + px)
        .raw("V")
        .num(y - 4.0)
        .raw("\"/>\n");
    svg.text_element(x + px + 6.0, y, "font-size=\"11\" fill=\"#444\"", &label);
}

/// How the per-node legend is laid out.
enum LegendMode {
    /// Text rows: swatch, node, load, bar, systems, dedicated.
    Rows { columns: usize, rows: usize, row_h: f64, col_w: f64 },
    /// One bar per node, node numbers every `step` nodes, details in tooltips.
    Bars { bar_h: f64, step: usize },
}

struct Legend {
    mode: LegendMode,
    width: f64,
}

/// Column positions of one text row, relative to the column's left edge.
struct RowLayout {
    node_end: f64,
    load_end: f64,
    bar_x: f64,
    bar_w: f64,
    systems_x: f64,
    dedicated_x: f64,
    systems_word: &'static str,
    system_word: &'static str,
    dedicated_word: &'static str,
    font: f64,
}

impl Legend {
    /// Height available to the rows or bars.
    const AVAILABLE: f64 = MAP - LEGEND_TOP - KEY_H - 20.0;
    const SINGLE_W: f64 = 380.0;
    const MULTI_W: f64 = 250.0;

    fn layout(nodes: usize) -> Legend {
        let max_rows = ((Self::AVAILABLE / MIN_ROW).floor() as usize).max(1);
        let columns = nodes.div_ceil(max_rows).max(1);
        if columns <= MAX_COLUMNS {
            let rows = nodes.div_ceil(columns).max(1);
            let row_h = (Self::AVAILABLE / rows as f64).min(MAX_ROW);
            let col_w = if columns == 1 { Self::SINGLE_W } else { Self::MULTI_W };
            Legend { mode: LegendMode::Rows { columns, rows, row_h, col_w }, width: col_w * columns as f64 }
        } else {
            let bar_h = Self::AVAILABLE / nodes as f64;
            let step = nice_steps().find(|&s| s as f64 * bar_h >= MIN_ROW).unwrap_or(nodes.max(1));
            Legend { mode: LegendMode::Bars { bar_h, step }, width: Self::SINGLE_W }
        }
    }

    /// Draws the legend at (`x0`, `y0`): heading, then the rows or bars of `info`.
    ///
    /// Longer than most functions here on purpose: it is one straight run of SVG output whose coordinates build
    /// on each other from top to bottom, and cut into pieces the reader would have to carry the running
    /// positions from one to the next.
    fn draw(&self, svg: &mut Svg, x0: f64, y0: f64, info: &[NodeInfo]) {
        let max = info.iter().map(|n| n.load).fold(0.0, f64::max);
        let mean = info.iter().map(|n| n.load).sum::<f64>() / info.len().max(1) as f64;
        svg.raw("<g id=\"legend\">\n");
        svg.text_element(x0, y0 + 20.0, "font-size=\"15\" font-weight=\"bold\" fill=\"#111\"", "Load per node");
        let heaviest = match info.iter().enumerate().max_by(|a, b| a.1.load.total_cmp(&b.1.load).then(b.0.cmp(&a.0))) {
            Some((k, n)) => format!("heaviest: node {k} at {} · mean {}", load_text(n.load), load_text(mean)),
            None => "no nodes".to_string(),
        };
        svg.text_element(x0, y0 + 36.0, "font-size=\"11\" fill=\"#555\"", &heaviest);
        let top = y0 + LEGEND_TOP;
        let fraction = |load: f64| if max > 0.0 { load / max } else { 0.0 };
        match self.mode {
            LegendMode::Rows { columns, rows, row_h, col_w } => {
                let layout = if columns == 1 {
                    RowLayout {
                        node_end: 44.0,
                        load_end: 104.0,
                        bar_x: 112.0,
                        bar_w: 100.0,
                        systems_x: 220.0,
                        dedicated_x: 312.0,
                        systems_word: " systems",
                        system_word: " system",
                        dedicated_word: "dedicated",
                        font: (row_h * 0.65).clamp(9.0, 12.0),
                    }
                } else {
                    RowLayout {
                        node_end: 36.0,
                        load_end: 88.0,
                        bar_x: 94.0,
                        bar_w: 52.0,
                        systems_x: 152.0,
                        dedicated_x: 204.0,
                        systems_word: " sys",
                        system_word: " sys",
                        dedicated_word: "ded.",
                        font: (row_h * 0.65).clamp(9.0, 11.0),
                    }
                };
                for column in 0..columns {
                    let x = x0 + column as f64 * col_w;
                    let first = column * rows;
                    let last = (first + rows).min(info.len());
                    if first >= last {
                        continue;
                    }
                    let head = "font-size=\"10\" fill=\"#777\"";
                    svg.text_element_anchored(x + layout.node_end, top - 6.0, head, "end", "node");
                    svg.text_element_anchored(x + layout.load_end, top - 6.0, head, "end", "load");
                    svg.text_element(x + layout.systems_x, top - 6.0, head, layout.systems_word.trim());
                    let mean_x = x + layout.bar_x + layout.bar_w * fraction(mean);
                    svg.raw("<path fill=\"none\" stroke=\"#888\" stroke-width=\"0.8\" stroke-dasharray=\"3 2\" d=\"M")
                        .num(mean_x)
                        .raw(" ")
                        .num(top - 2.0)
                        .raw("V")
                        .num(top + (last - first) as f64 * row_h)
                        .raw("\"/>\n");
                    for (k, node) in info.iter().enumerate().take(last).skip(first) {
                        let y = top + (k - first) as f64 * row_h;
                        row(svg, x, y, row_h, &layout, k, node, fraction(node.load));
                    }
                }
            }
            LegendMode::Bars { bar_h, step } => {
                let bar_x = x0 + 44.0;
                let bar_w = self.width - 64.0;
                let gap = if bar_h >= 3.0 { bar_h * 0.15 } else { 0.0 };
                for (k, node) in info.iter().enumerate() {
                    let y = top + k as f64 * bar_h;
                    let w = (bar_w * fraction(node.load)).max(0.5);
                    svg.raw("<rect x=\"")
                        .num(bar_x)
                        .raw("\" y=\"")
                        .num2(y)
                        .raw("\" width=\"")
                        .num(w)
                        .raw("\" height=\"")
                        .num2(bar_h - gap)
                        .raw("\" fill=\"")
                        .raw(node.colour)
                        .raw("\"><title>node ")
                        .uint(k as u64)
                        .raw(": load ")
                        .raw(&load_text(node.load))
                        .raw(", ")
                        .uint(node.systems as u64)
                        .raw(if node.systems == 1 { " system" } else { " systems" })
                        .raw(if node.dedicated { ", dedicated" } else { "" })
                        .raw("</title></rect>\n");
                    if node.dedicated {
                        svg.raw("<rect x=\"")
                            .num(bar_x + w + 2.0)
                            .raw("\" y=\"")
                            .num2(y)
                            .raw("\" width=\"2\" height=\"")
                            .num2((bar_h - gap).max(1.5))
                            .raw("\" fill=\"#000\"/>\n");
                    }
                    if k % step == 0 {
                        svg.text_element_anchored(
                            bar_x - 4.0,
                            y + bar_h / 2.0 + 3.5,
                            "font-size=\"10\" fill=\"#555\"",
                            "end",
                            &k.to_string(),
                        );
                    }
                }
                let bottom = top + info.len() as f64 * bar_h;
                let mean_x = bar_x + bar_w * fraction(mean);
                svg.raw("<path fill=\"none\" stroke=\"#333\" stroke-width=\"0.8\" stroke-dasharray=\"3 2\" d=\"M")
                    .num(mean_x)
                    .raw(" ")
                    .num(top - 2.0)
                    .raw("V")
                    .num(bottom)
                    .raw("\"/>\n");
                let axis = "font-size=\"10\" fill=\"#555\"";
                svg.text_element(bar_x, bottom + 12.0, axis, "0");
                svg.text_element_anchored(mean_x, bottom + 12.0, axis, "middle", "mean");
                svg.text_element_anchored(bar_x + bar_w, bottom + 12.0, axis, "end", &load_text(max));
                svg.text_element(x0, top - 6.0, axis, "node");
            }
        }
        svg.raw("</g>\n");
    }
}

/// 1, 2, 5, 10, 20, 50, … up to the largest that fits a `usize`.
fn nice_steps() -> impl Iterator<Item = usize> {
    (0..19u32).flat_map(|e| [1usize, 2, 5].map(|m| m.saturating_mul(10usize.saturating_pow(e))))
}

/// One text row of the legend.
#[allow(clippy::too_many_arguments)]
fn row(svg: &mut Svg, x: f64, y: f64, row_h: f64, layout: &RowLayout, k: usize, node: &NodeInfo, fraction: f64) {
    let size = (row_h - 6.0).clamp(6.0, 10.0);
    let middle = y + row_h / 2.0;
    let baseline = middle + layout.font * 0.35;
    let font = format!("font-size=\"{}\" fill=\"#222\"", layout.font);
    svg.raw("<rect x=\"")
        .num(x)
        .raw("\" y=\"")
        .num2(middle - size / 2.0)
        .raw("\" width=\"")
        .num(size)
        .raw("\" height=\"")
        .num(size)
        .raw("\" fill=\"")
        .raw(node.colour);
    if node.dedicated {
        svg.raw("\" stroke=\"#000\" stroke-width=\"1.2");
    }
    svg.raw("\"/>\n");
    svg.text_element_anchored(x + layout.node_end, baseline, &font, "end", &k.to_string());
    svg.text_element_anchored(x + layout.load_end, baseline, &font, "end", &load_text(node.load));
    let w = layout.bar_w * fraction;
    if w > 0.0 {
        svg.raw("<rect x=\"")
            .num(x + layout.bar_x)
            .raw("\" y=\"")
            .num2(middle - size / 2.0)
            .raw("\" width=\"")
            .num(w.max(0.5))
            .raw("\" height=\"")
            .num(size)
            .raw("\" fill=\"")
            .raw(node.colour)
            .raw("\" opacity=\"0.75\"/>\n");
    }
    svg.text_element(
        x + layout.systems_x,
        baseline,
        &font,
        &format!("{}{}", node.systems, if node.systems == 1 { layout.system_word } else { layout.systems_word }),
    );
    if node.dedicated {
        svg.text_element(
            x + layout.dedicated_x,
            baseline,
            &format!("font-size=\"{}\" font-weight=\"bold\" fill=\"#000\"", layout.font),
            layout.dedicated_word,
        );
    }
}

/// What the symbols mean, at the bottom of the legend.
fn key(svg: &mut Svg, x: f64, y: f64, labels: bool) {
    let text = "font-size=\"11\" fill=\"#333\"";
    let line = |svg: &mut Svg, row: f64, style: &str, label: &str| {
        let cy = y + row * 16.0;
        svg.raw("<path fill=\"none\" ")
            .raw(style)
            .raw(" d=\"M")
            .num(x)
            .raw(" ")
            .num(cy)
            .raw("H")
            .num(x + 24.0)
            .raw("\"/>\n");
        svg.text_element(x + 32.0, cy + 4.0, text, label);
    };
    svg.raw("<g id=\"key\">\n");
    line(svg, 0.0, "stroke=\"#b9bdc7\" stroke-width=\"1.2\"", "stargate within a node");
    line(svg, 1.0, "stroke=\"#5d6270\" stroke-width=\"1.2\" stroke-dasharray=\"3 2\"", "stargate between nodes (cut)");
    let dot = |svg: &mut Svg, cx: f64, cy: f64, r: f64, ring: bool| {
        svg.raw("<rect x=\"")
            .num(cx - r)
            .raw("\" y=\"")
            .num(cy - r)
            .raw("\" width=\"")
            .num(2.0 * r)
            .raw("\" height=\"")
            .num(2.0 * r)
            .raw("\" rx=\"")
            .num(r)
            .raw("\" fill=\"#888\"");
        if ring {
            svg.raw(" stroke=\"#000\" stroke-width=\"1.5\"");
        }
        svg.raw("/>\n");
    };
    dot(svg, x + 12.0, y + 32.0, 4.0, true);
    svg.text_element(x + 32.0, y + 36.0, text, "system on a dedicated node");
    dot(svg, x + 5.0, y + 48.0, 2.0, false);
    dot(svg, x + 16.0, y + 48.0, 5.0, false);
    svg.text_element(x + 32.0, y + 52.0, text, "dot area grows with the system's load");
    let mut row = 4.0;
    if labels {
        svg.text_element(x, y + row * 16.0 + 4.0, text, "numbers on the map: node numbers");
        row += 1.0;
    }
    svg.text_element(x, y + row * 16.0 + 4.0, text, "hover a dot or bar for details");
    svg.raw("</g>\n");
}

#[cfg(test)]
mod tests {
    use orrery_universe::{ConstellationId, RegionId, SolarSystem, SystemId, SystemKind, Vec3};

    use orrery_premap::evaluate;

    use super::*;
    use crate::svg::check::check_xml;

    const LY: f64 = LIGHT_YEAR_M;

    fn system(id: u32, name: &str, x: f64, z: f64) -> SolarSystem {
        SolarSystem {
            id: SystemId(id),
            name: name.to_string(),
            position: Vec3::new(x * LY, 0.0, z * LY),
            security: 0.5,
            constellation: ConstellationId(1),
            region: RegionId(1),
            kind: SystemKind::KSpace,
        }
    }

    fn universe(systems: Vec<SolarSystem>, gates: &[(u32, u32)]) -> Universe {
        let gates: Vec<(SystemId, SystemId)> = gates.iter().map(|&(a, b)| (SystemId(a), SystemId(b))).collect();
        Universe::new(systems, &gates, vec![], vec![]).expect("a valid test universe")
    }

    fn draw(universe: &Universe, load: &[f64], nodes: usize, node_of: Vec<u32>, title: &str) -> String {
        let mapping = Mapping::new(nodes, node_of).expect("nodes in range");
        let metrics = evaluate(universe, load, &mapping);
        render(universe, load, &mapping, &metrics, title)
    }

    /// Six systems in a row joined by gates, on three nodes of two systems each, with awkward names.
    fn chain() -> (Universe, Vec<f64>) {
        let names = ["A&B <x>", "Jita \"hub\"", "O'Brien", "Plain", "Gamma", "Delta"];
        let systems = names.iter().enumerate().map(|(i, n)| system(i as u32 + 1, n, i as f64 * 10.0, 0.0)).collect();
        let u = universe(systems, &[(1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]);
        (u, vec![1.0, 2.5, 3.0, 1.25, 4.0, 0.5])
    }

    /// The fill of each node's group of dots.
    fn node_fills(svg: &str, nodes: usize) -> Vec<Option<String>> {
        (0..nodes)
            .map(|k| {
                let marker = format!("<g id=\"node-{k}\" fill=\"");
                svg.find(&marker).map(|i| svg[i + marker.len()..].chars().take(7).collect())
            })
            .collect()
    }

    #[test]
    fn a_small_map_is_well_formed_and_complete() {
        let (u, load) = chain();
        let svg = draw(&u, &load, 3, vec![0, 0, 1, 1, 2, 2], "Tiny & <test> \"map\"");
        check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(svg.matches("<circle").count(), u.len());
        assert!(svg.contains("Tiny &amp; &lt;test&gt; &quot;map&quot;"));
        assert!(svg.contains("<title>A&amp;B &lt;x&gt; (1) — node 0, load 1.0</title>"));
        assert!(svg.contains("Jita &quot;hub&quot; (2)"));
        assert!(svg.contains("O&apos;Brien (3) — node 1, load 3.0"));
        assert!(!svg.contains("A&B"));
        // Gates: 3 within a node, 2 cut.
        assert!(svg.contains("id=\"gates\"") && svg.contains("id=\"cut-gates\""));
        assert!(svg.contains("2 cut between nodes"));
        assert!(svg.contains("6 systems"));
    }

    #[test]
    fn the_legend_lists_every_node_with_its_load_and_systems() {
        let (u, load) = chain();
        let svg = draw(&u, &load, 3, vec![0, 0, 1, 1, 2, 2], "t");
        for node_load in [3.5, 4.25, 4.5] {
            let text = format!(">{}</text>", load_text(node_load));
            assert!(svg.contains(&text), "missing {text}");
        }
        assert_eq!(svg.matches(">2 systems</text>").count(), 3);
        for k in 0..3 {
            assert!(svg.contains(&format!("text-anchor=\"end\" font-size=\"12\" fill=\"#222\">{k}</text>")));
        }
    }

    #[test]
    fn gate_neighbours_get_different_colours() {
        let (u, load) = chain();
        let svg = draw(&u, &load, 3, vec![0, 0, 1, 1, 2, 2], "t");
        let fills = node_fills(&svg, 3);
        assert!(fills.iter().all(|f| f.as_deref().is_some_and(|f| PALETTE.contains(&f))), "{fills:?}");
        assert_ne!(fills[0], fills[1]);
        assert_ne!(fills[1], fills[2]);
    }

    #[test]
    fn close_systems_without_gates_get_different_colours() {
        // Two tight clusters far apart; within each, two nodes interleave and no gates exist.
        let mut systems = Vec::new();
        for i in 0..4 {
            systems.push(system(i + 1, "west", 0.0, f64::from(i) * 0.1));
            systems.push(system(i + 11, "east", 100.0, f64::from(i) * 0.1));
        }
        let u = universe(systems, &[]);
        let node_of = vec![0, 2, 1, 3, 0, 2, 1, 3];
        let svg = draw(&u, &[1.0; 8], 4, node_of, "no gates");
        check_xml(&svg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(svg.matches("<circle").count(), 8);
        assert!(!svg.contains("id=\"gates\"") && !svg.contains("id=\"cut-gates\""));
        let fills = node_fills(&svg, 4);
        assert_ne!(fills[0], fills[1], "nodes 0 and 1 share the west cluster");
        assert_ne!(fills[2], fills[3], "nodes 2 and 3 share the east cluster");

        // More nodes than colours: one isolated system per node on a wide grid uses up the palette, and one more
        // node sits right next to node 0. Only seeing that they touch keeps it from taking node 0's colour.
        let k = PALETTE.len();
        let mut systems: Vec<SolarSystem> =
            (0..k).map(|i| system(i as u32 + 1, "far", (i % 4) as f64 * 10.0, (i / 4) as f64 * 10.0)).collect();
        systems.push(system(100, "close", 0.05, 0.05));
        let u = universe(systems, &[]);
        let svg = draw(&u, &vec![1.0; k + 1], k + 1, (0..=k as u32).collect(), "touching");
        let fills = node_fills(&svg, k + 1);
        assert_ne!(fills[0], fills[k]);
    }

    #[test]
    fn one_node_and_one_system_work() {
        let (u, load) = chain();
        let svg = draw(&u, &load, 1, vec![0; 6], "one node");
        check_xml(&svg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("1 node ·") && svg.contains(&format!(">{}</text>", load_text(12.25))));
        assert!(!svg.contains("cut-gates"));

        let single = universe(vec![system(7, "Lonely", 3.0, 4.0)], &[]);
        let svg = draw(&single, &[2.0], 1, vec![0], "single");
        check_xml(&svg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("Lonely (7) — node 0, load 2.0"));
    }

    #[test]
    fn an_empty_universe_draws_an_empty_map() {
        let empty = universe(vec![], &[]);
        for nodes in [0, 1, 3] {
            let mapping = Mapping::new(nodes, vec![]).expect("no systems");
            let metrics = Metrics {
                node_loads: vec![0.0; nodes],
                dedicated: vec![false; nodes],
                max_over_mean: 1.0,
                max_over_bound: 1.0,
                shared_max_over_mean: 1.0,
                coefficient_of_variation: 0.0,
                cut_gates: 0,
                fragmented_nodes: 0,
                extra_pieces: 0,
                mean_spread_ly: 0.0,
            };
            let svg = render(&empty, &[], &mapping, &metrics, "empty");
            check_xml(&svg).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(svg.matches("<circle").count(), 0);
        }
    }

    #[test]
    fn short_inputs_do_not_panic() {
        let (u, _) = chain();
        let mapping = Mapping::new(2, vec![0, 1, 0]).expect("in range");
        let metrics = evaluate(&universe(vec![], &[]), &[], &Mapping::new(2, vec![]).expect("empty"));
        let svg = render(&u, &[1.0, f64::NAN], &mapping, &metrics, "short");
        check_xml(&svg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("id=\"unmapped\"") && svg.contains("3 unmapped"));
    }

    #[test]
    fn a_dedicated_node_is_ringed_and_marked() {
        let (u, mut load) = chain();
        load[4] = 100.0;
        let svg = draw(&u, &load, 3, vec![0, 0, 1, 1, 2, 1], "hub");
        let group = svg.find("<g id=\"node-2\"").map(|i| &svg[i..]).expect("node 2 drawn");
        let first_line = group.lines().next().unwrap_or_default();
        assert!(first_line.contains("stroke=\"#000\""), "{first_line}");
        assert!(svg.contains(">dedicated</text>") && svg.contains("1 dedicated"));
        let plain = svg.find("<g id=\"node-0\"").map(|i| &svg[i..]).expect("node 0 drawn");
        assert!(plain.lines().next().is_some_and(|l| l.contains("stroke=\"#fff\"")));
    }

    #[test]
    fn many_nodes_switch_to_columns_then_to_bars() {
        let n = 400u32;
        let systems = (0..n).map(|i| system(i + 1, "s", f64::from(i % 20), f64::from(i / 20))).collect();
        let gates: Vec<(u32, u32)> = (1..n).filter(|i| i % 20 != 0).map(|i| (i, i + 1)).collect();
        let u = universe(systems, &gates);
        let load: Vec<f64> = (0..n).map(|i| 1.0 + f64::from(i % 7)).collect();
        for nodes in [100usize, 400] {
            let node_of: Vec<u32> = (0..n).map(|i| (i as usize * nodes / n as usize) as u32).collect();
            let svg = draw(&u, &load, nodes, node_of.clone(), "many");
            check_xml(&svg).unwrap_or_else(|e| panic!("{nodes} nodes: {e}"));
            assert_eq!(svg.matches("<circle").count(), n as usize);
            let mapping = Mapping::new(nodes, node_of).expect("in range");
            let metrics = evaluate(&u, &load, &mapping);
            match Legend::layout(nodes).mode {
                LegendMode::Rows { columns, .. } => {
                    assert!(nodes == 100 && columns == 2, "{nodes} nodes in {columns} columns");
                    for (k, l) in metrics.node_loads.iter().enumerate() {
                        assert!(svg.contains(&format!("\">{}</text>", load_text(*l))), "node {k}");
                    }
                }
                LegendMode::Bars { .. } => {
                    assert_eq!(nodes, 400);
                    for (k, l) in metrics.node_loads.iter().enumerate() {
                        assert!(svg.contains(&format!("<title>node {k}: load {}, 1 system</title>", load_text(*l))));
                    }
                }
            }
            // Gate-adjacent nodes differ while the palette allows (a grid needs few colours).
            let fills = node_fills(&svg, nodes);
            for (a, b) in u.gates() {
                let (na, nb) = (mapping.node_of(a), mapping.node_of(b));
                if na != nb {
                    assert_ne!(fills[na], fills[nb], "{nodes} nodes: {na} and {nb}");
                }
            }
        }
    }

    #[test]
    fn colouring_separates_neighbours_and_degrades_gracefully() {
        let complete = |k: usize| -> Vec<Vec<(usize, u64)>> {
            (0..k).map(|v| (0..k).filter(|&u| u != v).map(|u| (u, 1)).collect()).collect()
        };
        // A clique as large as the palette: every colour once.
        let colours = colour_graph(&complete(PALETTE.len()), PALETTE.len());
        let mut sorted = colours.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..PALETTE.len()).collect::<Vec<_>>());
        // A larger clique: colours reused evenly, none more than twice.
        let colours = colour_graph(&complete(30), PALETTE.len());
        assert!((0..PALETTE.len()).all(|c| colours.iter().filter(|&&x| x == c).count() <= 2));
        // An odd cycle and a long path: neighbours always differ.
        for k in [5usize, 1001] {
            let cycle: Vec<Vec<(usize, u64)>> = (0..k).map(|v| vec![((v + k - 1) % k, 1), ((v + 1) % k, 1)]).collect();
            let colours = colour_graph(&cycle, PALETTE.len());
            assert!((0..k).all(|v| colours[v] != colours[(v + 1) % k] && colours[v] < PALETTE.len()));
        }
        assert!(colour_graph(&[], PALETTE.len()).is_empty());
        assert_eq!(colour_graph(&[vec![]], 0), vec![0]);
    }

    #[test]
    fn output_is_deterministic() {
        let (u, load) = chain();
        let a = draw(&u, &load, 3, vec![0, 1, 2, 0, 1, 2], "same");
        let b = draw(&u, &load, 3, vec![0, 1, 2, 0, 1, 2], "same");
        assert_eq!(a, b);
    }

    #[test]
    fn numbers_are_rounded_compactly() {
        let mut svg = Svg(String::new());
        for v in [0.0, 12.34, 5.0, -3.25, -0.04, 999.96, f64::NAN, 1e300] {
            svg.num(v).raw(" ");
        }
        svg.num2(0.125).raw(" ").num2(2.05).raw(" ").uint(0).raw(" ").uint(30000142);
        assert_eq!(svg.0, "0 12.3 5 -3.3 0 1000 0 100000000000000 0.13 2.05 0 30000142");
    }

    #[test]
    fn unsafe_characters_are_escaped() {
        let mut svg = Svg(String::new());
        svg.text("a&b<c>d\"e'f\u{1}g\nh");
        assert_eq!(svg.0, "a&amp;b&lt;c&gt;d&quot;e&apos;f\u{FFFD}g\nh");
    }
}
