//! `gridmint simulate`: validate every input first (bad input → exit 2, nothing written), then
//! run the jobs (runs × sweep grid) on every core, then write each run's files and the comparison.

use clap::Parser;
use gridmint_core::Policy;
use gridmint_sim::{Scenario, SimConfig, SimResult, charts, output, report};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Forecast a network's economy, day by day, with the exact core the ledger runs.
#[derive(Parser, Debug)]
#[command(after_help = "Examples:\n  \
gridmint simulate --policy netmind --years 10 --out out/netmind\n  \
gridmint simulate --policy osmi --epochs 3650 --machines 10000 --set claims.tax_ppb=50000000 --out out/osmi\n  \
gridmint simulate --policy netmind --scenario scenarios/peers-netmind.toml --machines 100000 --years 10 --out out/peers\n  \
gridmint simulate --policy netmind --years 5 --runs 8 --seed 1 --out out/mc\n  \
gridmint simulate --policy netmind --years 5 --sweep jobs.sync_provider_ppb=300000000,500000000 --out out/sweep\n\n\
Output (amounts in base units, 1 token = 10^18):\n  \
epochs.csv         one row per epoch: supply, minted, burned, circulating, released_<pool> (cumulative),\n                     \
paid_<program> and burned (that epoch)\n  \
summary.json       final totals, pools, escrow, counts, parameters, seed, state root\n  \
balances.csv       each account's whole holding at the end\n  \
supply.png, daily_distribution.png, allocation.png, rewards.png\n  \
report.html        the same in one self-contained page (opens offline): interactive charts\n                     \
(hover for exact values, drag to zoom), summary tables, parameters and seed; with --runs\n                     \
or --sweep also the bands and the comparison of the runs (written with --no-charts too)\n\
With --runs or --sweep each run gets a subfolder, plus comparison.csv (a column per swept\n\
parameter) and, with --runs, charts with p5–p95 bands (runs_<quantity>.png: each band as\n\
its spread around the median); with --sweep, sweep_total_supply.png,\n\
sweep_circulating.png and sweep_burned.png overlay the runs.\n\
Exit codes: 0 done, 2 bad input (nothing written), 1 an I/O failure.")]
pub struct Args {
    /// Policy: a preset (netmind, netmind-2024, osmi, omnitensor) or a policy TOML file.
    #[arg(long, value_name = "NAME|FILE")]
    policy: String,
    /// Scenario TOML (agents); default: the preset's own scenario (scenarios/<preset>.toml).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Epochs (days) to simulate [default: the scenario's, else 3650].
    #[arg(long, value_name = "N", conflicts_with = "years")]
    epochs: Option<u64>,
    /// Years to simulate (365 epochs each).
    #[arg(long, value_name = "N")]
    years: Option<u64>,
    /// Machines at launch (overrides the scenario's count).
    #[arg(long, value_name = "N")]
    machines: Option<u64>,
    /// Random seed of the agents; the same seed gives byte-identical output.
    #[arg(long, value_name = "S", default_value_t = 42)]
    seed: u64,
    /// Monte Carlo: N runs over seeds S..S+N-1, with p5/p50/p95 bands.
    #[arg(long, value_name = "N", default_value_t = 1)]
    runs: u64,
    /// Override a policy parameter, e.g. --set claims.tax_ppb=25000000 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Sweep a parameter over values, e.g. --sweep claims.tax_ppb=0,25000000 (repeatable: full grid).
    #[arg(long = "sweep", value_name = "KEY=V1,V2,...")]
    sweep: Vec<String>,
    /// Output folder (created; files in it are overwritten).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Skip the PNG charts.
    #[arg(long)]
    no_charts: bool,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

struct Job {
    label: String,
    config: SimConfig,
    overrides: Vec<(String, String)>,
    /// This job's value of each swept parameter (`--sweep`), in the order of the flags.
    swept: Vec<(String, String)>,
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn split_key_value(text: &str, flag: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
            Ok((key.trim().into(), value.trim().into()))
        }
        _ => Err(format!("{flag} `{text}`: expected KEY=VALUE")),
    }
}

