//! A zero-copy scan of orrery's `ServerEnvelope` wire format that finds the chat texts without decoding the
//! envelope.
//!
//! Why: at 2,000 clients the generator receives millions of chat lines per second, and a full prost decode
//! allocates a `SystemDelta`, a `ChatLine` and three `String`s per line (plus UTF-8 validation); profiled, that
//! was over half of the generator's core. The scan walks the protobuf fields in place and hands each
//! `ChatLine.text` to the caller as a slice of the received buffer, allocating nothing.
//!
//! Field numbers (`proto/orrery/v1/game.proto`): `ServerEnvelope.error = 10`, `.snapshot = 13`, `.delta = 14`;
//! `SystemSnapshot.chat = 11`; `SystemDelta.chat = 8`; `ChatLine.text = 3`. Every other field, known or not,
//! is skipped by its wire type, as a protobuf decoder would. Like prost, the last `text` of a `ChatLine` wins.
//! Unlike prost, strings are not checked for UTF-8 (the generator parses digits out of them anyway) and two
//! different body variants in one envelope (which prost resolves to the last) both report their lines.

/// `ServerEnvelope` fields.
const ENVELOPE_ERROR: u32 = 10;
const ENVELOPE_SNAPSHOT: u32 = 13;
const ENVELOPE_DELTA: u32 = 14;
/// `SystemSnapshot.chat`.
const SNAPSHOT_CHAT: u32 = 11;
/// `SystemDelta.chat`.
const DELTA_CHAT: u32 = 8;
/// `ChatLine.text`.
const CHAT_LINE_TEXT: u32 = 3;

const WIRE_VARINT: u32 = 0;
const WIRE_FIXED64: u32 = 1;
const WIRE_LEN: u32 = 2;
const WIRE_FIXED32: u32 = 5;

/// What an envelope held, as far as the race cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// A `SystemDelta` or `SystemSnapshot`, with this many chat lines (each handed to the callback).
    Chat(usize),
    /// An `Error` body.
    Error,
    /// Any other body, or none.
    Other,
}

/// Why a payload is not a well-formed protobuf message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Reads a base-128 varint at `*at`, advancing it.
#[inline]
fn varint(buf: &[u8], at: &mut usize) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*at).ok_or(Malformed)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(Malformed)
}

/// One field of a message: its number, wire type and, for length-delimited fields, the payload.
struct Field<'a> {
    number: u32,
    payload: Option<&'a [u8]>,
}

/// Reads the field at `*at` (tag and value), advancing past it.
#[inline]
fn field<'a>(buf: &'a [u8], at: &mut usize) -> Result<Field<'a>, Malformed> {
    let tag = varint(buf, at)?;
    let number = u32::try_from(tag >> 3).map_err(|_| Malformed)?;
    if number == 0 {
        return Err(Malformed);
    }
    let payload = match (tag & 7) as u32 {
        WIRE_VARINT => {
            varint(buf, at)?;
            None
        }
        WIRE_FIXED64 => {
            *at = at.checked_add(8).filter(|end| *end <= buf.len()).ok_or(Malformed)?;
            None
        }
        WIRE_FIXED32 => {
            *at = at.checked_add(4).filter(|end| *end <= buf.len()).ok_or(Malformed)?;
            None
        }
        WIRE_LEN => {
            let len = usize::try_from(varint(buf, at)?).map_err(|_| Malformed)?;
            let end = at.checked_add(len).filter(|end| *end <= buf.len()).ok_or(Malformed)?;
            let payload = &buf[*at..end];
            *at = end;
            Some(payload)
        }
        // Groups (3, 4) are not used by orrery's protocol; 6 and 7 do not exist.
        _ => return Err(Malformed),
    };
    Ok(Field { number, payload })
}

/// Calls `on_text` with the `text` of every `ChatLine` in field `chat_field` of `message`; returns how many.
fn chat_lines<'a>(message: &'a [u8], chat_field: u32, on_text: &mut impl FnMut(&'a [u8])) -> Result<usize, Malformed> {
    let mut at = 0;
    let mut lines = 0;
    while at < message.len() {
        let f = field(message, &mut at)?;
        if f.number != chat_field {
            continue;
        }
        let line = f.payload.ok_or(Malformed)?;
        let mut inner = 0;
        let mut text: &[u8] = &[];
        while inner < line.len() {
            let g = field(line, &mut inner)?;
            if g.number == CHAT_LINE_TEXT {
                text = g.payload.ok_or(Malformed)?;
            }
        }
        on_text(text);
        lines += 1;
    }
    Ok(lines)
}

