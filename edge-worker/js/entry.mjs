// The worker's entry: the classes built from Rust (build/index.js), with one guard in front
// of the Socket.IO object's hibernatable WebSockets. workerd hands a message of up to 32 MiB
// to `webSocketMessage`; the Rust glue would copy it into wasm memory (which never shrinks)
// before any check. Here a message longer than MAX_PAYLOAD is refused as the reference's `ws`
// does (close 1009 "message too big"), and the object learns that its WebSocket failed.
import worker, { SocketIoObject as BuiltSocketIoObject, EchoObject } from "../build/index.js";

/** The reference's maxHttpBufferSize, when MAX_PAYLOAD is not set. */
const DEFAULT_MAX_PAYLOAD = 1e6;

export class SocketIoObject extends BuiltSocketIoObject {
  constructor(state, env) {
    super(state, env);
    this.maxPayload = Number(env.MAX_PAYLOAD) || DEFAULT_MAX_PAYLOAD;
  }

  webSocketMessage(ws, message) {
    // A string's UTF-8 length is at least its length in UTF-16 units.
    const size = typeof message === "string" ? message.length : message.byteLength;
    if (size > (this.maxPayload ?? DEFAULT_MAX_PAYLOAD)) {
      try {
        ws.close(1009, "message too big");
      } catch {}
      return super.webSocketError(ws, new Error("message too big"));
    }
    return super.webSocketMessage(ws, message);
  }
}

export { EchoObject };
export default worker;