fn prepare(args: &Args) -> Result<(Vec<Job>, Scenario), String> {
    let base = gridmint_sim::load_policy(&args.policy)?;
    let scenario = match &args.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("scenario {}: {e}", path.display()))?;
            Scenario::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Scenario::default_for(&base.name),
    };
    let sets: Vec<(String, String)> = args.set.iter().map(|s| split_key_value(s, "--set")).collect::<Result<_, _>>()?;
    let mut sweeps: Vec<(String, Vec<String>)> = Vec::new();
    for sweep in &args.sweep {
        let (key, values) = split_key_value(sweep, "--sweep")?;
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err(format!("--sweep `{sweep}`: no values"));
        }
        sweeps.push((key, values));
    }
    let epochs = match (args.epochs, args.years) {
        (Some(0), _) => return Err("--epochs must be at least 1".into()),
        (_, Some(0)) => return Err("--years must be at least 1".into()),
        (Some(e), _) => e,
        (None, Some(y)) => y.checked_mul(365).ok_or("--years is too large")?,
        (None, None) => scenario.epochs.unwrap_or(3_650),
    };
    if epochs > 365 * 1_000 {
        return Err(format!("{epochs} epochs is more than 1,000 years"));
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    if args.machines.is_some() && scenario.machines.is_none() {
        return Err("--machines: the scenario has no [machines] section".into());
    }
    // the full grid of sweep values
    let mut grid: Vec<Vec<(String, String)>> = vec![vec![]];
    for (key, values) in &sweeps {
        grid = grid
            .iter()
            .flat_map(|prefix| values.iter().map(move |v| [prefix.clone(), vec![(key.clone(), v.clone())]].concat()))
            .collect();
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let mut jobs = Vec::new();
    for point in &grid {
        let overrides: Vec<(String, String)> = sets.iter().cloned().chain(point.iter().cloned()).collect();
        let policy: Policy = scenario.apply_overrides(base.clone(), &overrides).map_err(|e| e.to_string())?;
        for run in 0..args.runs {
            let seed = args.seed.checked_add(run).ok_or("--seed + --runs overflows")?;
            let mut label = point.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            if args.runs > 1 {
                label = if label.is_empty() { format!("seed-{seed}") } else { format!("{label},seed-{seed}") };
            }
            jobs.push(Job {
                label,
                config: SimConfig {
                    policy: policy.clone(),
                    scenario: scenario.clone(),
                    epochs,
                    machines: args.machines,
                    seed,
                    threads: 1,
                },
                overrides: overrides.clone(),
                swept: point.clone(),
            });
        }
    }
    // one job uses every core for uptime draws; many jobs run side by side instead
    if jobs.len() == 1
        && let Some(job) = jobs.first_mut()
    {
        job.config.threads = threads;
    }
    Ok((jobs, scenario))
}

fn parameters(args: &Args, job: &Job) -> serde_json::Value {
    json!({
        "policy": args.policy,
        "scenario": args.scenario.as_ref().map_or("default".to_string(), |p| p.display().to_string()),
        "epochs": job.config.epochs,
        "machines": job.config.machines,
        "seed": job.config.seed,
        "overrides": job.overrides,
        "label": job.label,
    })
}

/// Runs `gridmint simulate`.
pub fn main(args: Args) -> ExitCode {
    let (jobs, _scenario) = match prepare(&args) {
        Ok(prepared) => prepared,
        Err(message) => return bad_input(message),
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let total_epochs: u64 = jobs.iter().map(|j| j.config.epochs).sum();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total_epochs);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} epochs (eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    // one run spreads each epoch over a pool of `threads` and runs on one of its workers, which
    // takes part in every parallel step (a thread outside the pool would hand each step over and
    // sleep until it is done: two thread wake-ups per step, thousands of steps); many runs go
    // side by side instead
    let pool = if jobs.len() == 1 { rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok() } else { None };
    #[allow(clippy::disallowed_methods)] // wall time is reported to the user, never used by the core
    let started = std::time::Instant::now();
    let done = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SimResult>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    // progress in steps of 16 epochs (the bar is shared by all workers)
                    let progress = |epoch: u64| {
                        let step = if epoch.is_multiple_of(16) {
                            16
                        } else if epoch == job.config.epochs {
                            epoch % 16
                        } else {
                            0
                        };
                        if step > 0 {
                            bar.set_position(done.fetch_add(step, Ordering::Relaxed) + step);
                        }
                    };
                    let outcome = match &pool {
                        Some(pool) => pool.install(|| gridmint_sim::run(&job.config, &progress)),
                        None => gridmint_sim::run(&job.config, &progress),
                    };
                    match outcome {
                        Ok(result) => {
                            if let Ok(mut slots) = results.lock() {
                                slots[index] = Some(result);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                *f = Some(e.to_string());
                            }
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(message) = failure.into_inner().ok().flatten() {
        return bad_input(message);
    }
    let results: Vec<SimResult> = results.into_inner().unwrap_or_default().into_iter().flatten().collect();
    #[allow(clippy::disallowed_methods)]
    let elapsed = started.elapsed();
    let written = match &pool {
        Some(pool) => pool.install(|| write_outputs(&args, &jobs, &results)),
        None => write_outputs(&args, &jobs, &results),
    };
    match written {
        Ok(()) => {
            if let [only] = results.as_slice() {
                print!("{}", output::table(only, &only.state.policy.token.symbol));
            }
            println!(
                "{} run(s), {} epochs in {:.2} s ({:.0} epochs/s); output in {}",
                results.len(),
                total_epochs,
                elapsed.as_secs_f64(),
                total_epochs as f64 / elapsed.as_secs_f64().max(1e-9),
                args.out.display()
            );
            // the process ends here: its memory goes back to the system at once, without
            // dropping hundreds of thousands of accounts, index nodes and machine lists first
            std::mem::forget(results);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing {}: {e}", args.out.display());
            ExitCode::from(1)
        }
    }
}

fn write_outputs(args: &Args, jobs: &[Job], results: &[SimResult]) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(&args.out).map_err(io)?;
    if let ([job], [result]) = (jobs, results) {
        let summary = output::write_run(&args.out, result, parameters(args, job)).map_err(io)?;
        write_report(&args.out, args, job, result, summary, None)?;
        if !args.no_charts {
            charts::draw_all(&args.out, result, None, &caption(args, job, None))?;
        }
        return Ok(());
    }
    // the csv crate quotes what needs quoting: a label such as `a=1,b=2` stays one field
    let mut comparison = csv::Writer::from_path(args.out.join("comparison.csv")).map_err(|e| e.to_string())?;
    let swept_keys: Vec<&str> =
        jobs.first().map(|j| j.swept.iter().map(|(k, _)| k.as_str()).collect()).unwrap_or_default();
    let header = ["run", "seed"].into_iter().chain(swept_keys.iter().copied()).chain([
        "total_supply",
        "minted_total",
        "burned_total",
        "circulating",
        "state_root",
    ]);
    comparison.write_record(header).map_err(|e| e.to_string())?;
    let swept_values: Vec<Vec<String>> =
        jobs.iter().map(|j| j.swept.iter().map(|(_, v)| v.clone()).collect()).collect();
    let mut table = format!("{:<48} {:>24} {:>24} {:>24}\n", "run", "total supply", "burned", "circulating");
    for (job, result) in jobs.iter().zip(results) {
        let dir = args.out.join(sanitize(&job.label));
        let summary = output::write_run(&dir, result, parameters(args, job)).map_err(io)?;
        write_report(&dir, args, job, result, summary, None)?;
        if !args.no_charts {
            charts::draw_all(&dir, result, None, &caption(args, job, None))?;
        }
        let s = &result.state;
        let record: Vec<String> = [job.label.clone(), result.seed.to_string()]
            .into_iter()
            .chain(job.swept.iter().map(|(_, v)| v.clone()))
            .chain([
                s.total_supply().to_string(),
                s.minted_total.to_string(),
                s.burned_total.to_string(),
                s.circulating().to_string(),
                gridmint_core::Address(result.state_root).to_string(),
            ])
            .collect();
        comparison.write_record(&record).map_err(|e| e.to_string())?;
        table.push_str(&format!(
            "{:<48} {:>24} {:>24} {:>24}\n",
            job.label,
            output::human(s.total_supply()),
            output::human(s.burned_total),
            output::human(s.circulating())
        ));
    }
    comparison.flush().map_err(io)?;
    // the forecast's own report: the first run's charts and tables, the bands and the comparison
    if let (Some(job), Some(result)) = (jobs.first(), results.first()) {
        let multi = report::Multi {
            runs: jobs
                .iter()
                .zip(results)
                .zip(&swept_values)
                .map(|((job, result), swept)| report::RunRef { label: &job.label, swept, result })
                .collect(),
            swept_keys: swept_keys.iter().map(|k| k.to_string()).collect(),
            // bands over seeds of one parameter set: across swept values they would mix them
            bands: args.runs > 1 && args.sweep.is_empty(),
        };
        let summary = output::summary_json(result, parameters(args, job));
        write_report(&args.out, args, job, result, summary, Some(multi))?;
    }
    if !args.sweep.is_empty() && !args.no_charts {
        sweep_charts(args, jobs, results)?;
    }
    if args.runs > 1 && !args.no_charts {
        let bands = percentile_bands(results);
        if let (Some(first), Some(job)) = (results.first(), jobs.first()) {
            let note = format!("bars: one seed ({}) of {} runs, not a median", first.seed, results.len());
            let caption = caption(args, job, Some(note));
            charts::draw_all(&args.out, first, Some(&bands), &caption)?;
            // each banded quantity on its own scale: on the supply chart a spread across seeds
            // of a fraction of a percent is thinner than a line
            let context = format!(
                "{} runs (seeds {}–{}) · {}",
                results.len(),
                args.seed,
                args.seed + args.runs - 1,
                caption.context
            );
            for (name, band) in &bands {
                let file = format!("runs_{}.png", name.replace(' ', "_"));
                let title = format!("{}: {name}, spread of the runs around the median", first.state.policy.name);
                charts::band_chart(&args.out.join(file), &title, &context, band)?;
            }
        }
    }
    print!("{table}");
    Ok(())
}

/// Writes `report.html` into `dir` and says where it is.
fn write_report(
    dir: &std::path::Path,
    args: &Args,
    job: &Job,
    result: &SimResult,
    summary: serde_json::Value,
    multi: Option<report::Multi>,
) -> Result<(), String> {
    let mut context = caption(args, job, None).context;
    if let Some(multi) = &multi {
        context = format!("{} runs · first shown: {context}", multi.runs.len());
    }
    let input = report::ReportInput {
        result,
        context,
        parameters: parameters(args, job),
        summary,
        initial_cap: job.config.policy.token.cap.0,
        multi,
    };
    let path = report::write_report(dir, &input).map_err(|e| format!("{}: {e}", dir.display()))?;
    if dir == args.out.as_path() {
        println!("report: {}", path.display());
    }
    Ok(())
}

/// `--sweep`: total supply, circulating and burned of every run on one chart each
/// (`sweep_<quantity>.png`), a line per grid point (and seed, with --runs).
fn sweep_charts(args: &Args, jobs: &[Job], results: &[SimResult]) -> Result<(), String> {
    type Read = fn(&gridmint_sim::EpochRow) -> u128;
    let quantities: [(&str, &str, Read); 3] = [
        ("total_supply", "total supply", |r| r.total_supply),
        ("circulating", "circulating", |r| r.circulating),
        ("burned", "burned (cumulative)", |r| r.burned_total),
    ];
    let network = results.first().map_or_else(String::new, |r| r.state.policy.name.clone());
    let sets = if args.set.is_empty() { "no other overrides".to_string() } else { args.set.join(", ") };
    let scenario = args.scenario.as_ref().and_then(|p| p.file_name()).map_or("default".into(), |n| n.to_string_lossy());
    let subtitle = format!("policy {} · seed {} · scenario {scenario} · {sets}", args.policy, args.seed);
    for (file, name, read) in quantities {
        let series: Vec<(String, Vec<f64>)> = jobs
            .iter()
            .zip(results)
            .map(|(job, result)| (job.label.clone(), result.rows.iter().map(|r| read(r) as f64 / 1e18).collect()))
            .collect();
        let title = format!("{network}: {name}, one line per swept value");
        charts::overlay(&args.out.join(format!("sweep_{file}.png")), &title, &subtitle, &series)?;
    }
    Ok(())
}

/// Where a run's charts come from, for their titles: seed, scenario, overrides.
fn caption(args: &Args, job: &Job, bars_note: Option<String>) -> charts::Caption {
    let scenario = match &args.scenario {
        Some(path) => path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
        None => "default".into(),
    };
    let overrides = if job.overrides.is_empty() {
        "no overrides".to_string()
    } else {
        job.overrides.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    };
    charts::Caption {
        context: format!(
            "policy {} · seed {} · scenario {scenario} · {} epochs · {overrides}",
            args.policy, job.config.seed, job.config.epochs
        ),
        bars_note,
        initial_cap: Some(job.config.policy.token.cap.0),
    }
}

fn sanitize(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '=' { c } else { '_' })
        .collect();
    if clean.is_empty() { "run".into() } else { clean }
}

/// p5/p50/p95 per epoch of total supply and circulating, over the runs.
fn percentile_bands(results: &[SimResult]) -> Vec<(String, charts::Bands)> {
    let epochs = results.iter().map(|r| r.rows.len()).min().unwrap_or(0);
    type Read = fn(&gridmint_sim::EpochRow) -> u128;
    let series: [(&str, Read); 3] =
        [("total supply", |r| r.total_supply), ("circulating", |r| r.circulating), ("burned", |r| r.burned_total)];
    series
        .iter()
        .map(|(name, get)| {
            let band = (0..epochs)
                .map(|e| {
                    let mut values: Vec<u128> = results.iter().map(|r| get(&r.rows[e])).collect();
                    values.sort_unstable();
                    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize] as f64 / 1e18;
                    (at(0.05), at(0.5), at(0.95))
                })
                .collect();
            (name.to_string(), band)
        })
        .collect()
}