/// Scans one `ServerEnvelope` payload (without the frame's length prefix) and calls `on_text` with the text of
/// every chat line of its `SystemDelta` or `SystemSnapshot`.
pub fn scan_envelope<'a>(payload: &'a [u8], mut on_text: impl FnMut(&'a [u8])) -> Result<Envelope, Malformed> {
    let mut at = 0;
    let mut kind = Envelope::Other;
    while at < payload.len() {
        let f = field(payload, &mut at)?;
        match f.number {
            ENVELOPE_DELTA | ENVELOPE_SNAPSHOT => {
                let body = f.payload.ok_or(Malformed)?;
                let chat_field = if f.number == ENVELOPE_DELTA { DELTA_CHAT } else { SNAPSHOT_CHAT };
                let lines = chat_lines(body, chat_field, &mut on_text)?;
                kind = match kind {
                    Envelope::Chat(before) => Envelope::Chat(before + lines),
                    _ => Envelope::Chat(lines),
                };
            }
            ENVELOPE_ERROR => {
                f.payload.ok_or(Malformed)?;
                kind = Envelope::Error;
            }
            _ => {}
        }
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orrery_proto::v1::{self, server_envelope::Body};
    use prost::Message;

    fn line(text: &str) -> v1::ChatLine {
        v1::ChatLine { character_id: 77_000_000_001, pilot: "pilot-with-a-name".into(), text: text.into() }
    }

    fn ship(id: u64) -> v1::ShipState {
        v1::ShipState { ship_id: id, ..Default::default() }
    }

    fn scan(bytes: &[u8]) -> (Result<Envelope, Malformed>, Vec<String>) {
        let mut texts = Vec::new();
        let result = scan_envelope(bytes, |t| texts.push(String::from_utf8_lossy(t).into_owned()));
        (result, texts)
    }

    /// What prost sees in the same bytes: the texts of the delta's or snapshot's chat lines.
    fn prost_texts(bytes: &[u8]) -> Vec<String> {
        match v1::ServerEnvelope::decode(bytes).expect("prost decodes it").body {
            Some(Body::Delta(d)) => d.chat.into_iter().map(|l| l.text).collect(),
            Some(Body::Snapshot(s)) => s.chat.into_iter().map(|l| l.text).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn finds_the_chat_of_a_delta_among_its_other_fields() {
        let delta = v1::SystemDelta {
            system_id: 30_000_013,
            tick: u64::MAX,
            sim_time_ms: 123_456_789,
            tidi_permille: 1000,
            moved: vec![ship(1), ship(2)],
            arrived: vec![ship(3)],
            departed: vec![4, 5, u64::MAX],
            chat: vec![line("1 2 3 4 xxxx"), line(""), line(&"é".repeat(300))],
            new_celestials: vec![v1::Celestial::default()],
            ..Default::default()
        };
        let bytes = v1::ServerEnvelope { request_id: 9, body: Some(Body::Delta(delta)) }.encode_to_vec();
        let (result, texts) = scan(&bytes);
        assert_eq!(result, Ok(Envelope::Chat(3)));
        assert_eq!(texts, prost_texts(&bytes));
    }

    #[test]
    fn finds_the_chat_of_a_snapshot() {
        let snapshot = v1::SystemSnapshot {
            system_id: 7,
            system_name: "Jita".into(),
            ships: vec![ship(9); 50],
            tick: 3,
            chat: vec![line("a"), line("b")],
            ..Default::default()
        };
        let bytes = v1::ServerEnvelope { request_id: 0, body: Some(Body::Snapshot(snapshot)) }.encode_to_vec();
        let (result, texts) = scan(&bytes);
        assert_eq!(result, Ok(Envelope::Chat(2)));
        assert_eq!(texts, prost_texts(&bytes));
        assert_eq!(texts, ["a", "b"]);
    }

    #[test]
    fn other_bodies_have_no_chat_and_errors_are_told_apart() {
        let pong = v1::ServerEnvelope { request_id: 1, body: Some(Body::Pong(v1::Pong { nonce: 5 })) };
        assert_eq!(scan(&pong.encode_to_vec()), (Ok(Envelope::Other), vec![]));
        let notice = v1::ServerEnvelope { request_id: 1, body: Some(Body::Notice(v1::Notice { text: "hi".into() })) };
        assert_eq!(scan(&notice.encode_to_vec()), (Ok(Envelope::Other), vec![]));
        let error =
            v1::ServerEnvelope { request_id: 1, body: Some(Body::Error(v1::Error { code: 5, reason: "no".into() })) };
        assert_eq!(scan(&error.encode_to_vec()), (Ok(Envelope::Error), vec![]));
        assert_eq!(scan(&[]), (Ok(Envelope::Other), vec![]));
        let empty_delta = v1::ServerEnvelope { request_id: 0, body: Some(Body::Delta(v1::SystemDelta::default())) };
        assert_eq!(scan(&empty_delta.encode_to_vec()), (Ok(Envelope::Chat(0)), vec![]));
    }

    /// Appends an unknown field of every wire type (numbers a future protocol could use).
    fn unknown_fields(out: &mut Vec<u8>) {
        use prost::encoding::{WireType, encode_key, encode_varint};
        encode_key(99, WireType::Varint, out);
        encode_varint(u64::MAX, out);
        encode_key(100, WireType::SixtyFourBit, out);
        out.extend_from_slice(&[0xff; 8]);
        encode_key(101, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&[0xff; 4]);
        encode_key(102, WireType::LengthDelimited, out);
        encode_varint(3, out);
        out.extend_from_slice(&[8, 3, 0x1a]); // looks like fields inside, must be skipped whole
    }

    #[test]
    fn unknown_fields_at_every_level_are_skipped_like_prost_does() {
        // A chat line, a delta and an envelope, each with unknown fields before and after the known ones.
        let mut chat = Vec::new();
        unknown_fields(&mut chat);
        line("1 2 3 4 unknown").encode(&mut chat).expect("vec grows");
        unknown_fields(&mut chat);
        let mut delta = Vec::new();
        unknown_fields(&mut delta);
        v1::SystemDelta { system_id: 1, chat: vec![line("first")], ..Default::default() }
            .encode(&mut delta)
            .expect("vec grows");
        prost::encoding::encode_key(8, prost::encoding::WireType::LengthDelimited, &mut delta);
        prost::encoding::encode_varint(chat.len() as u64, &mut delta);
        delta.extend_from_slice(&chat);
        unknown_fields(&mut delta);
        let mut envelope = Vec::new();
        unknown_fields(&mut envelope);
        prost::encoding::encode_key(1, prost::encoding::WireType::Varint, &mut envelope);
        prost::encoding::encode_varint(42, &mut envelope);
        prost::encoding::encode_key(14, prost::encoding::WireType::LengthDelimited, &mut envelope);
        prost::encoding::encode_varint(delta.len() as u64, &mut envelope);
        envelope.extend_from_slice(&delta);
        unknown_fields(&mut envelope);

        let (result, texts) = scan(&envelope);
        assert_eq!(result, Ok(Envelope::Chat(2)));
        assert_eq!(texts, prost_texts(&envelope));
        assert_eq!(texts, ["first", "1 2 3 4 unknown"]);
    }

    #[test]
    fn the_last_text_of_a_line_wins_as_in_prost() {
        let mut chat = Vec::new();
        line("old").encode(&mut chat).expect("vec grows");
        v1::ChatLine { text: "new".into(), ..Default::default() }.encode(&mut chat).expect("vec grows");
        let mut delta = Vec::new();
        prost::encoding::encode_key(8, prost::encoding::WireType::LengthDelimited, &mut delta);
        prost::encoding::encode_varint(chat.len() as u64, &mut delta);
        delta.extend_from_slice(&chat);
        let mut envelope = Vec::new();
        prost::encoding::encode_key(14, prost::encoding::WireType::LengthDelimited, &mut envelope);
        prost::encoding::encode_varint(delta.len() as u64, &mut envelope);
        envelope.extend_from_slice(&delta);
        let (result, texts) = scan(&envelope);
        assert_eq!(result, Ok(Envelope::Chat(1)));
        assert_eq!(texts, prost_texts(&envelope));
        assert_eq!(texts, ["new"]);
    }

    #[test]
    fn truncated_or_invalid_input_is_malformed_not_a_panic() {
        let delta = v1::SystemDelta { chat: vec![line("1 2 3 4 xxxxxxxxxx"); 3], ..Default::default() };
        let bytes = v1::ServerEnvelope { request_id: 300, body: Some(Body::Delta(delta)) }.encode_to_vec();
        for cut in 1..bytes.len() {
            // Every strict prefix is an error for prost; the scan must not panic and must not report success
            // with more lines than the message holds.
            if let Ok(Envelope::Chat(n)) = scan(&bytes[..cut]).0 {
                assert!(n <= 3);
            }
        }
        assert_eq!(scan(&[0xff; 11]).0, Err(Malformed)); // varint longer than 10 bytes
        assert_eq!(scan(&[0x0b]).0, Err(Malformed)); // field 1, group start
        assert_eq!(scan(&[0x00, 0x00]).0, Err(Malformed)); // field number 0
        assert_eq!(scan(&[0x72, 0x05, 0x01]).0, Err(Malformed)); // length past the end
        assert_eq!(scan(&[0x72, 0x01, 0x40]).0, Err(Malformed)); // delta holding chat as a varint
    }

    #[test]
    fn agrees_with_prost_on_random_deltas() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..300 {
            let lines: Vec<v1::ChatLine> = (0..rng.random_range(0..40))
                .map(|_| {
                    let len = rng.random_range(0..300);
                    v1::ChatLine {
                        character_id: rng.random(),
                        pilot: "p".repeat(rng.random_range(0..40)),
                        text: (0..len).map(|_| char::from(rng.random_range(b' '..=b'~'))).collect(),
                    }
                })
                .collect();
            let delta = v1::SystemDelta {
                system_id: rng.random(),
                tick: rng.random(),
                moved: vec![ship(rng.random()); rng.random_range(0..5)],
                departed: vec![rng.random(); rng.random_range(0..5)],
                chat: lines,
                ..Default::default()
            };
            let body = if rng.random_bool(0.1) {
                Body::Snapshot(v1::SystemSnapshot { chat: delta.chat.clone(), ..Default::default() })
            } else {
                Body::Delta(delta)
            };
            let bytes = v1::ServerEnvelope { request_id: rng.random(), body: Some(body) }.encode_to_vec();
            let (result, texts) = scan(&bytes);
            let expected = prost_texts(&bytes);
            assert_eq!(result, Ok(Envelope::Chat(expected.len())));
            assert_eq!(texts, expected);
        }
    }
}
