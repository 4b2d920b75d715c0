//! Draws the trade-off between balance and locality: how many stargates a mapping cuts, how many nodes it
//! leaves in pieces and how far a node's systems spread, against how heavy its heaviest node is.
//!
//! Why: one table per node count compares strategies at one point each, but `best` and METIS each trade
//! balance for locality along a curve (an operator's imbalance allowance; METIS's tolerance). Whether one
//! partitioner is better than another is a question of which curve lies below the other, which a picture
//! answers at a glance and a wide table does not.
//!
//! What is drawn (plain SVG 1.1, deterministic): three panels side by side sharing the horizontal axis, max /
//! mean load of the shared nodes; vertically the stargates cut, the nodes in pieces, and the mean spread in
//! light years. Each series (a strategy swept over imbalances, or a strategy run once) is a line of dots in its
//! own colour, each dot labelled with its setting and with a tooltip of its figures; a legend names the series.

use crate::svg::{PALETTE, Svg};

/// One mapping's figures, as the chart plots them.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// What produced it, e.g. "2%" (shown beside the dot).
    pub label: String,
    /// Max / mean load of the shared nodes (`Metrics::shared_max_over_mean`).
    pub balance: f64,
    /// Stargates joining two nodes.
    pub cut_gates: usize,
    /// Nodes whose systems lie in more than one piece that could have been joined.
    pub fragmented_nodes: usize,
    /// Mean spatial spread of a node's systems, in light years.
    pub spread_ly: f64,
}

/// A strategy's points, in the order they are joined by a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The strategy (or strategy and setting) the legend names, e.g. "best" or "metis".
    pub name: String,
    /// Its mappings' figures, one dot each, joined by a line in this order (a sweep over imbalances in
    /// rising order draws the strategy's trade-off curve).
    pub points: Vec<Point>,
}

/// Width and height of one panel's plot area, in pixels.
const PANEL_W: f64 = 360.0;
const PANEL_H: f64 = 300.0;
/// Space left of a panel (tick labels), between panels, above (title, legend) and below (axis label).
const LEFT: f64 = 64.0;
const GAP: f64 = 40.0;
const TOP: f64 = 96.0;
const BOTTOM: f64 = 56.0;

