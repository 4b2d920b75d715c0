//! `orrery bench migrate`: the live-migration acceptance run. A cluster in this process (in-process bus and
//! SQLite by default, or `--bus nats://… --store postgres://…`), N clients in one trade hub talking once a
//! second, and the hub moved between the two nodes M times during the run. Every client checks its own lines:
//! each must come back exactly once. Reported: disconnects, error answers, lines lost and doubled, the longest
//! gap between two deltas of the system as the clients saw them (in nominal ticks), and the moves' pauses.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use orrery_bots::Client;
use orrery_bots::orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use orrery_cluster::{Cluster, ClusterConfig, MoveReport};
use orrery_proxy::PasswordPolicy;

/// `orrery bench migrate`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Clients in the system being moved.
    #[arg(long, default_value_t = 500)]
    pub bots: usize,
    /// Moves between the two nodes during the run.
    #[arg(long, default_value_t = 20)]
    pub moves: usize,
    /// Seconds of talking (the moves are spread over them).
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Size of the generated universe.
    #[arg(long, default_value_t = 1000)]
    pub generate_systems: usize,
    /// The bus (`nats://HOST:PORT`); default in-process.
    #[arg(long)]
    pub bus: Option<String>,
    /// The store (`postgres://…` or `sqlite://…`); default a SQLite file in a temp dir.
    #[arg(long)]
    pub store: Option<String>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What one client saw.
#[derive(Default, Debug)]
struct Seen {
    sent: u64,
    /// Own lines by number: how often each came back.
    came_back: HashMap<u64, u32>,
    errors: u64,
    disconnected: bool,
    /// The longest wall-clock gap between two consecutive deltas of the system.
    longest_gap: Duration,
}

pub fn run(args: &MigrateArgs) -> Result<()> {
    crate::cmd::run::runtime()?.block_on(bench(args))
}

async fn bench(args: &MigrateArgs) -> Result<()> {
    let dir = tempfile::tempdir().context("a temp dir")?;
    let universe = orrery_universe::generate(&orrery_universe::GeneratorConfig {
        systems: args.generate_systems,
        ..orrery_universe::GeneratorConfig::default()
    });
    let hub_index = *orrery_universe::trade_hubs(&universe).first().context("the universe has no trade hub")?;
    let hub = universe.system(hub_index).id.0;
    let db = args.store.clone().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("orrery.db").display()));
    let mut config = ClusterConfig::new(universe, db);
    config.bus_url.clone_from(&args.bus);
    config.cluster_name = format!("migrate-bench-{}", std::process::id());
    config.nodes = 2;
    config.tcp_listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.ws_listen = None;
    config.password_policy = PasswordPolicy { memory_kib: 64, iterations: 1 };
    config.rate_limit_per_s = 100;
    let tick = Duration::from_millis(u64::from(config.tick_ms));
    let cluster = Arc::new(Cluster::start(config).await.context("starting the cluster")?);
    let addr = cluster.tcp_addr().to_string();
    eprintln!("cluster up; {} clients undocking in system {hub}", args.bots);

    let gate = Arc::new(tokio::sync::Semaphore::new(50));
    let undocked = Arc::new(tokio::sync::Barrier::new(args.bots + 1));
    let mut clients = Vec::with_capacity(args.bots);
    for index in 0..args.bots {
        let (addr, gate, undocked) = (addr.clone(), gate.clone(), undocked.clone());
        let talk_for = Duration::from_secs(args.duration);
        clients.push(tokio::spawn(async move { client(index, &addr, hub, &gate, &undocked, talk_for).await }));
    }
    undocked.wait().await;
    eprintln!("all undocked; moving system {hub} {} times in {} s", args.moves, args.duration);
    let mut reports: Vec<MoveReport> = Vec::with_capacity(args.moves);
    let spacing = Duration::from_secs(args.duration).div_f64(args.moves.max(1) as f64 + 1.0);
    let mut failed_moves = Vec::new();
    for _ in 0..args.moves {
        tokio::time::sleep(spacing).await;
        let to = 1 - cluster.node_of(hub).context("the hub is mapped")?;
        match cluster.coordinator().move_system(hub, to).await {
            Ok(report) => reports.push(report),
            Err(problem) => failed_moves.push(problem.to_string()),
        }
    }
    let mut seen = Vec::with_capacity(args.bots);
    for client in clients {
        seen.push(client.await.context("a client task")?);
    }
    let summary = summarise(&seen, &reports, &failed_moves, tick, args);
    if args.json {
        println!("{summary}");
    } else {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    match Arc::try_unwrap(cluster) {
        Ok(cluster) => cluster.shutdown().await,
        Err(_) => anyhow::bail!("the cluster is still shared"),
    }
    Ok(())
}

