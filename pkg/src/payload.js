// Event data across the driver: values <-> JSON text with attachment placeholders and the
// attachments, as socket.io-parser's deconstructPacket and reconstructPacket do.

/** Event names an application cannot emit, nor receive as events. */
export const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

const isBinary = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
export const isBlob = (v) => typeof Blob !== "undefined" && v instanceof Blob; // File too

/**
 * `[name, ...args]` -> [JSON text with placeholders, attachments or undefined]: Uint8Arrays,
 * and the Blobs as they are (read by `Socket._send`).
 */
export function encode(values) {
  const bins = [];
  const text = JSON.stringify(values, function (key, value) {
    const v = this[key]; // before toJSON (Buffer has one)
    if (!isBinary(v) && !isBlob(v)) return value;
    bins.push(isBlob(v) ? v : v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return { _placeholder: true, num: bins.length - 1 };
  });
  return [text, bins.length ? bins : undefined];
}

/** JSON text + ArrayBuffer attachments -> values; throws as `JSON.parse` and `reconstruct` do. */
export function decode(text, bins) {
  const values = JSON.parse(text);
  return bins ? reconstruct(values, bins) : values;
}

export const ILLEGAL_ATTACHMENTS = "illegal attachments";

/**
 * socket.io-parser's `reconstructPacket`: each placeholder, from the top down, becomes its
 * attachment; one whose `num` is not an index of them throws "illegal attachments".
 */
function reconstruct(data, bins) {
  if (data && data._placeholder === true) {
    if (typeof data.num === "number" && data.num >= 0 && data.num < bins.length) return bins[data.num];
    throw new Error(ILLEGAL_ATTACHMENTS);
  }
  if (data && typeof data === "object") for (const key in data) if ({}.hasOwnProperty.call(data, key)) data[key] = reconstruct(data[key], bins);
  return data;
}

/**
 * The data of an EVENT as socket.io-parser accepts it: an array whose first element, the
 * name, is a number or a string that is not reserved. The core reads only a frame's header
 * on the hot path: the page, which parses the data, checks its shape.
 */
export const isEvent = (v, name = Array.isArray(v) && v[0]) =>
  typeof name === "number" || (typeof name === "string" && !RESERVED.includes(name));

/** `decode(text, bins)`, or undefined when it throws. */
export function decodeOrUndefined(text, bins) {
  try {
    return decode(text, bins);
  } catch {
    return undefined;
  }
}