/// One panel: its heading and the figure it plots.
type Panel = (&'static str, fn(&Point) -> f64);

const PANELS: [Panel; 3] = [
    ("stargates cut", |p| p.cut_gates as f64),
    ("nodes in pieces", |p| p.fragmented_nodes as f64),
    ("mean spread (ly)", |p| p.spread_ly),
];

/// Renders `series` as a standalone SVG document headed by `title`. Never panics: non-finite figures are left
/// out, and with no points at all the axes are drawn empty.
///
/// ```
/// use orrery_premap_view::chart::{Point, Series, tradeoff};
///
/// let point = |label: &str, balance, cut_gates, fragmented_nodes, spread_ly| Point {
///     label: label.into(), balance, cut_gates, fragmented_nodes, spread_ly,
/// };
/// let best = Series { name: "best".into(), points: vec![point("0%", 1.03, 917, 40, 4.28), point("20%", 1.2, 721, 5, 2.83)] };
/// let metis = Series { name: "metis".into(), points: vec![point("3%", 1.34, 741, 54, 4.36)] };
/// let svg = tradeoff("EVE, 250 nodes", &[best, metis]);
/// assert!(svg.starts_with("<?xml") && svg.contains("best 20%: max/mean 1.2000"));
/// ```
///
/// Longer than most functions on purpose: one straight run of SVG output (frame, panels, series, legend) whose
/// coordinates build on each other from top to bottom.
pub fn tradeoff(title: &str, series: &[Series]) -> String {
    let finite = |p: &&Point| p.balance.is_finite() && p.spread_ly.is_finite();
    let points = || series.iter().flat_map(|s| s.points.iter()).filter(finite);
    let (mut x_low, mut x_high) =
        points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.balance), hi.max(p.balance)));
    if !x_low.is_finite() {
        (x_low, x_high) = (1.0, 1.1);
    }
    let x_axis = Axis::covering(x_low, x_high);
    let width = LEFT + PANELS.len() as f64 * (PANEL_W + GAP);
    let height = TOP + PANEL_H + BOTTOM;
    let mut svg = Svg(String::new());
    svg.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg.raw(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    ));
    svg.raw("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"16\" y=\"28\" font-size=\"18\">");
    svg.text(title);
    svg.raw("</text>\n");
    // Legend, one swatch per series.
    let mut x = 16.0;
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        svg.raw(&format!(
            "<circle cx=\"{:.1}\" cy=\"50\" r=\"5\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"54\">",
            x + 5.0,
            x + 14.0
        ));
        svg.text(&s.name);
        svg.raw("</text>\n");
        x += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
    for (panel, (heading, value)) in PANELS.iter().enumerate() {
        let left = LEFT + panel as f64 * (PANEL_W + GAP);
        // The vertical range follows the swept series (more than one point): a strategy run once far off the
        // scale (LPT cuts thousands of gates) is drawn at the top edge with its figure written out.
        let swept = || series.iter().filter(|s| s.points.len() > 1).flat_map(|s| s.points.iter()).filter(finite);
        let range = |values: &mut dyn Iterator<Item = f64>| {
            values.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let (mut y_low, mut y_high) = range(&mut swept().map(value));
        if !y_high.is_finite() {
            (y_low, y_high) = range(&mut points().map(value));
        }
        let y_axis = Axis::covering(y_low, if y_high.is_finite() { y_high } else { 1.0 });
        let to_x = |v: f64| left + x_axis.fraction(v) * PANEL_W;
        let to_y = |v: f64| TOP + (1.0 - y_axis.fraction(v).min(1.0)) * PANEL_H;
        svg.raw(&format!(
            "<g class=\"panel\"><rect x=\"{left:.1}\" y=\"{TOP:.1}\" width=\"{PANEL_W:.0}\" height=\"{PANEL_H:.0}\" \
             fill=\"none\" stroke=\"#888\"/>\n<text x=\"{left:.1}\" y=\"{:.1}\" font-weight=\"bold\">",
            TOP - 22.0
        ));
        svg.text(heading);
        svg.raw("</text>\n");
        for tick in x_axis.ticks() {
            let at = to_x(tick);
            svg.raw(&format!(
                "<line x1=\"{at:.1}\" y1=\"{TOP:.1}\" x2=\"{at:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                TOP + PANEL_H,
                TOP + PANEL_H + 16.0,
                x_axis.format(tick)
            ));
        }
        for tick in y_axis.ticks() {
            let at = to_y(tick);
            svg.raw(&format!(
                "<line x1=\"{left:.1}\" y1=\"{at:.1}\" x2=\"{:.1}\" y2=\"{at:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                left + PANEL_W,
                left - 6.0,
                at + 4.0,
                y_axis.format(tick)
            ));
        }
        svg.raw(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">max / mean load, shared nodes</text>\n",
            left + PANEL_W / 2.0,
            TOP + PANEL_H + 40.0
        ));
        for (i, s) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let mut shown: Vec<&Point> = s.points.iter().filter(finite).collect();
            // Joined in order of balance, so the line reads as a curve even where a setting balanced worse.
            shown.sort_by(|a, b| a.balance.total_cmp(&b.balance));
            if shown.len() > 1 {
                let line: Vec<String> =
                    shown.iter().map(|p| format!("{:.1},{:.1}", to_x(p.balance), to_y(value(p)))).collect();
                svg.raw(&format!(
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>\n",
                    line.join(" ")
                ));
            }
            for p in shown {
                let (cx, cy) = (to_x(p.balance), to_y(value(p)));
                svg.raw(&format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"{colour}\"><title>"));
                svg.text(&format!(
                    "{} {}: max/mean {:.4}, {} cut gates, {} nodes in pieces, spread {:.2} ly",
                    s.name, p.label, p.balance, p.cut_gates, p.fragmented_nodes, p.spread_ly
                ));
                svg.raw(&format!(
                    "</title></circle><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" fill=\"{colour}\">",
                    cx + 5.0,
                    cy - 5.0
                ));
                if value(p) > y_axis.high {
                    svg.text(&format!("{} {} {} ↑", s.name, p.label, y_axis.format(value(p))));
                } else {
                    svg.text(&p.label);
                }
                svg.raw("</text>\n");
            }
        }
        svg.raw("</g>\n");
    }
    svg.raw("</svg>\n");
    svg.0
}