fn summarise(
    seen: &[Seen],
    moves: &[MoveReport],
    failed_moves: &[String],
    tick: Duration,
    args: &MigrateArgs,
) -> serde_json::Value {
    let sent: u64 = seen.iter().map(|s| s.sent).sum();
    let lost: u64 = seen.iter().map(|s| (1..=s.sent).filter(|n| !s.came_back.contains_key(n)).count() as u64).sum();
    let doubled: u64 = seen.iter().flat_map(|s| s.came_back.values()).map(|&n| u64::from(n.saturating_sub(1))).sum();
    let longest_gap = seen.iter().map(|s| s.longest_gap).max().unwrap_or_default();
    let mut pauses: Vec<f64> = moves.iter().map(|m| m.pause_ms).collect();
    pauses.sort_by(f64::total_cmp);
    let median = |v: &[f64]| if v.is_empty() { 0.0 } else { v[v.len() / 2] };
    let mut totals: Vec<f64> = moves.iter().map(|m| m.total_ms).collect();
    totals.sort_by(f64::total_cmp);
    serde_json::json!({
        "bots": args.bots,
        "duration_s": args.duration,
        "bus": args.bus.as_deref().unwrap_or("in-process"),
        "store": if args.store.is_some() { "given" } else { "sqlite" },
        "moves_done": moves.len(),
        "moves_failed": failed_moves,
        "disconnects": seen.iter().filter(|s| s.disconnected).count(),
        "errors": seen.iter().map(|s| s.errors).sum::<u64>(),
        "lines_sent": sent,
        "lines_lost": lost,
        "lines_doubled": doubled,
        "longest_delta_gap_ms": longest_gap.as_secs_f64() * 1000.0,
        "longest_delta_gap_ticks": longest_gap.as_secs_f64() / tick.as_secs_f64(),
        "pause_ms_median": median(&pauses),
        "pause_ms_max": pauses.last().copied().unwrap_or(0.0),
        "move_ms_median": median(&totals),
        "move_ms_max": totals.last().copied().unwrap_or(0.0),
    })
}

/// One client: log in, undock in `hub`, then say a numbered line about once a second for `talk_for`, and keep
/// reading for a few seconds after, noting which of its own lines came back and how often.
async fn client(
    index: usize,
    addr: &str,
    hub: u32,
    gate: &tokio::sync::Semaphore,
    undocked: &tokio::sync::Barrier,
    talk_for: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let connected = {
        let _turn = gate.acquire().await;
        setup(index, addr, hub).await
    };
    undocked.wait().await;
    let Ok((mut client, snapshot)) = connected else {
        seen.disconnected = true;
        return seen;
    };
    let mine = format!("m{index} ");
    let mut last_tick = snapshot.tick;
    let mut last_delta: Option<Instant> = None;
    let start = Instant::now();
    let first_line = start + Duration::from_millis((index as u64 * 997) % 1000);
    let mut next_line = first_line;
    let stop_reading = start + talk_for + Duration::from_secs(5);
    loop {
        let now = Instant::now();
        if now >= stop_reading {
            break;
        }
        if now >= next_line && now < start + talk_for {
            seen.sent += 1;
            let text = format!("{mine}{}", seen.sent);
            if client.send(Cmd::Chat(v1::Chat { text })).await.is_err() {
                seen.disconnected = true;
                break;
            }
            next_line += Duration::from_secs(1);
        }
        let until = tokio::time::Instant::from_std(next_line.min(stop_reading).max(Instant::now()));
        match client.next_event_until(until).await {
            Ok(Some(envelope)) => match envelope.body {
                Some(Msg::Delta(delta)) if delta.system_id == hub && delta.tick > last_tick => {
                    last_tick = delta.tick;
                    let at = Instant::now();
                    if let Some(previous) = last_delta {
                        seen.longest_gap = seen.longest_gap.max(at - previous);
                    }
                    last_delta = Some(at);
                    for line in delta.chat.iter().filter_map(|line| line.text.strip_prefix(&mine)) {
                        if let Ok(number) = line.parse::<u64>() {
                            *seen.came_back.entry(number).or_default() += 1;
                        }
                    }
                }
                Some(Msg::Error(_)) => seen.errors += 1,
                _ => {}
            },
            Ok(None) => {}
            Err(_) => {
                seen.disconnected = true;
                break;
            }
        }
    }
    let _ = client.logout().await;
    seen
}

async fn setup(index: usize, addr: &str, hub: u32) -> Result<(Client, v1::SystemSnapshot)> {
    let mut client = Client::connect(addr).await?;
    client.register_or_login(&format!("mover{index}"), "correct horse battery").await?;
    let character = client
        .create_character_in(&format!("Mover {index}"), Some(v1::create_character::StartSystem::StartSystemId(hub)))
        .await?;
    let snapshot = client.undock(character.character_id).await?;
    anyhow::ensure!(snapshot.system_id == hub, "undocked in {} instead of {hub}", snapshot.system_id);
    Ok((client, snapshot))
}
