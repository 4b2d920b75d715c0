//! The golden protocol cases of `proto/conformance/cases.json`, for the conformance tests of every party that
//! speaks orrery.v1: this crate (the server's encoder and decoder), `orrery-client`, and any other client.
//!
//! The file holds, in a form any language can read (JSON, proto3's canonical JSON mapping for messages, hex for
//! bytes):
//!
//! - **encoding**: a message and its exact bytes (the protobuf payload, i.e. the WebSocket message; the TCP frame
//!   is the 4-byte big-endian length and the payload). Encoders must produce these bytes and decoders must read
//!   the message back from them. The first cases are the byte-level example of docs/protocol.md.
//! - **decoding**: bytes that are not in canonical form but decode to a message (unknown fields to skip).
//! - **invalid**: payloads every decoder must refuse (the server answers them `BAD_FRAME` and closes).
//! - **framing**: TCP byte streams and the frames a reader takes from them (or the refusal).
//! - **flows**: ordered exchanges — commands sent, envelopes received — with what a conforming client concludes:
//!   each answer goes to the command with its request id whatever the order of arrival, everything else becomes
//!   an event in arrival order, and a mirror of the system skips stale and foreign deltas.
//!
//! Enabled by the `conformance` feature.

use prost_reflect::{DescriptorPool, DynamicMessage};
use serde::Deserialize;

/// The cases file, as committed.
pub const CASES_JSON: &str = include_str!("../../../proto/conformance/cases.json");

/// The descriptors of `orrery.v1`, as compiled by the build script.
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/orrery.v1.descriptors.bin"));

/// Why a case could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The cases file is not the JSON this module expects.
    #[error("cases.json: {0}")]
    File(String),
    /// A hex string is not pairs of hex digits (spaces allowed between bytes).
    #[error("bad hex {text:?}: {reason}")]
    Hex {
        /// The text.
        text: String,
        /// What was wrong.
        reason: String,
    },
    /// A message's JSON does not fit its type.
    #[error("{message} JSON {json}: {reason}")]
    Json {
        /// The message type, e.g. `ClientEnvelope`.
        message: String,
        /// The JSON.
        json: String,
        /// What was wrong.
        reason: String,
    },
}

/// Which envelope a case is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Envelope {
    /// From a client to the server.
    ClientEnvelope,
    /// From the server to a client.
    ServerEnvelope,
}

impl Envelope {
    /// The full protobuf name.
    pub fn full_name(self) -> &'static str {
        match self {
            Envelope::ClientEnvelope => "orrery.v1.ClientEnvelope",
            Envelope::ServerEnvelope => "orrery.v1.ServerEnvelope",
        }
    }
}

/// A message and its exact bytes.
#[derive(Debug, Clone, Deserialize)]
pub struct EncodingCase {
    /// What the case shows.
    pub name: String,
    /// Which envelope.
    pub message: Envelope,
    /// The message in proto3 JSON.
    pub json: serde_json::Value,
    /// The payload in hex.
    pub payload: String,
    /// The TCP frame in hex, where the docs spell it out (else: the length prefix and the payload).
    #[serde(default)]
    pub tcp: Option<String>,
}

/// Bytes that decode to a message without being its canonical encoding.
#[derive(Debug, Clone, Deserialize)]
pub struct DecodingCase {
    /// What the case shows.
    pub name: String,
    /// Which envelope.
    pub message: Envelope,
    /// The payload in hex.
    pub payload: String,
    /// The message they decode to, in proto3 JSON.
    pub json: serde_json::Value,
}

/// A payload every decoder must refuse.
#[derive(Debug, Clone, Deserialize)]
pub struct InvalidCase {
    /// What is wrong with it.
    pub name: String,
    /// Which envelope it claims to be.
    pub message: Envelope,
    /// The payload in hex.
    pub payload: String,
}

