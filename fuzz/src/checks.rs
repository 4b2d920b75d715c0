//! What every fuzz target checks, one function per target.
//!
//! The fuzz targets (`fuzz/fuzz_targets/*.rs`) are one-line wrappers around these functions, and
//! `crates/proto/tests/fuzz_regressions.rs` includes this very file to replay the committed seeds and crashers
//! on stable Rust: a crasher kept under `fuzz/regressions/<target>/` runs through exactly the code the fuzzer
//! ran. So this file depends on nothing but `orrery-proto` and its own dependencies (`prost`, `bytes`).
//!
//! Every function takes arbitrary bytes, must never panic on its own, and panics (an assertion) when the code
//! under test breaks a rule.

use std::fmt::Debug;

use bytes::BytesMut;
use orrery_proto::frame::{self, DEFAULT_MAX_FRAME, FrameError, HEADER_LEN};
use orrery_proto::v1;
use prost::Message;

/// The fuzz targets, by name (the names of `fuzz/fuzz_targets/*.rs` and of the directories under
/// `fuzz/corpus/` and `fuzz/regressions/`).
pub const TARGETS: [&str; 4] = ["frame_split", "client_envelope", "server_envelope", "bus_messages"];

/// Run the check of the target called `name` on `data`; `false` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "frame_split" => frame_split(data),
        "client_envelope" => client_envelope(data),
        "server_envelope" => server_envelope(data),
        "bus_messages" => bus_messages(data),
        _ => return false,
    }
    true
}

/// Frame limits `frame_split` picks from for selector bytes 200 and above (below 200, the limit is the byte
/// itself, so that tiny limits and the `TooLarge` path are hit often). The real limits are configured: 256 B
/// to 16 MiB for a server (`net.max_frame_bytes`), 16 MiB for the bots' client.
const LARGE_LIMITS: [usize; 5] = [256, 4096, DEFAULT_MAX_FRAME, 1 << 20, 16 << 20];

/// Capacity `frame_split` allows the read buffer beyond 4 × the bytes fed (see the check there).
const ANNOUNCED_SLACK: usize = 128 * 1024;

/// `frame_split` input layout: byte 0 picks the frame limit, byte 1 seeds the read sizes, the rest is the
/// byte stream a peer sends. Missing header bytes count as 0.
pub const FRAME_SPLIT_HEADER: usize = 2;

