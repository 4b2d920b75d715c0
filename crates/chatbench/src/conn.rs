//! One connection: login (IRC or orrery), then a reader task that accounts every received message and a writer
//! task that batches queued outbound bytes into one write.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use orrery_client::{ClientOptions, Connection, body_name};
use orrery_proto::frame;
use orrery_proto::v1::{self, client_envelope::Body as Cmd, server_envelope::Body as Msg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::{Receiver, Shared, Target, Tx, message_text, wire};

const MAX_FRAME: usize = 16 * 1024 * 1024;
pub const PASSWORD: &str = "chat-race-password";

async fn connect_from(addr: SocketAddr, source: IpAddr) -> anyhow::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0)).with_context(|| format!("binding {source}"))?;
    let stream = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn take_line(buffer: &mut BytesMut) -> Option<BytesMut> {
    let end = memchr::memchr(b'\n', buffer)?;
    Some(buffer.split_to(end + 1))
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    &line[..end]
}

/// Registers with an IRC server (NICK/USER, waits for 001) and, unless idle, joins `channel` (waits for the
/// end of its NAMES list, 366).
pub async fn irc_connect(
    addr: SocketAddr,
    source: IpAddr,
    index: usize,
    nick: &str,
    channel: &str,
    idle: bool,
    shared: Arc<Shared>,
) -> anyhow::Result<Tx> {
    let mut stream = connect_from(addr, source).await?;
    stream.write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :chat race {index}\r\n").as_bytes()).await?;
    let mut buffer = BytesMut::with_capacity(4096);
    let mut joined = false;
    loop {
        if stream.read_buf(&mut buffer).await? == 0 {
            bail!("server closed during registration");
        }
        while let Some(line) = take_line(&mut buffer) {
            let line = trim_line(&line);
            if let Some(pong) = pong_for(line) {
                stream.write_all(&pong).await?;
            } else if line.starts_with(b"ERROR") {
                bail!("server: {}", String::from_utf8_lossy(line));
            } else if let Some(code) = numeric(line) {
                match code {
                    b"001" if idle => return Ok(spawn_tasks(Target::Irc, stream, buffer, index, shared)),
                    b"001" => stream.write_all(format!("JOIN {channel}\r\n").as_bytes()).await?,
                    b"366" => joined = true,
                    // Refusals that would leave this client out of the race.
                    b"432" | b"433" | b"436" | b"437" | b"451" | b"461" | b"465" | b"471" | b"473" | b"474"
                    | b"475" => bail!("refused: {}", String::from_utf8_lossy(line)),
                    _ => {}
                }
            }
        }
        if joined {
            return Ok(spawn_tasks(Target::Irc, stream, buffer, index, shared));
        }
    }
}

/// The numeric of a server reply (`:server 001 nick …`).
fn numeric(line: &[u8]) -> Option<&[u8]> {
    let mut parts = line.split(|b| *b == b' ');
    let prefix = parts.next()?;
    if !prefix.starts_with(b":") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3 && code.iter().all(u8::is_ascii_digit)).then_some(code)
}

/// Logs in to orrery (`Register`), and unless idle creates the character and undocks it; checks that it is in
/// `system`. The handshake is `orrery-client`'s; the chat traffic after it goes through this module's own
/// reader (a zero-copy scan, see [`wire`]) and writer.
pub async fn orrery_connect(
    addr: SocketAddr,
    source: IpAddr,
    index: usize,
    name: &str,
    system: Option<u32>,
    idle: bool,
    shared: Arc<Shared>,
) -> anyhow::Result<Tx> {
    let stream = connect_from(addr, source).await?;
    let options = ClientOptions { max_frame: MAX_FRAME, ..ClientOptions::default() };
    let mut connection = Connection::from_tcp(stream, options)?;
    connection.register(name, PASSWORD).await.context("Register")?;
    if !idle {
        let character = connection.create_character(name).await.context("CreateCharacter")?;
        if let Some(system) = system
            && character.system_id != system
        {
            bail!(
                "{name} starts in system {}, not {system}: the universe does not match the server's",
                character.system_id
            );
        }
        // Not `Connection::undock`, which waits in a full system's queue: the race wants to be told at once.
        let undock = Cmd::Undock(v1::Undock { character_id: character.character_id });
        let answer = connection.request(undock, connection.options().request_timeout).await.context("Undock")?;
        match answer.body {
            Some(Msg::Snapshot(_)) => {}
            Some(Msg::Queued(queued)) => bail!("system full (cap {}): raise system.max_players", queued.cap),
            other => bail!("Undock answered {}", body_name(&other)),
        }
    }
    // Envelopes queued while waiting (a notice, a first delta) carry no chat of the race: dropped, as before.
    let Ok(parts) = connection.into_tcp_parts() else { bail!("the connection is not TCP") };
    Ok(spawn_tasks(Target::Orrery, parts.stream, parts.unread, index, shared))
}

