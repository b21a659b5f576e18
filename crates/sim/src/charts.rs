//! PNG charts (display only: amounts become f64 tokens here, never in the ledger). The font is
//! embedded (DejaVu Sans, see assets/), so charts render on a machine without fontconfig.

use crate::SimResult;
use plotters::prelude::*;
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

fn frame<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    x_max: f64,
    y_max: f64,
    y_label: &str,
) -> Result<Chart<'a, 'b>, String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
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

/// Draws all four charts of a run into `dir`; with `bands` (from `--runs`), supply.png gets
/// p5–p95 bands around the median.
pub fn draw_all(dir: &Path, result: &SimResult, bands: Option<&[(String, Bands)]>) -> Result<(), String> {
    register_font();
    supply(&dir.join("supply.png"), result, bands)?;
    daily_distribution(&dir.join("daily_distribution.png"), result)?;
    allocation(&dir.join("allocation.png"), result)?;
    rewards(&dir.join("rewards.png"), result)
}

fn supply(path: &Path, result: &SimResult, bands: Option<&[(String, Bands)]>) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    let x_max = years(result.rows.len() as u64);
    let y_max = result.rows.iter().map(|r| r.total_supply.max(r.burned_total) as f64 / TOKEN).fold(0.0, f64::max);
    let mut chart = frame(&root, &format!("{}: supply", result.state.policy.name), x_max, y_max, "tokens")?;
    let series: [Series; 4] = [
        ("total supply", BLUE, |r| r.total_supply),
        ("circulating", GREEN, |r| r.circulating),
        ("locked (pools + escrow)", RGBColor(200, 120, 0), |r| r.locked),
        ("burned", RED, |r| r.burned_total),
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
            let color = if name.contains("circulating") { GREEN } else { BLUE };
            let upper: Vec<(f64, f64)> = band.iter().enumerate().map(|(i, b)| (years(i as u64 + 1), b.2)).collect();
            let lower: Vec<(f64, f64)> =
                band.iter().enumerate().rev().map(|(i, b)| (years(i as u64 + 1), b.0)).collect();
            let polygon: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
            chart.draw_series(std::iter::once(Polygon::new(polygon, color.mix(0.15)))).map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(
                    band.iter().enumerate().map(|(i, b)| (years(i as u64 + 1), b.1)),
                    color.mix(0.6).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("{name} p5–p95"))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.mix(0.3).filled()));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn daily_distribution(path: &Path, result: &SimResult) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    let x_max = years(result.rows.len() as u64);
    let stack_top = |row: &crate::EpochRow| row.released_epoch().iter().map(|v| *v as f64 / TOKEN).sum::<f64>();
    // the daily mean over a 30-day window keeps one-day cliffs (NM4) from flattening the rest
    let y_max = result
        .rows
        .iter()
        .map(stack_top)
        .fold(0.0, f64::max)
        .min(result.rows.iter().map(stack_top).sum::<f64>() / (result.rows.len().max(1) as f64) * 20.0);
    let mut chart = frame(
        &root,
        &format!("{}: daily distribution over time", result.state.policy.name),
        x_max,
        y_max.max(1e-9),
        "tokens per day",
    )?;
    let palette = [BLUE, GREEN, RED, MAGENTA, CYAN, RGBColor(200, 120, 0), RGBColor(120, 60, 160), BLACK];
    for (index, pool) in result.pools.iter().enumerate().rev() {
        let color = palette[index % palette.len()];
        let points: Vec<(f64, f64)> = result
            .rows
            .iter()
            .map(|r| {
                (
                    years(r.epoch),
                    r.released_epoch().iter().take(index + 1).map(|v| *v as f64 / TOKEN).sum::<f64>().min(y_max * 1.05),
                )
            })
            .collect();
        chart
            .draw_series(AreaSeries::new(points, 0.0, color.mix(0.5)).border_style(color))
            .map_err(|e| e.to_string())?
            .label(pool.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.mix(0.5).filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn bars(path: &Path, title: &str, items: &[(String, f64)], y_label: &str) -> Result<(), String> {
    let root = BitMapBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let y_max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-9) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d((0..items.len()).into_segmented(), 0f64..y_max)
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .y_label_formatter(&|v| short(*v))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                BLUE.mix(0.6).filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn allocation(path: &Path, result: &SimResult) -> Result<(), String> {
    let state = &result.state;
    let mut items: Vec<(String, f64)> =
        state.pools.iter().filter(|p| p.balance > 0).map(|p| (p.name.to_string(), p.balance as f64 / TOKEN)).collect();
    let accounts: u128 = state.total_supply() - state.pools_total() - state.bridge.escrow;
    items.push(("accounts".into(), accounts as f64 / TOKEN));
    if state.bridge.escrow > 0 {
        items.push(("bridge escrow".into(), state.bridge.escrow as f64 / TOKEN));
    }
    items.push(("burned".into(), state.burned_total as f64 / TOKEN));
    bars(
        path,
        &format!("{}: token distribution after {} epochs", state.policy.name, result.rows.len()),
        &items,
        "tokens",
    )
}

fn rewards(path: &Path, result: &SimResult) -> Result<(), String> {
    let gini = result.machine_rewards_gini;
    let items: Vec<(String, f64)> = result
        .rewards_by_class
        .iter()
        .map(|(class, rewards)| {
            let mean = rewards.iter().map(|r| *r as f64).sum::<f64>() / rewards.len().max(1) as f64 / TOKEN;
            (format!("class {class} ({} machines)", rewards.len()), mean)
        })
        .collect();
    bars(path, &format!("mean reward per machine by GPU class — Gini {gini:.3}"), &items, "tokens per machine")
}
