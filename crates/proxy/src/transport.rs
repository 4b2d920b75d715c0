//! The two transports behind one session: TCP (4-byte big-endian length, then an envelope) and WebSocket
//! (one binary message per envelope). Readers yield envelope payloads; writers take TCP-framed bytes and
//! send everything queued at once — one `write` for TCP, one flush for WebSocket — so that a burst of
//! deltas costs one system call per session, not one per message.
//!
//! Readers also enforce the frame deadline: once the first byte of a frame (TCP) or message (WebSocket) has
//! arrived, the rest must follow within `frame_deadline`, so a client holding a partial frame (slowloris)
//! is closed long before the idle timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use orrery_proto::frame::{self, FrameError, HEADER_LEN};
use orrery_proto::v1::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::task::TaskTracker;

use crate::Shared;
use crate::guard::ConnectionSlot;
use crate::link::{Batch, Link};

type Ws = WebSocketStream<Tracked>;

/// Bytes read at a time: enough for a burst of commands, small enough to be worth freeing between frames.
const READ_CHUNK: usize = 4096;

/// Bytes a closing TCP session reads and throws away, at most, while the client takes its last messages.
const LINGER_BYTES: usize = 256 * 1024;

/// Frames handed to one vectored write at most.
const MAX_IOVECS: usize = 64;

/// What [`Reader::next`] found.
pub enum Read {
    /// A complete envelope's bytes.
    Frame(Bytes),
    /// A TCP frame has begun to arrive without completing: the session starts its frame deadline.
    FrameBegun,
    /// The socket takes bytes again (asked for with `writable_too`).
    Writable,
}

/// Why reading the next envelope failed.
pub enum ReadError {
    /// The peer closed the connection.
    Closed,
    Io(std::io::Error),
    Frame(FrameError),
    /// A WebSocket message that cannot carry an envelope (text).
    Protocol(String),
    /// A frame was begun but not completed within the frame deadline.
    Incomplete(Duration),
}

pub enum Reader {
    Tcp {
        /// The whole socket: the session's [`TcpOut`] writes through [`Reader::tcp_stream`] (not splitting it
        /// saves an allocation per connection).
        stream: TcpStream,
        buffer: BytesMut,
        /// When the first byte of the frame now in `buffer` arrived (`None`: no partial frame).
        partial_since: Option<Instant>,
    },
    Ws {
        stream: SplitStream<Ws>,
        progress: Arc<Progress>,
    },
    /// Taken apart by a closing session.
    Closed,
}

pub enum Writer {
    /// Written by the session task through its reader's socket.
    Tcp,
    Ws(SplitSink<Ws, Message>),
}

impl Reader {
    pub fn tcp(stream: TcpStream) -> Reader {
        Reader::Tcp { stream, buffer: BytesMut::new(), partial_since: None }
    }

    /// The TCP socket, for writing.
    pub fn tcp_stream(&self) -> Option<&TcpStream> {
        match self {
            Reader::Tcp { stream, .. } => Some(stream),
            Reader::Ws { .. } | Reader::Closed => None,
        }
    }

