//! What can go wrong talking to an orrery server, as typed errors a caller can match on (a test asserting that a
//! second `Register` is refused matches `ClientError::Server { code: ErrorCode::NameTaken, .. }`).

use std::time::Duration;

use orrery_proto::frame::FrameError;
use orrery_proto::v1::ErrorCode;

/// An error of the client library: the transport failed, the peer closed, a wait timed out, a frame was bad,
/// or the server answered a request with an `Error` envelope.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket failed (connection refused or reset, broken pipe, end of stream in the middle of a frame).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection cleanly (end of stream between frames, or a WebSocket close), or the
    /// client was already unusable after an earlier failure.
    #[error("the connection is closed")]
    Closed,
    /// No answer (or no write progress) within the allotted time.
    #[error("no answer within {after:?}")]
    Timeout {
        /// How long the client waited.
        after: Duration,
    },
    /// The server sent bytes that are not a valid envelope, or an envelope larger than the client's limit.
    #[error("bad frame from the server: {0}")]
    Frame(#[from] FrameError),
    /// The WebSocket layer failed (handshake refused, bad URL, protocol violation).
    #[error("WebSocket error: {0}")]
    WebSocket(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// The server answered the request with an `Error` envelope.
    #[error("server error {code:?}: {reason}")]
    Server {
        /// The error code (`Unspecified` if the server sent a code this client does not know).
        code: ErrorCode,
        /// The server's human-readable reason.
        reason: String,
    },
    /// The server answered with a well-formed envelope of the wrong kind (a protocol mismatch).
    #[error("unexpected answer: expected {expected}, got {got}")]
    UnexpectedReply {
        /// What the request should have produced.
        expected: &'static str,
        /// What arrived instead (the body's name).
        got: &'static str,
    },
}

impl ClientError {
    /// The server error code, if this is an error answer from the server.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the connection is gone (so a caller should reconnect rather than retry on the same client).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, ClientError::Io(_) | ClientError::Closed | ClientError::Frame(_) | ClientError::WebSocket(_))
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for ClientError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error as W;
        match error {
            W::ConnectionClosed | W::AlreadyClosed => ClientError::Closed,
            W::Io(io) => ClientError::Io(io),
            other => ClientError::WebSocket(Box::new(other)),
        }
    }
}
