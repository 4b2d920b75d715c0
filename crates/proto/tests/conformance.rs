//! The server side of the golden protocol cases (`proto/conformance/cases.json`): the generated types and the
//! framing the proxy uses encode every case's message to exactly its bytes and decode the bytes back, refuse
//! the invalid payloads, and split the TCP streams as the cases say. Each message is also built from its JSON by
//! the descriptors alone (prost-reflect), so the bytes are checked against a second, independent encoder.

use bytes::BytesMut;
use orrery_proto::conformance::{self, Envelope, Step, hex_bytes, to_hex};
use orrery_proto::frame::{self, FrameError};
use orrery_proto::v1;
use prost::Message;

fn cases() -> conformance::Cases {
    conformance::cases().expect("proto/conformance/cases.json reads")
}

/// Decodes `payload` as the named envelope and encodes it again.
fn round_trip(envelope: Envelope, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    match envelope {
        Envelope::ClientEnvelope => frame::decode::<v1::ClientEnvelope>(payload).map(|m| m.encode_to_vec()),
        Envelope::ServerEnvelope => frame::decode::<v1::ServerEnvelope>(payload).map(|m| m.encode_to_vec()),
    }
}

/// The generated type's encoding of the case's JSON.
fn typed_bytes(envelope: Envelope, json: &serde_json::Value) -> Vec<u8> {
    match envelope {
        Envelope::ClientEnvelope => {
            conformance::from_json::<v1::ClientEnvelope>(envelope, json).expect("JSON fits").encode_to_vec()
        }
        Envelope::ServerEnvelope => {
            conformance::from_json::<v1::ServerEnvelope>(envelope, json).expect("JSON fits").encode_to_vec()
        }
    }
}

#[test]
fn the_documented_example_is_among_the_cases() {
    let cases = cases();
    let documented: Vec<_> = cases.encoding.iter().filter(|case| case.tcp.is_some()).collect();
    let docs = include_str!("../../../docs/protocol.md");
    assert_eq!(documented.len(), 2, "the Ping and Pong of docs/protocol.md");
    for case in documented {
        // docs/protocol.md spells the WebSocket payloads out in one line each.
        assert!(docs.contains(&format!("`{}`", case.payload)), "docs/protocol.md shows {}", case.payload);
    }
}

#[test]
fn every_message_encodes_to_its_bytes_and_decodes_back() {
    let cases = cases();
    assert!(cases.encoding.len() >= 20, "every command and every answer");
    for case in &cases.encoding {
        let payload = hex_bytes(&case.payload).expect("hex");
        let by_descriptors = conformance::json_to_bytes(case.message, &case.json).expect("JSON fits");
        assert_eq!(to_hex(&by_descriptors), case.payload, "{}: the descriptors' encoding", case.name);
        assert_eq!(to_hex(&typed_bytes(case.message, &case.json)), case.payload, "{}: prost's encoding", case.name);
        assert_eq!(round_trip(case.message, &payload).map(|b| to_hex(&b)), Ok(case.payload.clone()), "{}", case.name);
        let framed = frame::prefix(&payload);
        assert_eq!(&framed[..frame::HEADER_LEN], (payload.len() as u32).to_be_bytes(), "{}", case.name);
        if let Some(tcp) = &case.tcp {
            assert_eq!(to_hex(&framed), *tcp, "{}: the documented TCP frame", case.name);
        }
    }
}

