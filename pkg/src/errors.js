// The errors a manager and its sockets report, shaped as socket.io-client's: what a
// connection failure, a `disconnect` or a `close` carries.

/**
 * An error of the transport as engine.io-client's `TransportError`: its `description` and
 * `context` are the browser's details the driver gave manager `m` (the HTTP status and the
 * response or failure of a polling request; a WebSocket's error event).
 */
class TransportError extends Error {}
const transportError = (text, m) => Object.assign(new TransportError(text), { type: "TransportError" }, m._te);
/** A connection failure: a TransportError for the transports' errors, else an Error. */
export const failure = (text, m) =>
  /^(xhr poll|xhr post|websocket) error$/.test(text) ? transportError(text, m) : new Error(text);
/**
 * The details of a `disconnect` or `close`: the error for a transport or parse error; for a
 * WebSocket that closed, its CloseEvent as `context` (its `code`, `reason`, `wasClean`).
 */
export const description = (reason, text, m) =>
  text == null
    ? undefined
    : reason === "transport error"
      ? transportError(text, m)
      : reason === "parse error"
        ? new Error(text)
        : { description: text, ...(text === "websocket connection closed" && { context: m._wc }) };
