//! The chat race: one load generator that drives orrery's local chat and real IRC servers (ngIRCd, InspIRCd)
//! the same way, so that their fan-out can be compared side by side.
//!
//! - **Fan-out mode** (default, or `--sweep`): N clients join one channel (IRC) or undock into one system
//!   (orrery; the names are chosen so that every new character starts in the same system). S of them send
//!   B-byte messages at R messages/s each for D seconds. Every message carries, inside its text, the step
//!   number, the sender's index, a per-sender sequence number and the send time; every client receives every
//!   message of the others (orrery also echoes a line to its sender; those echoes are not counted). A step
//!   reports delivered messages/s and payload MB/s, end-to-end latency p50/p99/p99.9 (HdrHistogram, µs),
//!   lost messages (expected deliveries minus received), the server's CPU (from `/proc/<pid>/stat` over the
//!   step) and RSS. `--sweep` raises the offered delivery rate step by step (then bisects once it fails) and
//!   reports the highest rate with p99 under `--p99-ms` and nothing lost.
//! - **Idle-scale mode** (`--idle K[,K…|max]`): K clients log in (IRC: registered; orrery: `Register` answered
//!   by `LoggedIn`) and stay idle; reports the accept rate (logged-in clients per second) and server RSS per
//!   client. The soft fd limit is raised to the hard one and counts that cannot fit are refused up front.
//! - **Blaster** (`--target blast-orrery|blast-irc`): the same generator against a fake server of its own
//!   ([`fake`]) that relays chat with almost no work, to measure the generator's own ceiling.
//!
//! The generator is one tokio current-thread runtime (one core; `scripts/chat-race.sh` pins it with `taskset`),
//! so its own CPU is reported too: a generator near 100% of its core means the figure is the generator's limit.
//! Every loop is bounded in count and time, and all traffic goes to 127.0.0.x.

mod conn;
pub mod fake;
mod server;
mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use server::{cpu_ticks, rss_kib};

/// Which kind of server the generator talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// orrery's game protocol (TCP, length-prefixed protobuf envelopes): local chat of one system.
    Orrery,
    /// IRC (RFC 1459 subset: NICK, USER, JOIN, PRIVMSG, PING/PONG): one channel.
    Irc,
    /// The generator's own ceiling: a fake orrery (this same binary in a child process, pinned to
    /// `--server-cpu`) that relays chat in one `SystemDelta` per tick and does little else.
    BlastOrrery,
    /// The generator's own ceiling over IRC: a fake IRC relay that writes each tick's `PRIVMSG` lines at once.
    BlastIrc,
}

impl Target {
    /// Whether the generator speaks orrery's protocol (else IRC).
    pub(crate) fn is_orrery(self) -> bool {
        matches!(self, Target::Orrery | Target::BlastOrrery)
    }
}

/// One `--idle` count: a number of clients, or as many as the file-descriptor limit allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleCount {
    /// Exactly this many clients (refused up front if the descriptor limit cannot hold them).
    Clients(usize),
    /// The largest count that fits in `RLIMIT_NOFILE` (hard limit minus [`FD_RESERVE`]).
    Max,
}

fn parse_idle(value: &str) -> Result<IdleCount, String> {
    if value == "max" {
        return Ok(IdleCount::Max);
    }
    value.parse().map(IdleCount::Clients).map_err(|_| format!("{value:?} is neither a client count nor \"max\""))
}

/// File descriptors kept for everything but the idle clients' sockets (runtime, stdio, the server's pipes).
pub const FD_RESERVE: u64 = 256;

