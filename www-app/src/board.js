// The shared whiteboard of a room. Strokes travel as binary: each point is 10 bytes,
// little-endian (u32 stroke id, u16 x, u16 y over 0..65535 across the board, u8 colour index,
// u8 width), and the points drawn are sent in one ArrayBuffer every 50 ms (the seed article's
// batching), not one message per pointer move. A board that connects without recovering its
// session asks the server for the whole drawing (`sync`), kept in the room's object storage.

export const PALETTE = ["#1f2937", "#ef4444", "#f59e0b", "#10b981", "#3b82f6", "#8b5cf6", "#ec4899", "#ffffff"];
export const POINT_BYTES = 10;
/** How often the points drawn are sent (ms). */
export const BATCH_EVERY = 50;
/** The server's most points per batch. */
const MAX_BATCH_POINTS = 400;
const SCALE = 65535;

/** Encodes points `{ stroke, x, y, colour, width }` (x, y in 0..1) into one batch. */
export function encodePoints(points) {
  const bytes = new Uint8Array(points.length * POINT_BYTES);
  const view = new DataView(bytes.buffer);
  points.forEach((p, i) => {
    const at = i * POINT_BYTES;
    view.setUint32(at, p.stroke, true);
    view.setUint16(at + 4, Math.round(Math.min(1, Math.max(0, p.x)) * SCALE), true);
    view.setUint16(at + 6, Math.round(Math.min(1, Math.max(0, p.y)) * SCALE), true);
    bytes[at + 8] = p.colour;
    bytes[at + 9] = p.width;
  });
  return bytes.buffer;
}

/** Decodes a batch (or a whole drawing) into points. */
export function decodePoints(buffer) {
  const view = new DataView(buffer instanceof ArrayBuffer ? buffer : buffer.buffer);
  const points = [];
  for (let at = 0; at + POINT_BYTES <= view.byteLength; at += POINT_BYTES) {
    points.push({
      stroke: view.getUint32(at, true),
      x: view.getUint16(at + 4, true) / SCALE,
      y: view.getUint16(at + 6, true) / SCALE,
      colour: view.getUint8(at + 8),
      width: view.getUint8(at + 9),
    });
  }
  return points;
}

/** A room's drawing: every point, in order, and the batch being filled. */
export class BoardState extends EventTarget {
  constructor(socket) {
    super();
    this.socket = socket;
    this.points = [];
    this.pending = [];
    this.batchesSent = 0;
    this.batchesReceived = 0;
    socket.on("connect", () => {
      if (!socket.recovered) this.sync();
    });
    socket.on("draw", (batch) => {
      this.batchesReceived += 1;
      this.add(decodePoints(batch));
    });
    socket.on("clear", () => {
      this.points = [];
      this.dispatchEvent(new Event("reset"));
    });
    this.flusher = setInterval(() => this.flush(), BATCH_EVERY);
  }

  async sync() {
    const answer = await this.socket.timeout(10_000).emitWithAck("sync").catch((error) => ({ error: error.message }));
    if (answer.error) return this.dispatchEvent(new CustomEvent("error", { detail: answer.error }));
    this.points = decodePoints(answer.strokes);
    this.dispatchEvent(new Event("reset"));
  }

  add(points) {
    this.points.push(...points);
    this.dispatchEvent(new CustomEvent("points", { detail: points }));
  }

  /** A point drawn here: shown at once, sent with the next batch. */
  draw(point) {
    this.pending.push(point);
    this.add([point]);
  }

  /** Sends the points drawn since the last batch, as one ArrayBuffer. */
  flush() {
    while (this.pending.length && this.socket.connected) {
      const batch = this.pending.splice(0, MAX_BATCH_POINTS);
      this.batchesSent += 1;
      this.socket.emit("draw", encodePoints(batch), (answer) => {
        if (answer?.error) this.dispatchEvent(new CustomEvent("error", { detail: answer.error }));
      });
    }
  }

  clear() {
    this.socket.emit("clear");
  }

  close() {
    this.flush();
    clearInterval(this.flusher);
  }
}

/** Draws a BoardState on a canvas, and turns pointer moves on it into points. */
export class BoardView {
  constructor(canvas, tools) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.tools = tools; // () => ({ colour, width })
    this.state = null;
    this.last = new Map(); // stroke id -> its last point drawn
    this.stroke = null;
    canvas.addEventListener("pointerdown", (e) => this.pointer(e, true));
    canvas.addEventListener("pointermove", (e) => this.stroke !== null && this.pointer(e, false));
    for (const end of ["pointerup", "pointerleave", "pointercancel"]) canvas.addEventListener(end, () => (this.stroke = null));
    this.onReset = () => this.redraw();
    this.onPoints = (e) => this.paint(e.detail);
  }

  show(state) {
    this.state?.removeEventListener("reset", this.onReset);
    this.state?.removeEventListener("points", this.onPoints);
    this.state = state;
    state?.addEventListener("reset", this.onReset);
    state?.addEventListener("points", this.onPoints);
    this.redraw();
  }

  pointer(event, starts) {
    if (!this.state) return;
    if (starts) {
      this.stroke = (Math.random() * 0xffffffff) >>> 0;
      this.canvas.setPointerCapture?.(event.pointerId);
    }
    const box = this.canvas.getBoundingClientRect();
    const { colour, width } = this.tools();
    this.state.draw({ stroke: this.stroke, x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height, colour, width });
  }

  redraw() {
    const { width, height } = this.canvas;
    this.context.fillStyle = "#ffffff";
    this.context.fillRect(0, 0, width, height);
    this.last.clear();
    if (this.state) this.paint(this.state.points);
  }

  paint(points) {
    const { context: ctx, canvas } = this;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const p of points) {
      const x = p.x * canvas.width;
      const y = p.y * canvas.height;
      const from = this.last.get(p.stroke);
      ctx.strokeStyle = PALETTE[p.colour] ?? PALETTE[0];
      ctx.lineWidth = p.width * (canvas.width / 1000);
      ctx.beginPath();
      ctx.moveTo(from ? from.x : x, from ? from.y : y);
      ctx.lineTo(x + (from ? 0 : 0.01), y);
      ctx.stroke();
      this.last.set(p.stroke, { x, y });
    }
  }
}