    /// The last step of a TCP close, after the final frames and the FIN have been sent: read and discard what
    /// the client still sends, until it closes too (or `LINGER_BYTES` have come). Closing a socket with unread
    /// bytes makes the kernel answer with a reset, and a reset makes the client's kernel throw away what it
    /// has received but not yet read — the very error message that explains the close. The caller bounds
    /// the time.
    pub async fn linger(self) {
        let Reader::Tcp { stream: half, .. } = self else { return };
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            if half.readable().await.is_err() {
                return;
            }
            // Not kept across the wait, so it does not enlarge the session's future.
            let mut scratch = [0u8; 1024];
            match half.try_read(&mut scratch) {
                Ok(0) => return,
                Ok(read) => discarded += read,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    /// When the first byte of the TCP frame now being received arrived (`None`: between frames, or WebSocket,
    /// whose reader keeps its own deadline). The session closes the connection `frame_deadline` after it.
    pub fn partial_since(&self) -> Option<Instant> {
        match self {
            Reader::Tcp { partial_since, .. } => *partial_since,
            Reader::Ws { .. } | Reader::Closed => None,
        }
    }

    /// The next envelope's bytes, or why the session should look again first. Cancel-safe: bytes already
    /// read and the time a partial frame began are kept in the reader.
    ///
    /// A TCP reader waits without a buffer and without a timer of its own — the session's one timer covers
    /// idle, frame and logout deadlines — and, with `writable_too`, also for the socket to take more bytes
    /// (one readiness wait for both directions), so an idle session's task stays small.
    pub async fn next(
        &mut self,
        max_frame: usize,
        frame_deadline: Duration,
        writable_too: bool,
    ) -> Result<Read, ReadError> {
        match self {
            Reader::Tcp { stream: half, buffer, partial_since } => loop {
                if let Some(payload) = frame::split(buffer, max_frame).map_err(ReadError::Frame)? {
                    // Bytes of the next frame that came along start its deadline now.
                    *partial_since = (!buffer.is_empty()).then(Instant::now);
                    return Ok(Read::Frame(payload));
                }
                if buffer.is_empty() {
                    *partial_since = None;
                    // Between frames the buffer is given back, so an idle session holds no read memory; the
                    // next one is allocated when bytes arrive.
                    if buffer.capacity() > 0 {
                        *buffer = BytesMut::new();
                    }
                } else if partial_since.is_none() {
                    *partial_since = Some(Instant::now());
                    return Ok(Read::FrameBegun);
                }
                let interest = if writable_too { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
                let ready = half.ready(interest).await.map_err(ReadError::Io)?;
                if writable_too && ready.is_writable() {
                    return Ok(Read::Writable);
                }
                if buffer.capacity() - buffer.len() < 512 {
                    buffer.reserve(READ_CHUNK);
                }
                match half.try_read_buf(buffer) {
                    Ok(0) => return Err(ReadError::Closed),
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(error) => return Err(ReadError::Io(error)),
                }
            },
            // Boxed: its state (with a timer) would otherwise enlarge every session's task, TCP ones too.
            Reader::Ws { stream, progress } => {
                Box::pin(next_websocket(stream, progress, max_frame, frame_deadline)).await.map(Read::Frame)
            }
            Reader::Closed => Err(ReadError::Closed),
        }
    }
}

/// The next envelope of a WebSocket connection, with the frame deadline kept here: the WebSocket library
/// buffers partial messages itself, so only [`Tracked`] sees bytes arrive.
async fn next_websocket(
    stream: &mut SplitStream<Ws>,
    progress: &Progress,
    max_frame: usize,
    frame_deadline: Duration,
) -> Result<Bytes, ReadError> {
    loop {
        let message = match progress.partial_since() {
            Some(since) => match tokio::time::timeout_at(since + frame_deadline, stream.next()).await {
                Ok(message) => message,
                Err(_) => return Err(ReadError::Incomplete(frame_deadline)),
            },
            None => tokio::select! {
                message = stream.next() => message,
                // Bytes arrived without completing a message: wait again, now with a deadline.
                _ = progress.started.notified() => continue,
            },
        };
        progress.message_done();
        match message {
            None | Some(Ok(Message::Close(_))) => return Err(ReadError::Closed),
            Some(Err(error)) => {
                return Err(ReadError::Protocol(format!("websocket: {error}")));
            }
            Some(Ok(Message::Binary(payload))) => {
                if payload.len() > max_frame {
                    return Err(ReadError::Frame(FrameError::TooLarge { len: payload.len(), max: max_frame }));
                }
                return Ok(payload);
            }
            Some(Ok(Message::Text(_))) => {
                return Err(ReadError::Protocol("websocket text message: envelopes are binary".into()));
            }
            Some(Ok(_)) => {} // ping/pong: answered by tungstenite
        }
    }
}

/// When bytes of a WebSocket message not yet complete began to arrive; written by [`Tracked`] as bytes come in,
/// cleared by the reader at every complete message.
///
/// The WebSocket library reads ahead, so bytes of the next message read together with the end of the previous
/// one are not seen as a partial message until more bytes come: such a client is closed by the idle timeout.
#[derive(Default)]
pub struct Progress {
    since: Mutex<Option<Instant>>,
    started: Notify,
}

impl Progress {
    fn partial_since(&self) -> Option<Instant> {
        *self.since.lock()
    }

    fn message_done(&self) {
        *self.since.lock() = None;
    }

    fn bytes_arrived(&self) {
        let mut since = self.since.lock();
        if since.is_none() {
            *since = Some(Instant::now());
            self.started.notify_one();
        }
    }
}

/// A client socket that notes when bytes arrive (for the WebSocket frame deadline).
pub struct Tracked {
    stream: TcpStream,
    progress: Arc<Progress>,
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.progress.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The sending side of a TCP session, driven by the session task itself (no writer task: an idle session is
/// one task). Frames taken from the link go out with non-blocking vectored writes straight from the shared
/// buffers — a delta fanned out to thousands of sessions is never copied in user space; what the socket does
/// not take waits in `pending` until it is writable again. Frames are taken from the link only once `pending`
/// is empty, so a client that stops reading fills the link's bounded queue and is dropped.
#[derive(Default)]
pub struct TcpOut {
    pending: VecDeque<Bytes>,
}

impl TcpOut {
    /// Write whatever is queued, as far as the socket takes it without waiting. An error: the connection is
    /// broken.
    pub fn flush(&mut self, stream: &TcpStream, link: &Link, shared: &Shared) -> std::io::Result<()> {
        loop {
            if self.pending.is_empty() {
                self.pending = match link.take_frames() {
                    Batch::Frames(frames) => frames,
                    Batch::Empty | Batch::Closed => return Ok(()),
                };
                let bytes: usize = self.pending.iter().map(Bytes::len).sum();
                shared.stats.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
            }
            if !try_write_some(stream, &mut self.pending)? {
                return Ok(());
            }
            if self.pending.is_empty() {
                // All sent: give the queue's memory back, an idle session keeps none.
                self.pending = VecDeque::new();
            }
        }
    }

    /// True while frames wait for the socket to become writable.
    pub fn blocked(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The session has ended (its link is closed): send everything still queued, then close the connection.
    /// The caller bounds the time this may take.
    pub async fn finish(mut self, stream: &TcpStream, link: &Link, shared: &Shared) {
        loop {
            if self.flush(stream, link, shared).is_err() {
                return;
            }
            if !self.blocked() {
                break;
            }
            if stream.writable().await.is_err() {
                return;
            }
        }
        let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    }
}

/// One non-blocking vectored write of the front of `frames`; false if the socket would block.
fn try_write_some(stream: &TcpStream, frames: &mut VecDeque<Bytes>) -> std::io::Result<bool> {
    let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
    let mut count = 0;
    for (slot, frame) in slices.iter_mut().zip(frames.iter()) {
        *slot = IoSlice::new(frame);
        count += 1;
    }
    match stream.try_write_vectored(&slices[..count]) {
        Ok(0) => Err(std::io::ErrorKind::WriteZero.into()),
        Ok(written) => {
            consume(frames, written);
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
        Err(error) => Err(error),
    }
}

/// Drop `written` bytes from the front of the queue: whole frames, then the start of a partly written one.
fn consume(frames: &mut VecDeque<Bytes>, mut written: usize) {
    while written > 0 {
        let Some(front) = frames.front_mut() else { return };
        if written >= front.len() {
            written -= front.len();
            frames.pop_front();
        } else {
            front.advance(written);
            return;
        }
    }
}

/// A WebSocket session's writer task (the sink's writes are async, so they get a task of their own): feeds
/// every queued frame to the sink without its length prefix and flushes once per batch, until the session
/// ends; then closes the connection.
pub async fn write_websocket(mut sink: SplitSink<Ws, Message>, link: Arc<Link>, shared: Arc<Shared>) {
    loop {
        let frames = match link.take_frames() {
            Batch::Frames(frames) => frames,
            Batch::Empty => {
                link.frames_queued().await;
                continue;
            }
            Batch::Closed => break,
        };
        let bytes: usize = frames.iter().map(Bytes::len).sum();
        for frame in &frames {
            if sink.feed(Message::Binary(frame.slice(HEADER_LEN..))).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
        shared.stats.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    let _ = sink.close().await;
}

/// Socket options of every client connection: no Nagle delay (writes are already coalesced), and the
/// configured send buffer.
fn tune(shared: &Shared, stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    if let Some(bytes) = shared.config.socket_send_buffer {
        let _ = socket2::SockRef::from(stream).set_send_buffer_size(bytes);
    }
}

/// Which protocol a listener speaks.
#[derive(Clone, Copy)]
pub enum Listener {
    Tcp,
    WebSocket,
}

/// Accept clients until shutdown, each served by its own session task. A connection over its address's limit
/// is answered with an error and closed by a short task of its own, so accepting never waits for a client.
pub async fn accept(shared: Arc<Shared>, listener: TcpListener, kind: Listener, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Some(slot) = ConnectionSlot::take(&shared, peer.ip()) else {
                    shared.stats.connections_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "too many connections from this address: refused");
                    tasks.spawn(refuse(shared.clone(), stream, kind));
                    continue;
                };
                tune(&shared, &stream);
                match kind {
                    Listener::Tcp => {
                        // Spawned as it is: a wrapping `async` block would hold the session's future twice.
                        tasks.spawn(crate::session::run(&shared, Reader::tcp(stream), Writer::Tcp, peer, slot));
                    }
                    Listener::WebSocket => {
                        tasks.spawn(serve_websocket(shared.clone(), stream, peer, slot));
                    }
                }
            }
            Err(error) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// How long answering a refused connection may take.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Tell a connection over the per-address limit why it is refused, then close it.
async fn refuse(shared: Arc<Shared>, stream: TcpStream, kind: Listener) {
    let limit = shared.config.max_connections_per_ip;
    let answer = orrery_proto::error(
        0,
        ErrorCode::RateLimited,
        format!("too many connections from your address (at most {limit}): connection refused"),
    );
    let framed = frame::encode(&answer);
    let _ = tokio::time::timeout(REFUSAL_TIME, async move {
        match kind {
            Listener::Tcp => {
                let mut stream = stream;
                if stream.write_all(&framed).await.is_ok() {
                    let _ = stream.shutdown().await;
                }
            }
            Listener::WebSocket => {
                let tracked = Tracked { stream, progress: Arc::default() };
                if let Ok(mut ws) = tokio_tungstenite::accept_async(tracked).await
                    && ws.send(Message::Binary(framed.slice(HEADER_LEN..))).await.is_ok()
                {
                    let _ = ws.close(None).await;
                }
            }
        }
    })
    .await;
}

/// The WebSocket handshake (at most 10 s, frame and message sizes capped), then the session.
async fn serve_websocket(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr, slot: ConnectionSlot) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.config.max_frame_bytes))
        .max_frame_size(Some(shared.config.max_frame_bytes));
    let progress = Arc::new(Progress::default());
    let tracked = Tracked { stream, progress: progress.clone() };
    let handshake = tokio_tungstenite::accept_async_with_config(tracked, Some(config));
    match tokio::time::timeout(Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => {
            // The handshake's bytes are not a partial message.
            progress.message_done();
            let (sink, stream) = ws.split();
            crate::session::run(&shared, Reader::Ws { stream, progress }, Writer::Ws(sink), peer, slot).await;
        }
        Ok(Err(error)) => tracing::debug!(%peer, %error, "websocket handshake failed"),
        Err(_) => tracing::debug!(%peer, "websocket handshake timed out"),
    }
}