/// `orrery bench chat`: the chat fan-out race. Flatten into a clap subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct ChatArgs {
    /// Server protocol.
    #[arg(long, value_enum, default_value = "orrery")]
    pub target: Target,
    /// Server address (127.0.0.x only). Required for IRC; for orrery, absent = start `--orrery-bin run` here.
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<SocketAddr>,
    /// Pid of an externally started server, for its CPU and RSS (`/proc/<pid>`).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// The orrery binary to start when `--connect` is absent. Default: this binary under `orrery bench chat`,
    /// `target/release/orrery` under `orrery-chatbench`.
    #[arg(long, value_name = "PATH")]
    pub orrery_bin: Option<PathBuf>,
    /// Pin the server this bench starts (orrery, or the fake server of `blast-*`) to this CPU (`taskset -c`).
    #[arg(long, value_name = "CPU")]
    pub server_cpu: Option<u32>,
    /// Tick length of the chat system for the orrery this bench starts (`--system-tick ID=MS`): local chat is
    /// delivered in each tick's delta, so the tick bounds latency from below (0–1 tick of waiting). Also the
    /// fake server's tick for `--target blast-orrery` / `blast-irc`.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub tick_ms: u32,
    /// Size of the generated universe (orrery `--generate-systems`); must match the server's.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub generate_systems: usize,
    /// Universe seed (orrery `--seed`); must match the server's.
    #[arg(long, value_name = "SEED", default_value_t = orrery_universe::GeneratorConfig::default().seed)]
    pub seed: u64,
    /// Clients in the channel / system (N).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub clients: usize,
    /// How many of them talk (S). Default: all.
    #[arg(long, value_name = "S")]
    pub senders: Option<usize>,
    /// Message size in bytes (B; the text, timestamp and sequence number included).
    #[arg(long, value_name = "B", default_value_t = 100, value_parser = clap::value_parser!(u64).range(32..=400))]
    pub bytes: u64,
    /// Messages per second per sender (R), without `--sweep`.
    #[arg(long, value_name = "R", default_value_t = 1.0)]
    pub rate: f64,
    /// Seconds of sending per step (D).
    #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub duration: u64,
    /// Find the highest delivery rate with p99 < --p99-ms and nothing lost.
    #[arg(long)]
    pub sweep: bool,
    /// First offered delivery rate of the sweep, deliveries/s.
    #[arg(long, value_name = "N", default_value_t = 50_000.0)]
    pub sweep_start: f64,
    /// Factor between sweep steps until the first failure (then bisection).
    #[arg(long, value_name = "F", default_value_t = 1.5)]
    pub sweep_factor: f64,
    /// Upper bound on sweep steps.
    #[arg(long, value_name = "N", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub max_steps: u32,
    /// Latency bound of a passing sweep step (p99, ms).
    #[arg(long, value_name = "MS", default_value_t = 200.0)]
    pub p99_ms: f64,
    /// Seconds to wait for late deliveries after a step's last send.
    #[arg(long, value_name = "S", default_value_t = 3)]
    pub drain_s: u64,
    /// Idle-scale mode: log in K idle clients and report accept rate and RSS per client. A comma-separated list
    /// runs each count in turn (a fresh orrery per count when this bench starts it); `max` is the largest count
    /// the file-descriptor limit allows. The soft `RLIMIT_NOFILE` is raised to the hard limit first.
    #[arg(long, value_name = "K[,K…|max]", value_delimiter = ',', value_parser = parse_idle)]
    pub idle: Vec<IdleCount>,
    /// Logins in flight at once. Default: 8 for IRC (ngIRCd's listen backlog is 10), 32 for orrery, 256 for
    /// the fake servers.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Spread connections over source addresses 127.0.0.1 … 127.0.0.N (each has ~28k ephemeral ports).
    /// Default: 4, or 32 in idle mode.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=250))]
    pub source_addrs: Option<u8>,
    /// IRC channel to use.
    #[arg(long, value_name = "NAME", default_value = "#race")]
    pub channel: String,
    /// Name of the server in the output (e.g. ngircd, inspircd).
    #[arg(long, value_name = "NAME")]
    pub label: Option<String>,
    /// Internal: be the fake server of `--target blast-*` (started by the bench itself).
    #[arg(long, value_enum, value_name = "KIND", hide = true)]
    pub fake_server: Option<fake::FakeKind>,
}

/// Runs the bench described by `args` on a fresh single-threaded runtime and prints its report
/// (`orrery-chatbench`).
pub fn run_cli(args: ChatArgs) -> anyhow::Result<()> {
    run_cli_as(args, &[])
}

