//! PNG charts (display only: amounts become f64 tokens here, never in the ledger). The font is
//! embedded (DejaVu Sans, see assets/), so charts render on a machine without fontconfig.

use crate::SimResult;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const TOKEN: f64 = 1e18;
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// What the charts of a run say about where they come from: every title carries the network,
/// the seed, the scenario and the overrides, so a PNG shared alone still says what it shows.
#[derive(Debug, Clone, Default)]
pub struct Caption {
    /// e.g. `seed 42 · scenario default · no overrides`.
    pub context: String,
    /// What the bar charts show when several runs were made, e.g. `one seed (5) of 3 runs, not
    /// a median`; `None` for a single run.
    pub bars_note: Option<String>,
    /// The cap of the policy the run started with (overrides included), for the cap line.
    pub initial_cap: Option<u128>,
}

/// Title and subtitle on top of `root`; the area under them.
fn titled<'b>(
    root: &DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let area = root.titled(title, ("sans-serif", 26)).map_err(|e| e.to_string())?;
    area.titled(subtitle, ("sans-serif", 15).into_font().color(&RGBColor(80, 80, 80))).map_err(|e| e.to_string())
}

fn frame<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    x_max: f64,
    y_max: f64,
    y_label: &str,
) -> Result<Chart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..x_max.max(1e-9), 0f64..(y_max * 1.05).max(1e-9))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("years")
        .y_desc(y_label)
        .y_label_formatter(&|v| short(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())
}

fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

fn years(epoch: u64) -> f64 {
    epoch as f64 / 365.0
}

/// A named, coloured series read from each row.
type Series = (&'static str, RGBColor, fn(&crate::EpochRow) -> u128);

/// Percentile bands over runs: (p5, p50, p95) per epoch of a series.
pub type Bands = Vec<(f64, f64, f64)>;

/// Opaque colours, distinct side by side (a legend swatch is exactly what the chart shows).
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Draws all four charts of a run into `dir`; with `bands` (from `--runs`), supply.png gets
/// p5–p95 bands around the median.
pub fn draw_all(
    dir: &Path,
    result: &SimResult,
    bands: Option<&[(String, Bands)]>,
    caption: &Caption,
) -> Result<(), String> {
    register_font();
    supply(&dir.join("supply.png"), result, bands, caption)?;
    daily_distribution(&dir.join("daily_distribution.png"), result, caption)?;
    allocation(&dir.join("allocation.png"), result, caption)?;
    rewards(&dir.join("rewards.png"), result, caption)
}

/// The network's policies over the run, e.g. `netmind → netmind-2024`.
fn network(result: &SimResult) -> String {
    let mut names: Vec<&str> = Vec::new();
    for era in &result.state.policy_log {
        if names.last() != Some(&era.name.as_str()) {
            names.push(&era.name);
        }
    }
    if names.is_empty() { result.state.policy.name.clone() } else { names.join(" → ") }
}

/// The policy upgrades of the run (G12): (first epoch, policy name and version), after the first.
fn upgrades(result: &SimResult) -> Vec<(u64, String)> {
    result
        .state
        .policy_log
        .iter()
        .skip(1)
        .map(|era| (era.from_epoch, format!("{} v{}", era.name, era.version)))
        .collect()
}

/// A dashed vertical line and a label at each policy upgrade.
fn mark_upgrades<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, result: &SimResult, y_top: f64) -> Result<(), String> {
    let color = RGBColor(60, 60, 60);
    for (epoch, name) in upgrades(result) {
        let x = years(epoch.saturating_sub(1));
        chart
            .draw_series(DashedLineSeries::new(vec![(x, 0.0), (x, y_top)], 6, 4, color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("upgrade to {name} (epoch {epoch})"),
                (x, y_top),
                ("sans-serif", 14).into_font().color(&color).pos(Pos::new(HPos::Left, VPos::Top)),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The cap in force at each epoch, as steps: the run's first policy (`initial_cap`), each
/// upgrade's preset, and the final policy for the last era.
fn cap_steps(result: &SimResult, caption: &Caption) -> Vec<(f64, f64)> {
    let log = &result.state.policy_log;
    let last = result.rows.len() as u64;
    let mut points = Vec::new();
    for (i, era) in log.iter().enumerate() {
        let cap = if i + 1 == log.len() {
            Some(result.state.policy.token.cap.0)
        } else if i == 0 {
            caption.initial_cap
        } else {
            crate::load_policy(&era.name).ok().map(|p| p.token.cap.0)
        };
        let Some(cap) = cap else { continue };
        let end = log.get(i + 1).map_or(last, |next| next.from_epoch.saturating_sub(1));
        points.push((years(era.from_epoch.saturating_sub(1)), cap as f64 / TOKEN));
        points.push((years(end), cap as f64 / TOKEN));
    }
    points
}

fn supply(path: &Path, result: &SimResult, bands: Option<&[(String, Bands)]>, caption: &Caption) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    let x_max = years(result.rows.len() as u64);
    let caps = cap_steps(result, caption);
    let y_max = result
        .rows
        .iter()
        .map(|r| r.total_supply.max(r.burned_total) as f64 / TOKEN)
        .chain(caps.iter().map(|(_, cap)| *cap))
        .fold(0.0, f64::max);
    let title = match bands {
        Some(_) => format!("{}: supply (lines: one seed; bands: p5–p95 over the runs)", network(result)),
        None => format!("{}: supply", network(result)),
    };
    let area = titled(&root, &title, &caption.context)?;
    let mut chart = frame(&area, x_max, y_max, "tokens")?;
    let series: [Series; 4] = [
        ("total supply", PALETTE[0], |r| r.total_supply),
        ("circulating", PALETTE[2], |r| r.circulating),
        ("locked (pools + escrow)", PALETTE[1], |r| r.locked),
        ("burned", PALETTE[3], |r| r.burned_total),
    ];
    for (name, color, get) in series {
        chart
            .draw_series(LineSeries::new(
                result.rows.iter().map(|r| (years(r.epoch), get(r) as f64 / TOKEN)),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    if let Some(bands) = bands {
        for (name, band) in bands {
            let color = if name.contains("circulating") {
                PALETTE[2]
            } else if name.contains("burned") {
                PALETTE[3]
            } else {
                PALETTE[0]
            };
            let upper: Vec<(f64, f64)> = band.iter().enumerate().map(|(i, b)| (years(i as u64 + 1), b.2)).collect();
            let lower: Vec<(f64, f64)> =
                band.iter().enumerate().rev().map(|(i, b)| (years(i as u64 + 1), b.0)).collect();
            let polygon: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
            let fill = color.mix(0.25);
            chart.draw_series(std::iter::once(Polygon::new(polygon, fill))).map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(
                    band.iter().enumerate().map(|(i, b)| (years(i as u64 + 1), b.1)),
                    color.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("{name}: median, p5–p95"))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], fill.filled()));
        }
    }
    // the cap last, dashed: where the supply reaches it, both stay visible
    let cap_color = BLACK;
    chart
        .draw_series(DashedLineSeries::new(caps, 10, 6, cap_color.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label("cap")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], cap_color.stroke_width(2)));
    mark_upgrades(&mut chart, result, y_max * 0.8)?;
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

/// The value under which `share` of `values` lie (nearest rank).
fn quantile(values: &[f64], share: f64) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len().saturating_sub(1)) as f64 * share).round() as usize;
    sorted.get(rank).copied().unwrap_or(0.0)
}