/// TCP framing (`frame::split`) over a stream that arrives in reads of arbitrary sizes, as a proxy reads a
/// client's socket and a client reads the proxy's.
///
/// Checked against a reference reading of the whole stream: every payload is the next frame's bytes in order
/// and at most the limit long; `Ok(None)` only when the buffer holds less than one frame, and then it keeps
/// exactly the bytes not consumed yet; `TooLarge` exactly when the next length exceeds the limit; consumed +
/// buffered = fed at every step; the buffer's capacity follows the bytes fed, not the lengths announced. Every
/// payload then goes through the `client_envelope` checks, as a proxy decodes it.
pub fn frame_split(data: &[u8]) {
    let selector = data.first().copied().unwrap_or(0);
    let seed = data.get(1).copied().unwrap_or(0);
    let stream = data.get(FRAME_SPLIT_HEADER..).unwrap_or(&[]);
    let max = match selector {
        small @ 0..200 => usize::from(small),
        large => LARGE_LIMITS[usize::from(large - 200) % LARGE_LIMITS.len()],
    };
    let mut reads = ReadSizes::new(seed);

    let mut buffer = BytesMut::new();
    let (mut fed, mut consumed, mut frames) = (0usize, 0usize, 0usize);
    loop {
        let read = reads.next().min(stream.len() - fed);
        buffer.extend_from_slice(&stream[fed..fed + read]);
        fed += read;
        loop {
            let result = frame::split(&mut buffer, max);
            let waiting = matches!(result, Ok(None));
            let pending = &stream[consumed..fed];
            let next_len = pending.get(..HEADER_LEN).map(|h| u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize);
            match result {
                Ok(Some(payload)) => {
                    let len = next_len.expect("split returned a frame from fewer than 4 buffered bytes");
                    assert!(len <= max, "split returned a frame of {len} bytes over the limit {max}");
                    assert_eq!(payload.len(), len, "payload length differs from the frame's length prefix");
                    assert!(pending.len() >= HEADER_LEN + len, "split returned a frame before all of it arrived");
                    assert_eq!(
                        &payload[..],
                        &pending[HEADER_LEN..HEADER_LEN + len],
                        "payload is not the frame's bytes"
                    );
                    consumed += HEADER_LEN + len;
                    frames += 1;
                    client_envelope(&payload);
                }
                Ok(None) => {
                    if let Some(len) = next_len {
                        assert!(len <= max, "split waits for a frame of {len} bytes over the limit {max}");
                        assert!(pending.len() < HEADER_LEN + len, "split waits although a whole frame is buffered");
                    }
                }
                Err(FrameError::TooLarge { len, max: reported }) => {
                    assert_eq!(Some(len), next_len, "TooLarge reports a length that is not the next prefix");
                    assert_eq!(reported, max, "TooLarge reports another limit");
                    assert!(len > max, "TooLarge for a frame of {len} bytes within the limit {max}");
                    return; // the stream is unusable: the caller closes it
                }
                Err(other) => panic!("split failed with something other than TooLarge: {other}"),
            }
            assert_eq!(buffer.len(), fed - consumed, "buffered bytes != fed - consumed");
            // split must not allocate for bytes a peer only announced: a header claiming 16 MiB, then silence,
            // would hold 16 MiB per connection. The buffer grows with what arrives (doubling, and `BytesMut`
            // may come back to its first allocation's size, at most 64 KiB), so its capacity stays within a
            // few times the bytes fed; a reservation of a 1 MiB or 16 MiB announced frame does not.
            assert!(
                buffer.capacity() <= 4 * fed + ANNOUNCED_SLACK,
                "split reserved {} bytes with {fed} bytes fed (limit {max}): memory for bytes not sent yet",
                buffer.capacity()
            );
            // The buffer's head after every call (a misplaced split shows there), all of it at the end below:
            // comparing everything at every call would make byte-by-byte reads quadratic.
            let head = buffer.len().min(2 * HEADER_LEN);
            assert_eq!(
                &buffer[..head],
                &stream[consumed..consumed + head],
                "buffer does not hold the unconsumed bytes"
            );
            if waiting {
                break;
            }
        }
        if fed == stream.len() {
            break;
        }
    }
    // Everything arrived and split asked for more: what is left is less than one frame.
    assert!(frames <= stream.len() / HEADER_LEN);
    let rest = &stream[consumed..];
    assert_eq!(&buffer[..], rest, "buffer does not hold the unconsumed bytes");
    if rest.len() >= HEADER_LEN {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        assert!(rest.len() < HEADER_LEN + len, "a whole frame was left in the buffer");
    }
}

/// The sizes of successive reads: a small deterministic generator seeded by one byte, whose top bits pick
/// the typical size (single bytes, a few bytes, a few hundred, everything at once) and which also yields
/// empty reads (a `split` call with nothing new).
struct ReadSizes {
    state: u32,
    span: usize,
}

impl ReadSizes {
    fn new(seed: u8) -> ReadSizes {
        let span = [1, 7, 300, usize::MAX][usize::from(seed >> 6)];
        ReadSizes { state: 0x9e37_79b9 ^ u32::from(seed), span }
    }

    fn next(&mut self) -> usize {
        // xorshift32
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        if self.span == usize::MAX {
            return usize::MAX;
        }
        (self.state as usize) % (self.span + 1)
    }
}

/// A client's envelope as a proxy decodes it (`frame::decode`, the TCP payload or the WebSocket message).
/// Whatever decodes re-encodes to bytes that decode to the same envelope, with `command_name` consistent.
pub fn client_envelope(data: &[u8]) {
    let Ok(envelope) = frame::decode::<v1::ClientEnvelope>(data) else { return };
    let name = orrery_proto::command_name(&envelope);
    assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "command name {name:?}");
    assert_eq!(name == "empty", envelope.body.is_none(), "command name {name:?} for {envelope:?}");
    canonical_round_trip(&envelope);
}