/// [`run_cli`] from a binary where the bench is a subcommand: `invocation` is the path to it (`["bench",
/// "chat"]` in `orrery`), used to start this same binary as the fake server of `--target blast-*`.
pub fn run_cli_as(args: ChatArgs, invocation: &[&str]) -> anyhow::Result<()> {
    if let Some(kind) = args.fake_server {
        return fake::serve(kind, args.tick_ms);
    }
    let mut args = args;
    if args.orrery_bin.is_none() {
        args.orrery_bin = Some(if invocation.is_empty() {
            PathBuf::from("target/release/orrery")
        } else {
            std::env::current_exe().context("locating this binary (the orrery to start)")?
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(args, invocation))
}

/// One fan-out step's figures.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The step's number (from 1); carried in every message so a straggler from an earlier step is not counted.
    pub step: u32,
    /// The delivery rate the step aimed at: messages/s summed over all receivers.
    pub offered_per_s: f64,
    /// The send rate of each sender that produces `offered_per_s` (offered ÷ senders ÷ other clients).
    pub rate_per_sender: f64,
    /// Messages the senders actually sent during the step.
    pub sent: u64,
    /// Deliveries owed: every sent message to every client but its sender.
    pub expected: u64,
    /// Deliveries counted: this step's messages, in sequence, to clients other than the sender.
    pub received: u64,
    /// `expected - received`: deliveries missing after the drain (negative would mean extra deliveries).
    pub lost: i64,
    /// Messages of an earlier step that arrived during this one (a server still catching up).
    pub late: u64,
    /// Deliveries per second over the step, from its first send to its last delivery.
    pub delivered_per_s: f64,
    /// Message text delivered per second, in MB (10^6 bytes), over the same span.
    pub payload_mb_s: f64,
    /// Median end-to-end latency (send to receipt), in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency: what `--p99-ms` judges a step by.
    pub p99_ms: f64,
    /// 99.9th-percentile latency, in milliseconds.
    pub p999_ms: f64,
    /// Worst latency seen, in milliseconds.
    pub max_ms: f64,
    /// The server's CPU over the step, in cores (from `/proc/<pid>/stat`); `None` when its pid is unknown.
    pub server_cpu_cores: Option<f64>,
    /// The server's resident memory at the step's end, in MiB; `None` when its pid is unknown.
    pub server_rss_mb: Option<f64>,
    /// The generator's own CPU, in cores: near 1.0 means the figures are the generator's limit, not the
    /// server's.
    pub generator_cpu_cores: Option<f64>,
    /// Clients still connected at the step's end; fewer than started fails the step.
    pub alive: usize,
    /// Error envelopes the server sent during the step (orrery only).
    pub server_errors: u64,
    /// Received texts that were not the race's: not ours, or corrupted on the way.
    pub unparsed: u64,
    /// orrery frames that were not well-formed protobuf (counted apart from `unparsed` texts).
    pub malformed: u64,
    /// Messages a receiver never saw between two it did (a sequence gap): a loss inside the step.
    pub gaps: u64,
    /// Messages a receiver had already seen (same sender, sequence not newer): a server repeating itself.
    pub dups: u64,
}

impl StepReport {
    fn passes(&self, p99_ms: f64, clients: usize) -> bool {
        self.p99_ms < p99_ms && self.lost <= 0 && self.alive == clients && self.received > 0
    }
}

/// State shared by the controller and every connection task.
pub(crate) struct Shared {
    pub epoch: Instant,
    pub alive: AtomicUsize,
    /// Receivers that finished logging in so far: the next one's [`Receiver::column`].
    pub joined: AtomicUsize,
    pub sent: AtomicU64,
    pub server_errors: AtomicU64,
    pub stats: Mutex<StepStats>,
}

pub(crate) struct StepStats {
    pub step: u32,
    pub received: u64,
    pub payload: u64,
    pub late: u64,
    pub gaps: u64,
    pub dups: u64,
    /// Chat texts that do not start with the race's four numbers (not ours, or corrupted).
    pub unparsed: u64,
    /// orrery frames that are not well-formed protobuf.
    pub malformed: u64,
    pub last_us: u64,
    pub hist: Histogram<u64>,
    /// The last sequence number each receiver saw from each sender, at `sender * clients + column` (the
    /// receiver's [`Receiver::column`]). Kept across steps (sequence numbers continue). Sender-major on purpose:
    /// every receiver gets the same lines in the same order (one shared delta per tick in orrery, one channel
    /// in IRC), and a server tends to serve its members in join order (IRC servers, the fake servers, orrery's
    /// proxy rooms), so the receivers' tasks run in roughly column order and neighbouring receivers update
    /// neighbouring entries of the same sender's row, mostly in cache. Receiver-major, each line was a cache miss into a 16 MB table at N = 2,000 (profiled: 80% of
    /// `record`, 15% of the generator).
    pub last_seq: Vec<u32>,
    /// Row length of `last_seq`.
    pub clients: usize,
}

impl StepStats {
    pub(crate) fn new(step: u32) -> StepStats {
        StepStats {
            last_seq: Vec::new(),
            clients: 0,
            step,
            received: 0,
            payload: 0,
            late: 0,
            gaps: 0,
            dups: 0,
            unparsed: 0,
            malformed: 0,
            last_us: 0,
            hist: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds"),
        }
    }

    /// A new step's figures, keeping the sequence table (allocated for `senders` × `clients` on first use).
    fn next_step(&mut self, step: u32, senders: usize, clients: usize) {
        let mut last_seq = std::mem::take(&mut self.last_seq);
        if last_seq.len() != senders * clients {
            last_seq = vec![0; senders * clients];
        }
        *self = StepStats { last_seq, clients, ..StepStats::new(step) };
    }
}

/// A receiving connection.
pub(crate) struct Receiver {
    /// Its client index (its own lines, echoed by orrery, carry it as the sender).
    pub me: usize,
    /// Its column in [`StepStats::last_seq`]: the order in which it finished logging in (and joined).
    pub column: usize,
}

impl Shared {
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

impl Receiver {
    /// Accounts one received message text (`STEP SENDER SEQ SENT_US pad…`). Every delivery is accounted
    /// (sequence check and a latency sample in the histogram), none is sampled: this runs millions of times per
    /// second, so the four numbers are parsed in one pass without splitting.
    #[inline]
    pub fn record(&mut self, text: &[u8], now_us: u64, stats: &mut StepStats) {
        let Some([step, sender, seq, sent_us]) = leading_numbers(text) else {
            stats.unparsed += 1;
            return;
        };
        let sender = sender as usize;
        if sender == self.me {
            return; // orrery's echo of our own line
        }
        let slot = sender * stats.clients + self.column;
        let Some(last) = stats.last_seq.get(slot).copied() else {
            return; // not a sender of this run
        };
        if step != u64::from(stats.step) {
            stats.late += 1;
            return;
        }
        let seq = seq as u32;
        if seq <= last {
            stats.dups += 1;
            return;
        }
        if last != 0 && seq > last + 1 {
            stats.gaps += u64::from(seq - last - 1);
        }
        stats.last_seq[slot] = seq;
        stats.received += 1;
        stats.payload += text.len() as u64;
        stats.last_us = stats.last_us.max(now_us);
        let _ = stats.hist.record(now_us.saturating_sub(sent_us).max(1));
    }
}

/// The first four space-terminated decimal numbers of a message text, or `None` if it does not start so.
#[inline]
fn leading_numbers(text: &[u8]) -> Option<[u64; 4]> {
    let mut out = [0u64; 4];
    let mut at = 0;
    for slot in &mut out {
        let mut value = 0u64;
        let mut digits = 0;
        loop {
            let byte = *text.get(at)?;
            at += 1;
            if byte == b' ' {
                break;
            }
            if !byte.is_ascii_digit() || digits == 19 {
                return None;
            }
            value = value * 10 + u64::from(byte - b'0');
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        *slot = value;
    }
    Some(out)
}

/// The message text: `STEP SENDER SEQ SENT_US ` padded with `x` to `bytes`.
pub(crate) fn message_text(step: u32, sender: usize, seq: u32, sent_us: u64, bytes: usize) -> String {
    let mut text = format!("{step} {sender} {seq} {sent_us} ");
    while text.len() < bytes {
        text.push('x');
    }
    text
}

/// A connection's outbound channel (its writer task batches whatever is queued into one write).
pub(crate) type Tx = mpsc::UnboundedSender<Bytes>;

fn label(args: &ChatArgs) -> String {
    args.label.clone().unwrap_or_else(|| match args.target {
        Target::Orrery => "orrery".into(),
        Target::Irc => "irc".into(),
        Target::BlastOrrery => "blast-orrery".into(),
        Target::BlastIrc => "blast-irc".into(),
    })
}

fn source_addr(args: &ChatArgs, index: usize) -> IpAddr {
    let spread = args.source_addrs.unwrap_or(if args.idle.is_empty() { 4 } else { 32 });
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (index % usize::from(spread)) as u8))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (an unprivileged process may; raising the hard limit
/// needs `CAP_SYS_RESOURCE`). Returns the hard limit.
// The workspace denies `unsafe_code`; this is one of its two exceptions (the other reads a thread's CPU clock in the
// market benchmark): the standard library has no safe way to read or raise a resource limit, and the two calls
// below are the whole of it.
#[allow(unsafe_code)]
fn raise_nofile_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer it is given and keeps no reference to it;
    // `limit` is a live, properly aligned, exclusively borrowed local of exactly that type, and
    // `RLIMIT_NOFILE` is a valid resource, so the call cannot write out of bounds. Failure is reported through
    // the return value (checked below), never by leaving memory undefined: `limit` was fully initialised.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        bail!("getrlimit(RLIMIT_NOFILE): {}", std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: `setrlimit` only reads the one fully initialised `rlimit` behind the shared reference, for
        // the duration of the call. It changes process state (the soft limit) but no memory Rust owns; a
        // refusal (EPERM, EINVAL) comes back as a non-zero return, checked here.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            bail!("setrlimit(RLIMIT_NOFILE, {}): {}", limit.rlim_max, std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_max)
}

/// The idle counts to run, `max` resolved, each checked against the file-descriptor limit before anything
/// connects (a run that would die of EMFILE at client 19,9xx wastes minutes and says little).
fn idle_counts(counts: &[IdleCount], hard_limit: u64) -> anyhow::Result<Vec<usize>> {
    let largest = hard_limit.saturating_sub(FD_RESERVE);
    counts
        .iter()
        .map(|count| match *count {
            IdleCount::Max => usize::try_from(largest.min(100_000)).context("fd limit"),
            IdleCount::Clients(n) if n as u64 > largest => bail!(
                "{n} idle clients need {n}+ file descriptors (plus {FD_RESERVE} for the generator itself); \
                 RLIMIT_NOFILE hard limit is {hard_limit} (raise with ulimit -Hn as a privileged user; \
                 `--idle max` = {largest} here)"
            ),
            IdleCount::Clients(n) => Ok(n),
        })
        .collect()
}

async fn run(args: ChatArgs, invocation: &[&str]) -> anyhow::Result<()> {
    if let Some(addr) = args.connect
        && !addr.ip().is_loopback()
    {
        bail!("--connect must be a loopback address (the race stays on 127.0.0.1)");
    }
    if args.idle.is_empty() {
        return run_once(&args, None, invocation).await;
    }
    let hard = raise_nofile_limit()?;
    let counts = idle_counts(&args.idle, hard)?;
    println!("idle: RLIMIT_NOFILE soft limit raised to the hard limit {hard}; counts {counts:?}");
    for (i, count) in counts.iter().enumerate() {
        if i > 0 && args.connect.is_some() {
            println!(
                "idle: note: the same external server again; its RSS before already holds the previous run's heap"
            );
        }
        run_once(&args, Some(*count), invocation).await?;
    }
    Ok(())
}

/// One run: fan-out (`idle_count` `None`) or one idle count, against a server started here or at `--connect`.
async fn run_once(args: &ChatArgs, idle_count: Option<usize>, invocation: &[&str]) -> anyhow::Result<()> {
    let args = args.clone();
    let idle = idle_count.is_some();
    let clients = idle_count.unwrap_or(args.clients);
    if !(2..=100_000).contains(&clients) {
        bail!("clients must be 2..=100000");
    }
    let senders = args.senders.unwrap_or(clients).min(clients);
    let name = label(&args);

    // Who is in the race: names (and for orrery the system they all start in) and the server.
    let tag: u32 = rand::random::<u32>() % 1_000_000;
    let plan = match args.target {
        Target::Orrery => Some(server::orrery_names(&args, tag, clients, idle)?),
        // The fake orrery puts everyone in its one system: plain names, nothing to check.
        Target::BlastOrrery => Some(server::orrery_names(&args, tag, clients, true)?),
        Target::Irc | Target::BlastIrc => None,
    };
    let mut own_server = None;
    let mut fake_server = None;
    let (addr, pid) = match (args.target, args.connect) {
        (_, Some(addr)) => (addr, args.server_pid),
        (Target::Irc, None) => bail!("--target irc needs --connect ADDR (start the server with scripts/irc/)"),
        (Target::Orrery, None) => {
            let system = plan.as_ref().and_then(|p| p.system);
            let started = server::OrreryServer::start(&args, system, clients).await?;
            let out = (started.addr, Some(started.pid));
            own_server = Some(started);
            out
        }
        (Target::BlastOrrery | Target::BlastIrc, None) => {
            let kind = if args.target.is_orrery() { fake::FakeKind::Orrery } else { fake::FakeKind::Irc };
            let started = server::FakeServer::start(&args, kind, invocation)?;
            let out = (started.addr, Some(started.pid));
            fake_server = Some(started);
            out
        }
    };
    println!("chat race: {name} at {addr}, server pid {}", pid.map_or("-".into(), |p| p.to_string()));
    println!(
        "pinning: server on CPUs {}, generator on CPUs {} (one tokio current-thread runtime)",
        pid.and_then(server::cpus_allowed).unwrap_or_else(|| "?".into()),
        server::cpus_allowed(std::process::id()).unwrap_or_else(|| "?".into())
    );
    if let Some(plan) = &plan
        && let Some(system) = plan.system
    {
        println!("orrery: all {clients} characters start in system {system} (name hash, as World::starting_system)");
    }

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        alive: AtomicUsize::new(0),
        joined: AtomicUsize::new(0),
        sent: AtomicU64::new(0),
        server_errors: AtomicU64::new(0),
        stats: Mutex::new(StepStats::new(0)),
    });

    let rss_before = pid.and_then(rss_kib);
    let connect_started = Instant::now();
    let concurrency = args.concurrency.unwrap_or(match args.target {
        Target::Irc => 8,
        Target::Orrery => 32,
        Target::BlastOrrery | Target::BlastIrc => 256,
    });
    let txs = match connect_all(&args, addr, clients, concurrency, idle, plan.as_ref(), &shared).await {
        Ok(txs) => txs,
        Err(error) => {
            if let Some(server) = own_server {
                server.stop().await;
            }
            if let Some(server) = fake_server {
                server.stop().await;
            }
            return Err(error);
        }
    };
    let connect_s = connect_started.elapsed().as_secs_f64();
    println!(
        "{clients} clients logged in{} in {connect_s:.1} s ({:.0}/s, {concurrency} in flight)",
        if idle { "" } else { " and joined" },
        clients as f64 / connect_s
    );

    let outcome = if idle {
        idle_report(&name, pid, rss_before, clients, connect_s, &shared).await;
        Ok(())
    } else {
        fan_out(&args, &name, pid, &txs, clients, senders, &shared).await
    };
    drop(txs);
    if let Some(server) = own_server {
        server.stop().await;
    }
    if let Some(server) = fake_server {
        server.stop().await;
    }
    if idle {
        // Let the connections close before the next count (the server sees EOF and hangs up).
        let deadline = Instant::now() + Duration::from_secs(30);
        while shared.alive.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    outcome
}

/// Connects and logs in `clients` clients, `concurrency` at a time; returns each one's outbound channel.
async fn connect_all(
    args: &ChatArgs,
    addr: SocketAddr,
    clients: usize,
    concurrency: usize,
    idle: bool,
    plan: Option<&server::OrreryNames>,
    shared: &Arc<Shared>,
) -> anyhow::Result<Vec<Tx>> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = JoinSet::new();
    for index in 0..clients {
        let permits = permits.clone();
        let shared = shared.clone();
        let source = source_addr(args, index);
        let target = args.target;
        let channel = args.channel.clone();
        let name = match plan {
            Some(plan) => plan.names[index].clone(),
            None => format!("cr{index}"),
        };
        let system = plan.and_then(|p| p.system);
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let setup = async {
                if target.is_orrery() {
                    conn::orrery_connect(addr, source, index, &name, system, idle, shared).await
                } else {
                    conn::irc_connect(addr, source, index, &name, &channel, idle, shared).await
                }
            };
            let result = tokio::time::timeout(Duration::from_secs(60), setup)
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("login timed out after 60 s")));
            (index, result)
        });
    }
    let mut txs: Vec<Option<Tx>> = (0..clients).map(|_| None).collect();
    let mut failures = 0usize;
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        let (index, result) = joined.context("login task")?;
        match result {
            Ok(tx) => txs[index] = Some(tx),
            Err(error) => {
                failures += 1;
                first_error.get_or_insert(format!("client {index}: {error:#}"));
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of {clients} clients failed to log in; first: {}", first_error.unwrap_or_default());
    }
    Ok(txs.into_iter().map(|tx| tx.expect("every client connected")).collect())
}