fn spawn_tasks(target: Target, stream: TcpStream, buffer: BytesMut, index: usize, shared: Arc<Shared>) -> Tx {
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    shared.alive.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(writer(write, rx));
    let receiver = Receiver { me: index, column: shared.joined.fetch_add(1, Ordering::Relaxed) };
    tokio::spawn(reader(target, read, buffer, receiver, tx.clone(), shared));
    tx
}

async fn writer(mut write: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    let mut out = Vec::with_capacity(4096);
    while let Some(first) = rx.recv().await {
        coalesce(&mut out, &first, 64 * 1024, || rx.try_recv().ok());
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// `first` and whatever else is queued already (`more`), up to about `cap` bytes, in `out`: one write for a
/// burst. Shared by the clients' writers and the fake servers'.
pub(crate) fn coalesce(out: &mut Vec<u8>, first: &[u8], cap: usize, mut more: impl FnMut() -> Option<Bytes>) {
    out.clear();
    out.extend_from_slice(first);
    while out.len() < cap
        && let Some(next) = more()
    {
        out.extend_from_slice(&next);
    }
}

/// Bytes of a connection's receive buffer; it grows for a larger frame (a snapshot of many ships).
const READ_BUFFER: usize = 64 * 1024;

/// A connection's receive buffer: bytes `start..end` of `buf` are received and not yet consumed. A plain
/// `Vec` reused for the connection's life (no per-frame `Bytes` splitting or reference counting).
struct ReadBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    fn new(initial: &[u8]) -> ReadBuffer {
        let mut buf = vec![0u8; READ_BUFFER.max(initial.len())];
        buf[..initial.len()].copy_from_slice(initial);
        ReadBuffer { buf, start: 0, end: initial.len() }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes room for at least `want` unconsumed bytes plus more to read: moves the unconsumed tail to the
    /// front and grows the buffer if one frame needs more than it holds.
    fn make_room(&mut self, want: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if want > self.buf.len() {
            self.buf.resize(want, 0);
        }
        if self.end == self.buf.len() || self.start + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Still full: one IRC line longer than the buffer. Grow (bounded); past the bound the next read gets
        // no space, reads 0 bytes and the connection counts as closed.
        if self.end == self.buf.len() && self.buf.len() < MAX_FRAME {
            self.buf.resize(self.buf.len() * 2, 0);
        }
    }

    /// Reads once into the free space; `false` when the connection is closed or failed.
    async fn fill(&mut self, read: &mut OwnedReadHalf) -> bool {
        match read.read(&mut self.buf[self.end..]).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.end += n;
                true
            }
        }
    }
}

