//! The two transports behind one session: TCP (4-byte big-endian length, then an envelope) and WebSocket
//! (one binary message per envelope). Readers yield envelope payloads; writers take TCP-framed bytes and
//! send everything queued at once — one `write` for TCP, one flush for WebSocket — so that a burst of
//! deltas costs one system call per session, not one per message.
//!
//! Readers also enforce the frame deadline: once the first byte of a frame (TCP) or message (WebSocket) has
//! arrived, the rest must follow within `frame_deadline`, so a client holding a partial frame (slowloris)
//! is closed long before the idle timeout.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use orrery_proto::frame::{self, FrameError, HEADER_LEN};
use orrery_proto::v1::ErrorCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::task::TaskTracker;

use crate::Shared;
use crate::guard::ConnectionSlot;

type Ws = WebSocketStream<Tracked>;

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
        half: OwnedReadHalf,
        buffer: BytesMut,
        /// When the first byte of the frame now in `buffer` arrived (`None`: no partial frame).
        partial_since: Option<Instant>,
    },
    Ws {
        stream: SplitStream<Ws>,
        progress: Arc<Progress>,
    },
}

pub enum Writer {
    Tcp(OwnedWriteHalf),
    Ws(SplitSink<Ws, Message>),
}

impl Reader {
    pub fn tcp(half: OwnedReadHalf) -> Reader {
        Reader::Tcp { half, buffer: BytesMut::new(), partial_since: None }
    }

    /// The next envelope's bytes. Cancel-safe: bytes already read and the time a partial frame began are kept
    /// in the reader.
    pub async fn next(&mut self, max_frame: usize, frame_deadline: Duration) -> Result<Bytes, ReadError> {
        match self {
            Reader::Tcp { half, buffer, partial_since } => loop {
                if let Some(payload) = frame::split(buffer, max_frame).map_err(ReadError::Frame)? {
                    // Bytes of the next frame that came along start its deadline now.
                    *partial_since = (!buffer.is_empty()).then(Instant::now);
                    return Ok(payload);
                }
                if buffer.is_empty() {
                    *partial_since = None;
                } else if partial_since.is_none() {
                    *partial_since = Some(Instant::now());
                }
                if buffer.capacity() - buffer.len() < 512 {
                    buffer.reserve(4096);
                }
                let read = match *partial_since {
                    Some(since) => match tokio::time::timeout_at(since + frame_deadline, half.read_buf(buffer)).await {
                        Ok(read) => read,
                        Err(_) => return Err(ReadError::Incomplete(frame_deadline)),
                    },
                    None => half.read_buf(buffer).await,
                };
                match read {
                    Ok(0) => return Err(ReadError::Closed),
                    Ok(_) => {}
                    Err(error) => return Err(ReadError::Io(error)),
                }
            },
            Reader::Ws { stream, progress } => loop {
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
            },
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
        *self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn message_done(&self) {
        *self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    fn bytes_arrived(&self) {
        let mut since = self.since.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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

/// Send queued frames until the queue closes (the session ended), then close the connection.
pub async fn write_loop(mut writer: Writer, mut queue: mpsc::Receiver<Bytes>, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(64);
    let mut joined = BytesMut::new();
    while queue.recv_many(&mut batch, 512).await > 0 {
        let bytes: usize = batch.iter().map(Bytes::len).sum();
        let sent = match &mut writer {
            Writer::Tcp(half) => {
                if let [single] = batch.as_slice() {
                    half.write_all(single).await.is_ok()
                } else {
                    joined.clear();
                    batch.iter().for_each(|frame| joined.extend_from_slice(frame));
                    half.write_all(&joined).await.is_ok()
                }
            }
            Writer::Ws(sink) => {
                let mut ok = true;
                for frame in &batch {
                    if sink.feed(Message::Binary(frame.slice(HEADER_LEN..))).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                ok && sink.flush().await.is_ok()
            }
        };
        batch.clear();
        if !sent {
            return;
        }
        shared.stats.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    match writer {
        Writer::Tcp(mut half) => {
            let _ = half.shutdown().await;
        }
        Writer::Ws(mut sink) => {
            let _ = sink.close().await;
        }
    }
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
                        let (read, write) = stream.into_split();
                        let session = crate::session::run(shared.clone(), Reader::tcp(read), Writer::Tcp(write), peer);
                        tasks.spawn(async move {
                            session.await;
                            drop(slot);
                        });
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
            crate::session::run(shared, Reader::Ws { stream, progress }, Writer::Ws(sink), peer).await;
        }
        Ok(Err(error)) => tracing::debug!(%peer, %error, "websocket handshake failed"),
        Err(_) => tracing::debug!(%peer, "websocket handshake timed out"),
    }
    drop(slot);
}