async fn idle_report(
    name: &str,
    pid: Option<u32>,
    rss_before: Option<u64>,
    clients: usize,
    connect_s: f64,
    shared: &Arc<Shared>,
) {
    // Hold them for a few seconds, then look at what the server keeps per client.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_after = pid.and_then(rss_kib);
    let alive = shared.alive.load(Ordering::Relaxed);
    let per_client = match (rss_before, rss_after) {
        (Some(before), Some(after)) => format!("{:.1} KiB", after.saturating_sub(before) as f64 / clients as f64),
        _ => "-".into(),
    };
    println!(
        "idle: {alive}/{clients} connected after 5 s; server RSS {} → {} MB; {per_client} per client; accept rate {:.0} logins/s",
        rss_before.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        rss_after.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        clients as f64 / connect_s
    );
    println!("| server | idle clients | connected | accept rate (logins/s) | RSS before → after | RSS per client |");
    println!("|---|---:|---:|---:|---|---:|");
    println!(
        "| {name} | {clients} | {alive} | {:.0} | {} → {} MB | {per_client} |",
        clients as f64 / connect_s,
        rss_before.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        rss_after.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
    );
}

async fn fan_out(
    args: &ChatArgs,
    name: &str,
    pid: Option<u32>,
    txs: &[Tx],
    clients: usize,
    senders: usize,
    shared: &Arc<Shared>,
) -> anyhow::Result<()> {
    let receivers = clients as f64 - 1.0;
    let mut seqs = vec![1u32; senders];
    let mut reports: Vec<StepReport> = Vec::new();
    let mut step = 0u32;
    // Settle: the joins' own traffic (names lists, arrivals) drains first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if !args.sweep {
        let offered = args.rate * senders as f64 * receivers;
        step += 1;
        let report = run_step(args, pid, txs, &mut seqs, step, offered, shared).await;
        print_step(&report);
        reports.push(report);
    } else {
        let mut offered = args.sweep_start;
        let mut pass: Option<f64> = None;
        let mut fail: Option<f64> = None;
        while step < args.max_steps {
            step += 1;
            let report = run_step(args, pid, txs, &mut seqs, step, offered, shared).await;
            print_step(&report);
            let mut ok = report.passes(args.p99_ms, clients);
            let mut report = report;
            if !ok && report.alive == clients && step < args.max_steps {
                // On a shared machine one noisy step should not end the sweep: confirm a failure once.
                settle(shared).await;
                step += 1;
                println!("step {step}: repeating the failed rate once to confirm");
                reports.push(report);
                report = run_step(args, pid, txs, &mut seqs, step, offered, shared).await;
                print_step(&report);
                ok = report.passes(args.p99_ms, clients);
            }
            let alive = report.alive;
            reports.push(report);
            if alive < clients {
                println!("sweep: {} clients disconnected, stopping", clients - alive);
                break;
            }
            if ok {
                pass = Some(pass.map_or(offered, |p: f64| p.max(offered)));
            } else {
                fail = Some(fail.map_or(offered, |f: f64| f.min(offered)));
                settle(shared).await;
            }
            offered = match (pass, fail) {
                (Some(p), Some(f)) => {
                    if f / p < 1.12 {
                        break; // within ~12%: good enough
                    }
                    (p * f).sqrt()
                }
                (Some(p), None) => p * args.sweep_factor,
                (None, Some(f)) => f / args.sweep_factor / args.sweep_factor,
                (None, None) => unreachable!(),
            };
        }
    }
    let best = reports
        .iter()
        .filter(|r| r.passes(args.p99_ms, clients))
        .max_by(|a, b| a.delivered_per_s.partial_cmp(&b.delivered_per_s).unwrap_or(std::cmp::Ordering::Equal));
    println!();
    println!(
        "| server | N | S | B | offered/s | R/sender | delivered/s | MB/s | p50 ms | p99 ms | p99.9 ms | lost | server CPU | server RSS | generator CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for report in &reports {
        let mark = if best.is_some_and(|b| b.step == report.step) { " **best**" } else { "" };
        println!("{}", table_row(&format!("{name}{mark}"), clients, senders, args.bytes, report));
    }
    match best {
        Some(best) => println!(
            "RESULT {name}: best sustained {:.0} deliveries/s (p99 {:.1} ms < {} ms, 0 lost) at N={clients} S={senders} B={}",
            best.delivered_per_s, best.p99_ms, args.p99_ms, args.bytes
        ),
        None => println!("RESULT {name}: no step passed (p99 < {} ms and nothing lost)", args.p99_ms),
    }
    Ok(())
}