#[test]
fn every_command_and_answer_kind_has_a_case() {
    let cases = cases();
    let mut commands: Vec<&str> = Vec::new();
    let mut answers: Vec<&str> = Vec::new();
    for case in &cases.encoding {
        let payload = hex_bytes(&case.payload).expect("hex");
        match case.message {
            Envelope::ClientEnvelope => {
                let envelope = frame::decode::<v1::ClientEnvelope>(&payload).expect("decodes");
                commands.push(orrery_proto::command_name(&envelope));
            }
            Envelope::ServerEnvelope => {
                let envelope = frame::decode::<v1::ServerEnvelope>(&payload).expect("decodes");
                answers.push(match envelope.body {
                    Some(v1::server_envelope::Body::Error(_)) => "error",
                    Some(v1::server_envelope::Body::LoggedIn(_)) => "logged_in",
                    Some(v1::server_envelope::Body::CharacterCreated(_)) => "character_created",
                    Some(v1::server_envelope::Body::Snapshot(_)) => "snapshot",
                    Some(v1::server_envelope::Body::Delta(_)) => "delta",
                    Some(v1::server_envelope::Body::Pong(_)) => "pong",
                    Some(v1::server_envelope::Body::Ok(_)) => "ok",
                    Some(v1::server_envelope::Body::Notice(_)) => "notice",
                    Some(v1::server_envelope::Body::Queued(_)) => "queued",
                    Some(v1::server_envelope::Body::Respawned(_)) => "respawned",
                    Some(
                        v1::server_envelope::Body::OrderPlaced(_)
                        | v1::server_envelope::Body::MarketDepth(_)
                        | v1::server_envelope::Body::MyOrders(_)
                        | v1::server_envelope::Body::Wallet(_)
                        | v1::server_envelope::Body::Transactions(_)
                        | v1::server_envelope::Body::MarketHistory(_),
                    ) => "market",
                    None => "empty",
                });
            }
        }
    }
    for command in [
        "register",
        "login",
        "resume",
        "create_character",
        "undock",
        "approach",
        "stop",
        "warp_to",
        "jump",
        "chat",
        "logout",
        "ping",
    ] {
        assert!(commands.contains(&command), "no case for {command}");
    }
    for answer in
        ["error", "logged_in", "character_created", "snapshot", "delta", "pong", "ok", "notice", "queued", "respawned"]
    {
        assert!(answers.contains(&answer), "no case for {answer}");
    }
}

#[test]
fn non_canonical_bytes_decode_to_their_message() {
    for case in &cases().decoding {
        let payload = hex_bytes(&case.payload).expect("hex");
        let decoded = round_trip(case.message, &payload).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(decoded, typed_bytes(case.message, &case.json), "{}", case.name);
    }
}

#[test]
fn invalid_payloads_are_refused() {
    let cases = cases();
    assert!(!cases.invalid.is_empty());
    for case in &cases.invalid {
        let payload = hex_bytes(&case.payload).expect("hex");
        assert!(
            matches!(round_trip(case.message, &payload), Err(FrameError::Decode(_))),
            "{}: must be refused",
            case.name
        );
    }
}

#[test]
fn tcp_streams_split_into_the_frames_the_cases_name() {
    for case in &cases().framing {
        let mut stream = BytesMut::from(&hex_bytes(&case.stream).expect("hex")[..]);
        let mut frames = Vec::new();
        let refused = loop {
            match frame::split(&mut stream, case.max) {
                Ok(Some(payload)) => frames.push(to_hex(&payload)),
                Ok(None) => break false,
                Err(FrameError::TooLarge { .. }) => break true,
                Err(other) => panic!("{}: {other}", case.name),
            }
        };
        assert_eq!(frames, case.frames, "{}", case.name);
        assert_eq!(stream.len(), case.rest, "{}", case.name);
        assert_eq!(refused, case.refused, "{}", case.name);
    }
}

#[test]
fn every_envelope_of_the_flows_is_well_formed() {
    for flow in &cases().flows {
        for step in &flow.steps {
            let (envelope, json) = match step {
                Step::Send(json) => (Envelope::ClientEnvelope, json),
                Step::Receive(json) => (Envelope::ServerEnvelope, json),
            };
            let bytes = conformance::json_to_bytes(envelope, json).expect("JSON fits");
            assert_eq!(typed_bytes(envelope, json), bytes, "{}: {json}", flow.name);
            assert_eq!(round_trip(envelope, &bytes), Ok(bytes.clone()), "{}: {json}", flow.name);
        }
    }
}