/// A TCP byte stream and what a reader with a frame limit takes from it.
#[derive(Debug, Clone, Deserialize)]
pub struct FramingCase {
    /// What the case shows.
    pub name: String,
    /// The bytes received, in hex.
    pub stream: String,
    /// The reader's largest accepted payload, in bytes.
    pub max: usize,
    /// The payloads taken, in hex, in order.
    pub frames: Vec<String>,
    /// How many bytes are left waiting for more (a partial frame).
    pub rest: usize,
    /// Whether the reader then refuses the stream (a length above `max`).
    #[serde(default)]
    pub refused: bool,
}

/// One step of a flow.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// The client sends this `ClientEnvelope` (proto3 JSON).
    Send(serde_json::Value),
    /// The server sends this `ServerEnvelope` (proto3 JSON).
    Receive(serde_json::Value),
}

/// What a client's mirror of the system shows at the end of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorExpectation {
    /// The system.
    pub system_id: u32,
    /// The last tick applied.
    pub tick: u64,
    /// The time-dilation factor in thousandths.
    pub tidi_permille: u32,
    /// The ids of the ships present, ascending.
    pub ships: Vec<u64>,
    /// The local chat heard, oldest first.
    pub chat: Vec<String>,
}

/// An ordered exchange and what a conforming client makes of it: each command's answer is the received
/// envelope with its request id (whatever the order of arrival), every other received envelope is an event in
/// arrival order, and (if given) the mirror ends as `mirror` says.
#[derive(Debug, Clone, Deserialize)]
pub struct Flow {
    /// What the flow shows.
    pub name: String,
    /// The envelopes, in the order they travel.
    pub steps: Vec<Step>,
    /// The mirror at the end.
    #[serde(default)]
    pub mirror: Option<MirrorExpectation>,
}

/// Every case of the file.
#[derive(Debug, Clone, Deserialize)]
pub struct Cases {
    /// Messages and their exact bytes.
    pub encoding: Vec<EncodingCase>,
    /// Non-canonical bytes that decode.
    pub decoding: Vec<DecodingCase>,
    /// Payloads to refuse.
    pub invalid: Vec<InvalidCase>,
    /// TCP streams.
    pub framing: Vec<FramingCase>,
    /// Ordered exchanges.
    pub flows: Vec<Flow>,
}

/// Reads the committed cases.
pub fn cases() -> Result<Cases, ConformanceError> {
    serde_json::from_str(CASES_JSON).map_err(|error| ConformanceError::File(error.to_string()))
}

/// The bytes a hex string spells (`"08 07 d2 01"`; spaces between bytes are ignored).
pub fn hex_bytes(text: &str) -> Result<Vec<u8>, ConformanceError> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&digits).map_err(|error| ConformanceError::Hex { text: text.into(), reason: error.to_string() })
}

/// Bytes as the cases spell them: lower-case hex pairs separated by spaces.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// The message a proto3 JSON value describes, read by the descriptors (independently of the generated code)
/// and converted to the generated type `M`.
pub fn from_json<M: prost::Message + Default>(
    envelope: Envelope,
    json: &serde_json::Value,
) -> Result<M, ConformanceError> {
    dynamic(envelope, json)?.transcode_to::<M>().map_err(|error| json_error(envelope, json, error.to_string()))
}

/// The bytes of the message a proto3 JSON value describes, encoded by the descriptors (not by the generated
/// code whose output the cases check).
pub fn json_to_bytes(envelope: Envelope, json: &serde_json::Value) -> Result<Vec<u8>, ConformanceError> {
    Ok(prost::Message::encode_to_vec(&dynamic(envelope, json)?))
}

fn dynamic(envelope: Envelope, json: &serde_json::Value) -> Result<DynamicMessage, ConformanceError> {
    let pool = DescriptorPool::decode(DESCRIPTORS).map_err(|error| ConformanceError::File(error.to_string()))?;
    let descriptor = pool
        .get_message_by_name(envelope.full_name())
        .ok_or_else(|| ConformanceError::File(format!("no message {}", envelope.full_name())))?;
    DynamicMessage::deserialize(descriptor, json).map_err(|error| json_error(envelope, json, error.to_string()))
}

fn json_error(envelope: Envelope, json: &serde_json::Value, reason: String) -> ConformanceError {
    ConformanceError::Json { message: format!("{envelope:?}"), json: json.to_string(), reason }
}