fn table_row(name: &str, clients: usize, senders: usize, bytes: u64, r: &StepReport) -> String {
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".into(), |v| format!("{v:.2}{unit}"));
    format!(
        "| {name} | {clients} | {senders} | {bytes} | {:.0} | {:.3} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
        r.offered_per_s,
        r.rate_per_sender,
        r.delivered_per_s,
        r.payload_mb_s,
        r.p50_ms,
        r.p99_ms,
        r.p999_ms,
        r.lost,
        opt(r.server_cpu_cores, " cores"),
        r.server_rss_mb.map_or("-".into(), |v| format!("{v:.0} MB")),
        opt(r.generator_cpu_cores, " cores"),
    )
}

fn print_step(r: &StepReport) {
    println!(
        "step {}: offered {:.0}/s (R={:.3}/s per sender): sent {}, delivered {}/{} ({:.0}/s, {:.1} MB/s), lost {}, late {}, \
         latency p50 {:.1} / p99 {:.1} / p99.9 {:.1} / max {:.1} ms, server CPU {} RSS {}, generator CPU {}{}, alive {}, server errors {}, \
         gaps {} dups {} unparsed {} malformed {}",
        r.step,
        r.offered_per_s,
        r.rate_per_sender,
        r.sent,
        r.received,
        r.expected,
        r.delivered_per_s,
        r.payload_mb_s,
        r.lost,
        r.late,
        r.p50_ms,
        r.p99_ms,
        r.p999_ms,
        r.max_ms,
        r.server_cpu_cores.map_or("-".into(), |c| format!("{c:.2} cores")),
        r.server_rss_mb.map_or("-".into(), |m| format!("{m:.0} MB")),
        r.generator_cpu_cores.map_or("-".into(), |c| format!("{c:.2} cores")),
        // Robust on a shared machine, where the generator may not get its whole core: work per CPU-second.
        r.generator_cpu_cores.filter(|c| *c > 0.0).map_or(String::new(), |c| format!(
            " ({:.2}M deliveries per generator CPU-second)",
            r.delivered_per_s / c / 1e6
        )),
        r.alive,
        r.server_errors,
        r.gaps,
        r.dups,
        r.unparsed,
        r.malformed,
    );
}