/// The top of the daily chart: a quarter above the 99th percentile of the daily totals, so
/// that a few cliff days (NM4) do not set the scale; the largest day when most days are 0.
fn daily_scale(totals: &[f64]) -> f64 {
    let typical = quantile(totals, 0.99) * 1.25;
    if typical > 0.0 { typical } else { totals.iter().copied().fold(0.0, f64::max) }
}

/// Releases per day, stacked by pool in opaque colours. The y-axis is scaled to the ordinary
/// days (the 99th percentile of the daily total): a one-day cliff such as NM4's 2,000,000,000
/// runs off the top and is written next to it instead of flattening every other day.
fn daily_distribution(path: &Path, result: &SimResult, caption: &Caption) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    let x_max = years(result.rows.len() as u64);
    // only the pools that released something appear (and in the legend)
    let flowing: Vec<usize> = (0..result.pools.len())
        .filter(|&i| result.rows.iter().any(|r| r.released_epoch().get(i).copied().unwrap_or(0) > 0))
        .collect();
    let day = |row: &crate::EpochRow, i: usize| row.released_epoch().get(i).copied().unwrap_or(0) as f64 / TOKEN;
    let totals: Vec<f64> = result.rows.iter().map(|r| flowing.iter().map(|&i| day(r, i)).sum()).collect();
    let y_max = daily_scale(&totals);
    let area = titled(&root, &format!("{}: released per day, by pool (stacked)", network(result)), &caption.context)?;
    let mut chart = frame(&area, x_max, y_max.max(1e-9), "tokens per day")?;
    // the top of each pool's band is the sum of it and the pools under it; drawn from the top
    // band down, each opaque area covers the lower part of the one before
    for (rank, &pool) in flowing.iter().enumerate().rev() {
        let color = PALETTE[rank % PALETTE.len()];
        let points: Vec<(f64, f64)> = result
            .rows
            .iter()
            .map(|r| (years(r.epoch), flowing[..=rank].iter().map(|&i| day(r, i)).sum::<f64>().min(y_max * 1.05)))
            .collect();
        chart
            .draw_series(AreaSeries::new(points, 0.0, color.filled()).border_style(color))
            .map_err(|e| e.to_string())?
            .label(result.pools[pool].clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.filled()));
    }
    // days off the scale, named (at most five, the largest)
    let mut off: Vec<(usize, f64)> = totals.iter().copied().enumerate().filter(|(_, t)| *t > y_max * 1.05).collect();
    off.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (index, total) in off.into_iter().take(5) {
        let Some(row) = result.rows.get(index) else { continue };
        let biggest = flowing.iter().copied().max_by(|&a, &b| day(row, a).total_cmp(&day(row, b)));
        let who = biggest.map(|i| result.pools[i].clone()).unwrap_or_default();
        chart
            .draw_series(std::iter::once(Text::new(
                format!("▲ epoch {}: {} released ({who}), off the scale", row.epoch, short(total)),
                (years(row.epoch), y_max * 1.02),
                ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))
            .map_err(|e| e.to_string())?;
    }
    mark_upgrades(&mut chart, result, y_max * 0.9)?;
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

/// Horizontal bars, one per item, each with its value written beside it. The names sit on the
/// left where they never overlap; when the values span more than a factor of 100 the axis is
/// logarithmic, so a small bar beside a large one still shows.
fn bars(path: &Path, title: &str, subtitle: &str, items: &[(String, f64)], x_label: &str) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1000, 120 + 60 * items.len().max(1) as u32)).into_drawing_area();
    let area = titled(&root, title, subtitle)?;
    let largest = items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-9);
    let smallest = items.iter().map(|(_, v)| *v).filter(|v| *v > 0.0).fold(largest, f64::min);
    let names: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();
    let rows = items.len().max(1) - 1;
    let builder = |area| {
        let mut builder = ChartBuilder::on(area);
        builder.margin(16).x_label_area_size(40).y_label_area_size(260);
        builder
    };
    if largest / smallest > 100.0 {
        let low = 10f64.powf(smallest.log10().floor());
        let mut chart = builder(&area)
            .build_cartesian_2d((low..largest * 20.0).log_scale(), (0..rows).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(format!("{x_label} (logarithmic)"))
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| segment_name(&names, v))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        chart.draw_series(bar_shapes(items, low)).map_err(|e| e.to_string())?;
        chart.draw_series(bar_values(items)).map_err(|e| e.to_string())?;
    } else {
        let mut chart = builder(&area)
            .build_cartesian_2d(0f64..largest * 1.2, (0..rows).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_label)
            .x_label_formatter(&|v| short(*v))
            .y_label_formatter(&|v| segment_name(&names, v))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        chart.draw_series(bar_shapes(items, 0.0)).map_err(|e| e.to_string())?;
        chart.draw_series(bar_values(items)).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

fn segment_name(names: &[String], value: &SegmentValue<usize>) -> String {
    match value {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn bar_shapes(items: &[(String, f64)], base: f64) -> impl Iterator<Item = Rectangle<(f64, SegmentValue<usize>)>> + '_ {
    items.iter().enumerate().map(move |(i, (_, v))| {
        let mut bar = Rectangle::new(
            [(base, SegmentValue::Exact(i)), (v.max(base), SegmentValue::Exact(i + 1))],
            PALETTE[0].filled(),
        );
        bar.set_margin(8, 8, 0, 0);
        bar
    })
}

fn bar_values(items: &[(String, f64)]) -> impl Iterator<Item = Text<'static, (f64, SegmentValue<usize>), String>> + '_ {
    items.iter().enumerate().map(|(i, (_, v))| {
        Text::new(
            format!(" {}", short(*v)),
            (*v, SegmentValue::CenterOf(i)),
            ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    })
}

fn bars_subtitle(caption: &Caption) -> String {
    match &caption.bars_note {
        Some(note) => format!("{} · {note}", caption.context),
        None => caption.context.clone(),
    }
}

fn allocation(path: &Path, result: &SimResult, caption: &Caption) -> Result<(), String> {
    let state = &result.state;
    let mut items: Vec<(String, f64)> =
        state.pools.iter().filter(|p| p.balance > 0).map(|p| (p.name.to_string(), p.balance as f64 / TOKEN)).collect();
    let accounts: u128 = state.total_supply() - state.pools_total() - state.bridge.escrow;
    items.push(("accounts".into(), accounts as f64 / TOKEN));
    if state.bridge.escrow > 0 {
        items.push(("bridge escrow".into(), state.bridge.escrow as f64 / TOKEN));
    }
    if state.burned_total > 0 {
        items.push(("burned".into(), state.burned_total as f64 / TOKEN));
    }
    bars(
        path,
        &format!("{}: where the tokens are after {} epochs", network(result), result.rows.len()),
        &bars_subtitle(caption),
        &items,
        "tokens",
    )
}

fn rewards(path: &Path, result: &SimResult, caption: &Caption) -> Result<(), String> {
    let gini = result.machine_rewards_gini;
    let items: Vec<(String, f64)> = result
        .rewards_by_class
        .iter()
        .map(|(class, rewards)| {
            let mean = rewards.iter().map(|r| *r as f64).sum::<f64>() / rewards.len().max(1) as f64 / TOKEN;
            (format!("class {class} ({} machines)", rewards.len()), mean)
        })
        .collect();
    bars(
        path,
        &format!("{}: mean reward per machine by GPU class (Gini {gini:.3})", network(result)),
        &bars_subtitle(caption),
        &items,
        "tokens per machine",
    )
}

/// One quantity over the runs of `--runs`, as its spread around the median: p5 − median and
/// p95 − median per epoch, filled between. A quantity that grows to billions while the seeds move
/// it by thousands shows a flat line on the supply chart; here the spread is the whole chart.
pub fn band_chart(path: &Path, title: &str, subtitle: &str, band: &Bands) -> Result<(), String> {
    register_font();
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    let area = titled(&root, title, subtitle)?;
    let low = band.iter().map(|b| b.0 - b.1).fold(0.0, f64::min);
    let high = band.iter().map(|b| b.2 - b.1).fold(0.0, f64::max);
    let pad = ((high - low) * 0.1).max(1e-9);
    let mut chart = ChartBuilder::on(&area)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..years(band.len() as u64).max(1e-9), (low - pad)..(high + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("years")
        .y_desc("tokens above (below) the median")
        .y_label_formatter(&|v| short(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    let fill = RGBColor(174, 199, 232);
    let upper = band.iter().enumerate().map(|(i, b)| (years(i as u64 + 1), b.2 - b.1));
    let lower = band.iter().enumerate().rev().map(|(i, b)| (years(i as u64 + 1), b.0 - b.1));
    chart
        .draw_series(std::iter::once(Polygon::new(upper.chain(lower).collect::<Vec<_>>(), fill.filled())))
        .map_err(|e| e.to_string())?
        .label("p5 to p95 of the runs")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], fill.filled()));
    let median = PALETTE[0];
    chart
        .draw_series(LineSeries::new(vec![(0.0, 0.0), (years(band.len() as u64), 0.0)], median.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label(format!("the median (at the end: {})", short(band.last().map_or(0.0, |b| b.1))))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], median.stroke_width(2)));
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

/// One line per run of a sweep (or of any set of runs): `series` are (label, value per epoch in
/// tokens), each in its own opaque colour, dashed once the palette is used up.
pub fn overlay(path: &Path, title: &str, subtitle: &str, series: &[(String, Vec<f64>)]) -> Result<(), String> {
    register_font();
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    let epochs = series.iter().map(|(_, values)| values.len()).max().unwrap_or(0);
    let y_max = series.iter().flat_map(|(_, values)| values.iter().copied()).fold(0.0, f64::max);
    let area = titled(&root, title, subtitle)?;
    let mut chart = frame(&area, years(epochs as u64), y_max, "tokens")?;
    for (index, (label, values)) in series.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let points: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, v)| (years(i as u64 + 1), *v)).collect();
        let style = color.stroke_width(2);
        let drawn = if index < PALETTE.len() {
            chart.draw_series(LineSeries::new(points, style))
        } else {
            chart.draw_series(DashedLineSeries::new(points, 8, 5, style))
        };
        drawn
            .map_err(|e| e.to_string())?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: NetMind's 2,000,000,000 DAO cliff does not set the daily chart's scale, while a
    /// run whose every release is a cliff still shows it. Method: the daily totals of 10 years
    /// with one cliff day, and a run with releases on two days only.
    #[test]
    fn a_cliff_day_does_not_set_the_daily_scale() {
        let mut totals = vec![380_000.0; 3650];
        totals[1824] = 2_000_380_000.0;
        let top = daily_scale(&totals);
        assert!((380_000.0..1_000_000.0).contains(&top), "{top}");
        let mut sparse = vec![0.0; 3650];
        sparse[10] = 5.0e9;
        sparse[20] = 1.0e9;
        assert_eq!(daily_scale(&sparse), 5.0e9);
    }
}