/// Receives until the connection closes: accounts every chat line, answers IRC `PING`s.
///
/// Each read batch takes the clock and the stats lock once; the lines are found without allocating (orrery:
/// [`wire::scan_envelope`] over the frame in place; IRC: `memchr` for line ends, then the command after the
/// prefix).
async fn reader(
    target: Target,
    mut read: OwnedReadHalf,
    initial: BytesMut,
    mut receiver: Receiver,
    tx: Tx,
    shared: Arc<Shared>,
) {
    let mut buffer = ReadBuffer::new(&initial);
    drop(initial);
    loop {
        let mut want = 0;
        if buffer.start < buffer.end {
            let now = shared.now_us();
            let mut stats = shared.stats.lock();
            let data = buffer.data();
            let consumed = match target {
                Target::Irc | Target::BlastIrc => {
                    let mut at = 0;
                    while let Some(nl) = memchr::memchr(b'\n', &data[at..]) {
                        let line = trim_line(&data[at..at + nl]);
                        at += nl + 1;
                        if let Some(text) = privmsg_text(line) {
                            receiver.record(text, now, &mut stats);
                        } else if let Some(pong) = pong_for(line) {
                            let _ = tx.send(Bytes::from(pong));
                        }
                    }
                    at
                }
                Target::Orrery | Target::BlastOrrery => {
                    let mut at = 0;
                    loop {
                        let rest = &data[at..];
                        if rest.len() < frame::HEADER_LEN {
                            want = frame::HEADER_LEN;
                            break;
                        }
                        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                        if len > MAX_FRAME {
                            drop(stats);
                            shared.alive.fetch_sub(1, Ordering::Relaxed);
                            return;
                        }
                        let total = frame::HEADER_LEN + len;
                        if rest.len() < total {
                            want = total;
                            break;
                        }
                        let payload = &rest[frame::HEADER_LEN..total];
                        match wire::scan_envelope(payload, |text| receiver.record(text, now, &mut stats)) {
                            Ok(wire::Envelope::Error) => {
                                shared.server_errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => {}
                            Err(wire::Malformed) => {
                                stats.malformed += 1;
                            }
                        }
                        at += total;
                    }
                    at
                }
            };
            drop(stats);
            buffer.start += consumed;
        }
        buffer.make_room(want);
        if !buffer.fill(&mut read).await {
            shared.alive.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
}

/// The text of `:nick!user@host PRIVMSG #chan :text`. The command is found right after the prefix (one
/// `memchr` over the short prefix) rather than searched for in the whole line: this runs per delivered line.
fn privmsg_text(line: &[u8]) -> Option<&[u8]> {
    let command = if line.first() == Some(&b':') { &line[memchr::memchr(b' ', line)? + 1..] } else { line };
    let rest = command.strip_prefix(b"PRIVMSG ")?;
    // Channel names cannot hold ':' or ' ', so the first ':' after the target starts the text.
    let colon = memchr::memchr(b':', rest)?;
    Some(&rest[colon + 1..])
}

/// Sends one sender's messages of a step: every 1/rate s from a random phase, from `start` until `end`.
/// Returns the next sequence number.
#[allow(clippy::too_many_arguments)]
pub async fn send_loop(
    target: Target,
    tx: Tx,
    channel: &str,
    sender: usize,
    step: u32,
    mut seq: u32,
    rate: f64,
    bytes: usize,
    start: Instant,
    end: Instant,
    shared: Arc<Shared>,
) -> u32 {
    if rate <= 0.0 {
        return seq;
    }
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut at = start + period.mul_f64(rand::random::<f64>());
    // Bounded: at most rate × duration messages (plus one).
    while at < end {
        tokio::time::sleep_until(at).await;
        let text = message_text(step, sender, seq, shared.now_us(), bytes);
        let wire = if target.is_orrery() {
            frame::encode(&v1::ClientEnvelope { request_id: seq, body: Some(Cmd::Chat(v1::Chat { text })) })
        } else {
            Bytes::from(format!("PRIVMSG {channel} :{text}\r\n"))
        };
        if tx.send(wire).is_err() {
            return seq;
        }
        shared.sent.fetch_add(1, Ordering::Relaxed);
        seq += 1;
        at += period;
    }
    seq
}

/// The answer to an IRC `PING` line (`PING :token` → `PONG :token`), or `None` for any other line.
fn pong_for(line: &[u8]) -> Option<Vec<u8>> {
    let rest = line.strip_prefix(b"PING")?;
    let mut pong = b"PONG".to_vec();
    pong.extend_from_slice(rest);
    pong.extend_from_slice(b"\r\n");
    Some(pong)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ping_lines_are_answered_with_the_same_token_and_others_are_not() {
        assert_eq!(super::pong_for(b"PING :irc.local").as_deref(), Some(&b"PONG :irc.local\r\n"[..]));
        assert_eq!(super::pong_for(b":nick PRIVMSG #c :PING"), None);
    }

    use super::*;

    #[test]
    fn read_buffer_compacts_and_grows_for_a_large_frame() {
        let mut buffer = ReadBuffer::new(b"abc");
        assert_eq!(buffer.data(), b"abc");
        buffer.start = 2;
        buffer.make_room(0);
        assert_eq!((buffer.start, buffer.end, buffer.data()), (2, 3, &b"c"[..]));
        // A frame larger than the buffer: the tail moves to the front and the buffer grows to hold it.
        buffer.make_room(READ_BUFFER + 10);
        assert_eq!((buffer.start, buffer.data()), (0, &b"c"[..]));
        assert!(buffer.buf.len() >= READ_BUFFER + 10);
        // Everything consumed: back to the front without copying.
        buffer.start = buffer.end;
        buffer.make_room(4);
        assert_eq!((buffer.start, buffer.end), (0, 0));
        // Full of one unterminated line: it grows (bounded by MAX_FRAME) so that a read has room.
        let len = buffer.buf.len();
        buffer.end = len;
        buffer.make_room(0);
        assert!(buffer.buf.len() > buffer.end);
    }

    #[test]
    fn parses_privmsg_and_numerics() {
        let line = b":cr1!~cr1@127.0.0.1 PRIVMSG #race :1 2 3 4 xxxx";
        assert_eq!(privmsg_text(line), Some(&b"1 2 3 4 xxxx"[..]));
        assert_eq!(privmsg_text(b"PRIVMSG #race :no prefix"), Some(&b"no prefix"[..]));
        assert_eq!(privmsg_text(b":irc.local NOTICE cr1 :PRIVMSG #race :fake"), None);
        assert_eq!(privmsg_text(b":cr1!~cr1@h JOIN #race"), None);
        assert_eq!(privmsg_text(b":cr1!~cr1@h PRIVMSG #race :a :b"), Some(&b"a :b"[..]));
        assert_eq!(numeric(b":irc.local 001 cr1 :Welcome"), Some(&b"001"[..]));
        assert_eq!(numeric(b"PING :x"), None);
    }
}
