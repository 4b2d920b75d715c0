//! The two transports behind one session: TCP (4-byte big-endian length, then an envelope) and WebSocket
//! (one binary message per envelope). Readers yield envelope payloads; writers take TCP-framed bytes and
//! send everything queued at once — one `write` for TCP, one flush for WebSocket — so that a burst of
//! deltas costs one system call per session, not one per message.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use orrery_proto::frame::{self, FrameError, HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::task::TaskTracker;

use crate::Shared;

type Ws = WebSocketStream<TcpStream>;

/// Why reading the next envelope failed.
pub enum ReadError {
    /// The peer closed the connection.
    Closed,
    Io(std::io::Error),
    Frame(FrameError),
    /// A WebSocket message that cannot carry an envelope (text).
    Protocol(String),
}

pub enum Reader {
    Tcp { half: OwnedReadHalf, buffer: BytesMut },
    Ws(SplitStream<Ws>),
}

pub enum Writer {
    Tcp(OwnedWriteHalf),
    Ws(SplitSink<Ws, Message>),
}

impl Reader {
    /// The next envelope's bytes.
    pub async fn next(&mut self, max_frame: usize) -> Result<Bytes, ReadError> {
        match self {
            Reader::Tcp { half, buffer } => loop {
                if let Some(payload) = frame::split(buffer, max_frame).map_err(ReadError::Frame)? {
                    return Ok(payload);
                }
                if buffer.capacity() - buffer.len() < 512 {
                    buffer.reserve(4096);
                }
                match half.read_buf(buffer).await {
                    Ok(0) => return Err(ReadError::Closed),
                    Ok(_) => {}
                    Err(error) => return Err(ReadError::Io(error)),
                }
            },
            Reader::Ws(stream) => loop {
                match stream.next().await {
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

/// Accept clients until shutdown, each served by its own session task.
pub async fn accept(shared: Arc<Shared>, listener: TcpListener, kind: Listener, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                tune(&shared, &stream);
                match kind {
                    Listener::Tcp => {
                        let (read, write) = stream.into_split();
                        let reader = Reader::Tcp { half: read, buffer: BytesMut::new() };
                        tasks.spawn(crate::session::run(shared.clone(), reader, Writer::Tcp(write), peer));
                    }
                    Listener::WebSocket => {
                        tasks.spawn(serve_websocket(shared.clone(), stream, peer));
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

/// The WebSocket handshake (at most 10 s, frame and message sizes capped), then the session.
async fn serve_websocket(shared: Arc<Shared>, stream: TcpStream, peer: std::net::SocketAddr) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.config.max_frame_bytes))
        .max_frame_size(Some(shared.config.max_frame_bytes));
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(config));
    match tokio::time::timeout(Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => {
            let (sink, stream) = ws.split();
            crate::session::run(shared, Reader::Ws(stream), Writer::Ws(sink), peer).await;
        }
        Ok(Err(error)) => tracing::debug!(%peer, %error, "websocket handshake failed"),
        Err(_) => tracing::debug!(%peer, "websocket handshake timed out"),
    }
}
