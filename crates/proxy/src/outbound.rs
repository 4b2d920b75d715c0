//! A session's outbound queue: bounded, never blocking the sender. When it is full the client has stopped
//! reading, and the session is dropped rather than letting its backlog grow without bound.

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

/// The sending side, cloned into the rooms the session is in. Every frame is TCP-framed (length prefix);
/// the WebSocket writer strips the prefix.
#[derive(Clone)]
pub struct Outbound {
    sender: mpsc::Sender<Bytes>,
    /// Cancelled when the queue overflowed: the session task sees it and closes the connection.
    pub overflow: CancellationToken,
}

impl Outbound {
    pub fn new(capacity: usize) -> (Outbound, mpsc::Receiver<Bytes>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (Outbound { sender, overflow: CancellationToken::new() }, receiver)
    }

    /// Queue a frame. False if the session is gone or was just found too slow.
    pub fn push(&self, frame: Bytes) -> bool {
        match self.sender.try_send(frame) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.overflow.cancel();
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}