/// A server's envelope as a client (`orrery-client`, or any client) decodes it; the same round trip.
pub fn server_envelope(data: &[u8]) {
    let Ok(envelope) = frame::decode::<v1::ServerEnvelope>(data) else { return };
    canonical_round_trip(&envelope);
}

/// The bus payloads, each decoded from the same bytes as a sol node (`SystemInbox`, `NodeInbox`,
/// `ClusterEvent`) or a proxy (`ProxyInbox`, `ClusterEvent`) does; whatever decodes round-trips. The
/// envelopes a `ProxyInbox` carries as bytes (passed on to the client as they are) go through the
/// `server_envelope` checks.
pub fn bus_messages(data: &[u8]) {
    if let Ok(message) = frame::decode::<v1::SystemInbox>(data) {
        round_trip(&message);
    }
    if let Ok(message) = frame::decode::<v1::NodeInbox>(data) {
        round_trip(&message);
    }
    if let Ok(message) = frame::decode::<v1::ClusterEvent>(data) {
        round_trip(&message);
    }
    if let Ok(message) = frame::decode::<v1::CoordinatorInbox>(data) {
        round_trip(&message);
    }
    if let Ok(message) = frame::decode::<v1::ProxyInbox>(data) {
        round_trip(&message);
        use v1::proxy_inbox::Body;
        match &message.body {
            Some(Body::Forward(bytes) | Body::Left(bytes)) => server_envelope(bytes),
            Some(Body::Entered(entered)) => server_envelope(&entered.snapshot),
            // Two numbers: the round trip above is the whole check.
            Some(Body::Lost(_)) | None => {}
        }
    }
}

/// Encode, check the length and both framings, decode again and compare. Messages holding a NaN (the bus's
/// `double`s) are not equal to themselves; they are compared by re-encoding instead of by value.
fn round_trip<M: Message + Default + PartialEq + Debug>(message: &M) -> Vec<u8> {
    let encoded = message.encode_to_vec();
    assert_eq!(encoded.len(), message.encoded_len(), "encoded_len disagrees with encode for {message:?}");

    let framed = frame::encode(message);
    assert_eq!(&framed[..HEADER_LEN], &(encoded.len() as u32).to_be_bytes(), "frame::encode's length prefix");
    assert_eq!(&framed[HEADER_LEN..], &encoded[..], "frame::encode's payload");
    assert_eq!(frame::prefix(&encoded), framed, "frame::prefix differs from frame::encode");
    // Framed and split again, with the limit exactly at the length (the limit is inclusive).
    let mut stream = BytesMut::from(&framed[..]);
    let payload = frame::split(&mut stream, encoded.len()).expect("a frame at the limit is accepted");
    assert_eq!(payload.as_deref(), Some(&encoded[..]), "split of an encoded frame");
    assert!(stream.is_empty(), "split left bytes behind");

    let again: M = frame::decode(&encoded).unwrap_or_else(|e| panic!("re-encoded {message:?} does not decode: {e}"));
    #[allow(clippy::eq_op)]
    let comparable = message == message;
    if comparable {
        assert_eq!(&again, message, "decode(encode(m)) != m");
    } else {
        assert_eq!(again.encoded_len(), encoded.len(), "decode(encode(m)) encodes to another length");
    }
    encoded
}

/// [`round_trip`], and the encoding is canonical: encoding what was decoded from an encoding gives the same
/// bytes (the envelopes have no maps, whose order could differ).
fn canonical_round_trip<M: Message + Default + PartialEq + Debug>(message: &M) {
    let encoded = round_trip(message);
    let again: M = frame::decode(&encoded).expect("checked by round_trip");
    assert_eq!(again.encode_to_vec(), encoded, "encode(decode(encode(m))) != encode(m)");
}
