//! TCP framing: a 4-byte big-endian length, then that many bytes of one protobuf envelope.
//!
//! WebSocket carries one envelope per binary message and needs no length; [`encode`] produces the TCP form
//! and the WebSocket payload is the same buffer without its first [`HEADER_LEN`] bytes, so one encoding
//! serves both transports.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Default largest envelope a server accepts from a client (bytes, without the prefix).
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix announces more than the reader accepts; refused before anything is buffered, so a
    /// client cannot make the server allocate what it likes.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The length the prefix announced.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The frame was whole but its bytes are not a protobuf envelope; the text is prost's explanation.
    #[error("frame is not a valid envelope: {0}")]
    Decode(String),
}

/// Encode a message with its length prefix, ready to write to a TCP stream.
pub fn encode<M: Message>(message: &M) -> Bytes {
    let len = message.encoded_len();
    let mut buffer = BytesMut::with_capacity(HEADER_LEN + len);
    buffer.put_u32(len as u32);
    // Cannot fail: the buffer has exactly the capacity the message needs.
    let _ = message.encode(&mut buffer);
    buffer.freeze()
}

/// Prefix an already encoded envelope with its length.
pub fn prefix(payload: &[u8]) -> Bytes {
    let mut buffer = BytesMut::with_capacity(HEADER_LEN + payload.len());
    buffer.put_u32(payload.len() as u32);
    buffer.put_slice(payload);
    buffer.freeze()
}

/// Take one complete frame's payload from the front of `buffer`, if it holds one. `Ok(None)` means "read
/// more"; an error means the stream is unusable (the caller closes it).
pub fn split(buffer: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if buffer.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if buffer.len() < HEADER_LEN + len {
        // No reservation for the announced size: a client announcing a large frame and sending nothing more
        // would otherwise hold that much memory. The caller's reads grow the buffer as bytes really arrive.
        return Ok(None);
    }
    let mut frame = buffer.split_to(HEADER_LEN + len);
    Ok(Some(frame.split_off(HEADER_LEN).freeze()))
}

/// Decode one envelope's payload.
pub fn decode<M: Message + Default>(payload: &[u8]) -> Result<M, FrameError> {
    M::decode(payload).map_err(|error| FrameError::Decode(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1;

    #[test]
    fn encode_then_split_round_trips() {
        let message = v1::ClientEnvelope {
            request_id: 3,
            body: Some(v1::client_envelope::Body::Chat(v1::Chat { text: "o7".into() })),
        };
        let mut stream = BytesMut::new();
        stream.extend_from_slice(&encode(&message));
        stream.extend_from_slice(&encode(&message));
        for _ in 0..2 {
            let payload = split(&mut stream, DEFAULT_MAX_FRAME).unwrap().unwrap();
            assert_eq!(decode::<v1::ClientEnvelope>(&payload).unwrap(), message);
        }
        assert!(stream.is_empty());
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let framed = encode(&v1::Ping { nonce: 99 });
        let mut stream = BytesMut::new();
        for byte in &framed {
            assert_eq!(split(&mut stream, DEFAULT_MAX_FRAME).unwrap(), None);
            stream.extend_from_slice(&[*byte]);
        }
        assert!(split(&mut stream, DEFAULT_MAX_FRAME).unwrap().is_some());
    }

    #[test]
    fn oversized_frames_are_refused_before_buffering() {
        let mut stream = BytesMut::from(&[0u8, 1, 0, 1][..]);
        assert_eq!(split(&mut stream, 1000), Err(FrameError::TooLarge { len: 65537, max: 1000 }));
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        assert!(matches!(decode::<v1::ClientEnvelope>(&[0xff, 0xff, 0xff]), Err(FrameError::Decode(_))));
    }
}