/// Waits until nothing has arrived for 500 ms (at most 15 s): a failed step's backlog must not spill into the
/// next one.
async fn settle(shared: &Arc<Shared>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = u64::MAX;
    while Instant::now() < deadline {
        let seen = {
            let stats = shared.stats.lock();
            stats.received + stats.late + stats.dups
        };
        if seen == last {
            return;
        }
        last = seen;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run_step(
    args: &ChatArgs,
    pid: Option<u32>,
    txs: &[Tx],
    seqs: &mut [u32],
    step: u32,
    offered: f64,
    shared: &Arc<Shared>,
) -> StepReport {
    let senders = seqs.len();
    let clients = txs.len();
    let rate = offered / (senders as f64 * (clients as f64 - 1.0));
    shared.stats.lock().next_step(step, senders, clients);
    let sent_before = shared.sent.load(Ordering::Relaxed);
    let errors_before = shared.server_errors.load(Ordering::Relaxed);
    let cpu0 = pid.and_then(cpu_ticks);
    let gen0 = cpu_ticks(std::process::id());
    let t0 = Instant::now();
    let start = t0 + Duration::from_millis(100);
    let end = start + Duration::from_secs(args.duration);
    let mut set = JoinSet::new();
    for (sender, seq) in seqs.iter().enumerate() {
        let tx = txs[sender].clone();
        let shared = shared.clone();
        let first = *seq;
        let target = args.target;
        let channel = args.channel.clone();
        let bytes = args.bytes as usize;
        set.spawn(async move {
            let next =
                conn::send_loop(target, tx, &channel, sender, step, first, rate, bytes, start, end, shared).await;
            (sender, next)
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((sender, next)) = joined {
            seqs[sender] = next;
        }
    }
    let sent = shared.sent.load(Ordering::Relaxed) - sent_before;
    let expected = sent * (clients as u64 - 1);
    let drain_until = Instant::now() + Duration::from_secs(args.drain_s);
    while Instant::now() < drain_until {
        if shared.stats.lock().received >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some((b.saturating_sub(a)) as f64 / server::CLK_TCK / wall),
        _ => None,
    };
    let server_cpu = cpu(cpu0, pid.and_then(cpu_ticks));
    let generator_cpu = cpu(gen0, cpu_ticks(std::process::id()));
    let stats = shared.stats.lock();
    let start_us = (start - shared.epoch).as_micros() as u64;
    let span_s = (stats.last_us.saturating_sub(start_us) as f64 / 1e6).max(args.duration as f64);
    let q = |p: f64| stats.hist.value_at_quantile(p) as f64 / 1000.0;
    StepReport {
        step,
        offered_per_s: offered,
        rate_per_sender: rate,
        sent,
        expected,
        received: stats.received,
        lost: expected as i64 - stats.received as i64,
        late: stats.late,
        delivered_per_s: stats.received as f64 / span_s,
        payload_mb_s: stats.payload as f64 / span_s / 1e6,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        p999_ms: q(0.999),
        max_ms: stats.hist.max() as f64 / 1000.0,
        server_cpu_cores: server_cpu,
        server_rss_mb: pid.and_then(rss_kib).map(|k| k as f64 / 1024.0),
        generator_cpu_cores: generator_cpu,
        alive: shared.alive.load(Ordering::Relaxed),
        server_errors: shared.server_errors.load(Ordering::Relaxed) - errors_before,
        unparsed: stats.unparsed,
        malformed: stats.malformed,
        gaps: stats.gaps,
        dups: stats.dups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_counts_resolve_max_and_refuse_what_cannot_fit() {
        let counts = [IdleCount::Clients(10_000), IdleCount::Max];
        assert_eq!(idle_counts(&counts, 20_000).expect("fits"), [10_000, 20_000 - FD_RESERVE as usize]);
        let error = idle_counts(&[IdleCount::Clients(50_000)], 20_000).expect_err("too many").to_string();
        assert!(error.contains("50000 idle clients need 50000+ file descriptors"), "{error}");
        assert!(error.contains("RLIMIT_NOFILE hard limit is 20000"), "{error}");
        assert_eq!(parse_idle("max"), Ok(IdleCount::Max));
        assert_eq!(parse_idle("12"), Ok(IdleCount::Clients(12)));
        assert!(parse_idle("many").is_err());
    }

    #[test]
    fn leading_numbers_need_four_space_terminated_numbers() {
        assert_eq!(leading_numbers(b"1 22 333 4444 xx"), Some([1, 22, 333, 4444]));
        assert_eq!(leading_numbers(b"1 22 333 4444"), None); // the fourth is not terminated
        assert_eq!(leading_numbers(b"1  2 3 4 "), None);
        assert_eq!(leading_numbers(b"1 2 x 4 "), None);
        assert_eq!(leading_numbers(b"99999999999999999999 2 3 4 "), None); // 20 digits
        assert_eq!(leading_numbers(b""), None);
    }

    #[test]
    fn message_round_trip() {
        let text = message_text(3, 7, 42, 123_456, 100);
        assert_eq!(text.len(), 100);
        let mut stats = StepStats::new(0);
        stats.next_step(3, 10, 10);
        let mut receiver = Receiver { me: 0, column: 0 };
        receiver.record(text.as_bytes(), 223_456, &mut stats);
        assert_eq!(stats.received, 1);
        assert_eq!(stats.hist.max() / 1000, 100);
        receiver.record(text.as_bytes(), 223_456, &mut stats);
        assert_eq!((stats.received, stats.dups), (1, 1));
        receiver.record(message_text(2, 7, 43, 1, 100).as_bytes(), 1, &mut stats);
        assert_eq!(stats.late, 1);
        receiver.record(message_text(3, 7, 45, 1, 100).as_bytes(), 1, &mut stats);
        assert_eq!(stats.gaps, 2);
    }
}
