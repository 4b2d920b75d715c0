// The browser client's decoder, encoder and mirror against the golden protocol cases
// (proto/conformance/cases.json), under node's test runner; scripts/build-play.sh runs it.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type DescMessage, equals, fromBinary, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { ClientEnvelopeSchema, type ServerEnvelope, ServerEnvelopeSchema } from "../src/gen/orrery/v1/game_pb";
import { Mirror } from "../src/mirror";

const path = process.env.ORRERY_CASES;
if (!path) throw new Error("ORRERY_CASES must name proto/conformance/cases.json");
const cases = JSON.parse(readFileSync(path, "utf8"));

const bytes = (hex: string) =>
  Uint8Array.from(hex.split(/\s+/).filter((h) => h !== "").map((h) => Number.parseInt(h, 16)));
const hex = (data: Uint8Array) => [...data].map((b) => b.toString(16).padStart(2, "0")).join(" ");
const schemaOf = (name: string): DescMessage => {
  if (name === "ClientEnvelope") return ClientEnvelopeSchema;
  if (name === "ServerEnvelope") return ServerEnvelopeSchema;
  throw new Error(`unknown message ${name}`);
};

test("every message encodes to its bytes and decodes back", () => {
  assert.ok(cases.encoding.length >= 20);
  for (const c of cases.encoding) {
    const schema = schemaOf(c.message);
    const message = fromJson(schema, c.json as JsonValue);
    assert.equal(hex(toBinary(schema, message)), c.payload, c.name);
    assert.ok(equals(schema, fromBinary(schema, bytes(c.payload)), message), c.name);
  }
});

test("non-canonical bytes decode to their message", () => {
  for (const c of cases.decoding) {
    const schema = schemaOf(c.message);
    const decoded = fromBinary(schema, bytes(c.payload), { readUnknownFields: false });
    assert.ok(equals(schema, decoded, fromJson(schema, c.json as JsonValue)), c.name);
  }
});

test("invalid payloads are refused", () => {
  assert.ok(cases.invalid.length > 0);
  for (const c of cases.invalid) {
    assert.throws(() => fromBinary(schemaOf(c.message), bytes(c.payload)), undefined, c.name);
  }
});

test("the mirror ends each flow as the cases say", () => {
  let checked = 0;
  for (const flow of cases.flows) {
    if (!flow.mirror) continue;
    let mirror: Mirror | undefined;
    for (const step of flow.steps) {
      if (!step.receive) continue;
      const envelope = fromJson(ServerEnvelopeSchema, step.receive as JsonValue) as ServerEnvelope;
      if (envelope.body.case === "snapshot") {
        if (mirror) mirror.applySnapshot(envelope.body.value);
        else mirror = new Mirror(envelope.body.value);
      } else if (envelope.body.case === "delta") {
        mirror?.applyDelta(envelope.body.value);
      }
    }
    assert.ok(mirror, flow.name);
    assert.deepEqual(
      {
        systemId: mirror.systemId,
        tick: Number(mirror.tick),
        tidiPermille: mirror.tidiPermille,
        ships: [...mirror.ships.keys()].map(Number).sort((a, b) => a - b),
        chat: mirror.chat.map((line) => line.text),
      },
      flow.mirror,
      flow.name,
    );
    checked++;
  }
  assert.ok(checked >= 2);
});