/// A linear axis from `low` to `high` with round tick marks.
struct Axis {
    low: f64,
    high: f64,
    step: f64,
}

impl Axis {
    /// An axis covering `[low, high]`, widened to whole ticks (about five of them).
    fn covering(low: f64, high: f64) -> Axis {
        let span = (high - low).max(high.abs() * 1e-6).max(1e-9);
        let raw = span / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|&s| s >= raw).unwrap_or(raw);
        let low = (low / step).floor() * step;
        let high = ((high / step).ceil() * step).max(low + step);
        Axis { low, high, step }
    }

    /// Where `v` lies along the axis, 0 at `low` and 1 at `high`.
    fn fraction(&self, v: f64) -> f64 {
        (v - self.low) / (self.high - self.low)
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let count = ((self.high - self.low) / self.step).round() as usize;
        (0..=count).map(move |i| self.low + i as f64 * self.step)
    }

    /// A tick value with as many decimals as the step needs.
    fn format(&self, v: f64) -> String {
        let decimals = (-self.step.log10().floor()).max(0.0) as usize;
        format!("{v:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::{Point, Series, tradeoff};
    use crate::svg::check::check_xml;

    fn point(label: &str, balance: f64, cut: usize, pieces: usize, spread: f64) -> Point {
        Point { label: label.into(), balance, cut_gates: cut, fragmented_nodes: pieces, spread_ly: spread }
    }

    fn circles(svg: &str) -> Vec<(f64, f64)> {
        svg.split("<circle ")
            .skip(1)
            .map(|c| {
                let attr = |name: &str| -> f64 {
                    let start = c.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
                    c[start..].split('"').next().and_then(|v| v.parse().ok()).expect("a number")
                };
                (attr("cx"), attr("cy"))
            })
            .collect()
    }

    #[test]
    fn every_point_is_a_dot_and_higher_figures_sit_higher() {
        let series = vec![
            Series {
                name: "best".into(),
                points: vec![point("0%", 1.01, 900, 40, 4.3), point("10%", 1.1, 700, 7, 2.9)],
            },
            Series { name: "metis & <co>".into(), points: vec![point("3%", 1.34, 741, 54, 4.4)] },
        ];
        let svg = tradeoff("EVE, 250 nodes", &series);
        check_xml(&svg).expect("well-formed SVG");
        assert!(svg.contains("metis &amp; &lt;co&gt;"), "series names are escaped");
        // Two legend swatches, then three panels of three points each.
        let dots = circles(&svg);
        assert_eq!(dots.len(), 2 + 3 * 3);
        let cut_panel = &dots[2..5];
        // More cut gates sit higher (smaller y); heavier heaviest nodes sit further right.
        assert!(cut_panel[0].1 < cut_panel[1].1, "900 cut gates should be above 700: {cut_panel:?}");
        assert!(cut_panel[0].0 < cut_panel[1].0 && cut_panel[1].0 < cut_panel[2].0, "{cut_panel:?}");
        assert_eq!(svg.matches("<polyline").count(), 3, "one line per panel for the two-point series");
        assert!(svg.contains("best 10%: max/mean 1.1000, 700 cut gates, 7 nodes in pieces, spread 2.90 ly"));
    }

    #[test]
    fn no_points_or_broken_figures_still_draw_the_axes() {
        let empty = tradeoff("nothing", &[]);
        check_xml(&empty).expect("well-formed SVG");
        assert_eq!(empty.matches("class=\"panel\"").count(), 3);
        let broken = tradeoff("nan", &[Series { name: "x".into(), points: vec![point("a", f64::NAN, 1, 1, 1.0)] }]);
        check_xml(&broken).expect("well-formed SVG");
        assert_eq!(circles(&broken).len(), 1, "only the legend swatch: the point with no balance is left out");
    }
}
