// The reference side of protocol/tests/differential.rs: runs the official socket.io-parser and
// engine.io-parser on the cases read as JSON from stdin and writes their answers as JSON to
// stdout. Each input key holds one kind of case; the output has one answer per case, same key.
// Binary travels as base64; a thrown error becomes `{ error }`.

import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const { Encoder, Decoder } = require("socket.io-parser");
// binary.js is not in the package's exports map: load it beside the resolved entry point.
const { deconstructPacket, reconstructPacket } = require(
  path.join(path.dirname(require.resolve("socket.io-parser")), "binary.js"),
);
const { encodePacket, decodePacket, encodePayload, decodePayload } = require("engine.io-parser");

const toBase64 = (bytes) => Buffer.from(bytes).toString("base64");
const fromBase64 = (text) => Buffer.from(text, "base64");

function attempt(run) {
  try {
    return run();
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
}

// ---- Socket.IO ----

/** A decoded packet with placeholders back in place of its Buffers (deconstructPacket order). */
function comparableSocket(packet) {
  const { packet: flat, buffers } = deconstructPacket({ ...packet });
  const id = packet.id;
  return {
    type: packet.type,
    nsp: packet.nsp,
    id: id === undefined ? null : Number.isSafeInteger(id) ? id : String(id),
    data: flat.data === undefined ? null : JSON.stringify(flat.data),
    attachments: buffers.map(toBase64),
  };
}

/**
 * Feeds a text frame, then the binary frames `attachments(announced)` returns, to a fresh
 * official Decoder; `announced` is the attachment count the text frame declared.
 */
function decodeSocket(text, attachments) {
  const decoder = new Decoder();
  let decoded = null;
  decoder.on("decoded", (packet) => (decoded = packet));
  decoder.add(text);
  const announced = decoder.reconstructor ? decoder.reconstructor.reconPack.attachments : 0;
  for (const buffer of attachments(announced)) decoder.add(buffer);
  if (!decoded) throw new Error("packet incomplete");
  return { ...comparableSocket(decoded), announced };
}

/** The official encoding of a case: placeholders become Buffers, then Encoder#encode. */
function encodeSocket(c) {
  const packet = {
    type: c.type,
    nsp: c.nsp,
    id: c.id ?? undefined,
    data: c.data === null ? undefined : JSON.parse(c.data),
  };
  if (c.attachments.length) reconstructPacket(packet, c.attachments.map(fromBase64));
  const [text, ...buffers] = new Encoder().encode(packet);
  return { text, attachments: buffers.map(toBase64) };
}

/**
 * Whether `text` is the canonical form of what the reference decodes from it: it starts with
 * the header the encoder writes for that packet, followed by nothing or by JSON equal to the data.
 */
function isCanonicalSocket(text) {
  const packet = new Decoder().decodeString(text);
  const header = new Encoder().encodeAsString({ ...packet, data: undefined });
  if (!text.startsWith(header)) return false;
  const rest = text.slice(header.length);
  if (rest === "") return packet.data === undefined;
  try {
    return JSON.stringify(JSON.parse(rest)) === JSON.stringify(packet.data);
  } catch {
    return false;
  }
}

const socketCase = (c) => ({
  encoded: attempt(() => encodeSocket(c)),
  decoded: attempt(() => decodeSocket(c.ours, () => c.attachments.map(fromBase64))),
});

/** The attachments fed after a mutated text frame: attachment `i` is the byte `i` (as in Rust). */
const mutationAttachments = (announced) => Array.from({ length: announced }, (_, i) => Buffer.from([i]));

const socketMutation = (c) => {
  const reference = attempt(() => decodeSocket(c.text, mutationAttachments));
  return {
    reference,
    canonical: reference.error === undefined && isCanonicalSocket(c.text),
    // Our decoded data as JSON.parse reads it, to compare values and not spellings.
    ours: c.ourData === null ? null : attempt(() => ({ json: JSON.stringify(JSON.parse(c.ourData)) })),
  };
};

// ---- Engine.IO ----

const ENGINE_TYPES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];

const enginePacket = (p) => ({
  type: ENGINE_TYPES[p.type],
  data: p.binary === undefined ? p.text : fromBase64(p.binary),
});

function comparableEngine(packet) {
  if (packet.type === "error") return { error: packet.data };
  const type = ENGINE_TYPES.indexOf(packet.type);
  return Buffer.isBuffer(packet.data)
    ? { type, binary: toBase64(packet.data) }
    : { type, text: packet.data ?? "" };
}

/** engine.io-parser's callback APIs call back synchronously; this returns the result. */
function sync(run) {
  let result;
  run((value) => (result = value));
  return result;
}

const frame = (encoded) =>
  typeof encoded === "string" ? { text: encoded } : { binary: toBase64(encoded) };

const engineCase = (c) => ({
  frame: frame(sync((done) => encodePacket(enginePacket(c), true, done))),
  polling: sync((done) => encodePacket(enginePacket(c), false, done)),
  decodedFrame: comparableEngine(
    decodePacket(c.ours.frame.text ?? fromBase64(c.ours.frame.binary)),
  ),
  decodedPolling: comparableEngine(decodePacket(c.ours.polling)),
});

const enginePayload = (c) => ({
  encoded: sync((done) => encodePayload(c.packets.map(enginePacket), done)),
  decoded: decodePayload(c.ours).map(comparableEngine),
});

/** Whether base64 text is what Buffer#toString("base64") writes, with or without padding. */
function isCanonicalBase64(text) {
  const canonical = fromBase64(text).toString("base64");
  return text === canonical || text === canonical.replace(/=+$/, "");
}

const engineMutation = (text) => ({
  decoded: decodePayload(text).map(comparableEngine),
  // Per \x1e-separated packet: for a `b` packet, whether its base64 is canonical.
  canonicalBase64: text.split("\x1e").map((p) => (p[0] === "b" ? isCanonicalBase64(p.slice(1)) : null)),
});

// ---- main ----

const handlers = { socketCase, socketMutation, engineCase, enginePayload, engineMutation };

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input);
const answers = {};
for (const [kind, list] of Object.entries(cases)) {
  if (!handlers[kind]) throw new Error(`unknown case kind ${kind}`);
  answers[kind] = list.map(handlers[kind]);
}
process.stdout.write(JSON.stringify(answers));
