// One joined room: its own connection (`forceNew`, with a `partition` query that keeps the
// room on one Durable Object), multiplexing the room's chat (`/chat`) and whiteboard
// (`/board`) over one Manager.
//
// Resync, as the seed article describes it: connection state recovery when the server still
// has the session (`socket.recovered`: the missed events were replayed by the server), and in
// any case a `sync` with the last message number seen (`since`): the server answers with the
// messages after it (a replay) or, when it no longer keeps them all, its whole history (a
// snapshot). Messages are kept by number, so one replayed twice is shown once.
import { io } from "wasmio";

/** How often the ping latency is measured (ms). */
const LATENCY_EVERY = 5000;
/** How long a "typing…" lasts without news (ms). */
const TYPING_SHOWN = 3000;
/** The least time between two `typing` emits (ms): the client's throttle. */
const TYPING_THROTTLE = 1500;

export class RoomConnection extends EventTarget {
  constructor(room, name) {
    super();
    this.room = room;
    this.name = name;
    this.messages = new Map(); // seq -> { seq, id, name, text, ts }
    this.version = 0; // the highest message number seen
    this.members = new Map(); // socket id -> name
    this.typing = new Map(); // socket id -> { name, until }
    this.unread = 0;
    this.latency = null;
    this.reconnects = 0;
    this.lastResync = null;
    this.lastTypingSent = 0;
    this.typingTimer = undefined;
    const auth = { name, room };
    this.chat = io(`${location.origin}/chat`, { forceNew: true, query: { partition: `room:${room}` }, auth });
    this.manager = this.chat.io;
    this.board = this.manager.socket("/board", { auth });
    this.manager.on("reconnect_attempt", () => {
      this.reconnects += 1;
      this.changed("status");
    });
    this.chat.on("connect", () => this.resync());
    this.chat.on("disconnect", () => {
      this.members.clear();
      this.changed("status");
      this.changed("members");
    });
    this.chat.on("connect_error", (error) => this.failed(error.message));
    this.board.on("connect_error", (error) => this.failed(error.message));
    this.chat.on("message", (message) => this.receive(message));
    this.chat.on("presence", ({ event, id, name }) => {
      if (event === "join") this.members.set(id, name);
      else this.members.delete(id);
      this.typing.delete(id);
      this.changed("members");
    });
    this.chat.on("typing", ({ id, name }) => {
      this.typing.set(id, { name, until: Date.now() + TYPING_SHOWN });
      this.changed("typing");
      setTimeout(() => this.changed("typing"), TYPING_SHOWN + 50);
    });
    this.pinger = setInterval(() => this.measure(), LATENCY_EVERY);
  }

  /** The connection's state, for the badge. */
  status() {
    const engine = this.manager.engine;
    return {
      connected: this.chat.connected,
      transport: this.chat.connected ? engine?.transport?.name : undefined,
      recovered: this.chat.connected ? this.chat.recovered : undefined,
      latency: this.latency,
      reconnects: this.reconnects,
    };
  }

  /** After each connection: the room's version, members and missed messages. */
  async resync() {
    this.changed("status");
    const since = this.messages.size ? this.version : null;
    let answer;
    try {
      answer = await this.chat.timeout(10_000).emitWithAck("sync", since);
    } catch (error) {
      return this.failed(`sync: ${error.message}`);
    }
    if (answer.error) return this.failed(answer.error);
    if (answer.reset) this.messages.clear();
    for (const message of answer.messages) this.messages.set(message.seq, message);
    this.version = Math.max(answer.version, this.version);
    this.members = new Map(answer.members.map((m) => [m.id, m.name]));
    const how = this.chat.recovered ? "recovered" : answer.reset ? "snapshot" : "replay";
    this.lastResync = { how, count: answer.messages.length, version: answer.version };
    this.measure();
    this.changed("messages");
    this.changed("members");
    this.changed("status");
  }

  receive(message) {
    if (this.messages.has(message.seq)) return;
    this.messages.set(message.seq, message);
    this.version = Math.max(this.version, message.seq);
    this.typing.delete(message.id);
    this.unread += 1;
    this.changed("messages");
    this.changed("typing");
  }

  /** Sends a message; resolves to its number, or throws the server's refusal. */
  async send(text) {
    const answer = await this.chat.timeout(10_000).emitWithAck("message", text);
    if (answer.error) throw new Error(answer.error);
    return answer.seq;
  }

  /**
   * Tells the room this member is typing: at most once per TYPING_THROTTLE, the first
   * keystroke at once and the last one of a window at its end.
   */
  typed() {
    const wait = this.lastTypingSent + TYPING_THROTTLE - Date.now();
    if (wait > 0) {
      this.typingTimer ??= setTimeout(() => {
        this.typingTimer = undefined;
        this.typed();
      }, wait);
      return;
    }
    if (!this.chat.connected) return;
    this.lastTypingSent = Date.now();
    this.chat.emit("typing");
  }

  /** The names typing now (this member's own aside). */
  typingNames() {
    const now = Date.now();
    return [...this.typing.entries()].filter(([id, t]) => t.until > now && id !== this.chat.id).map(([, t]) => t.name);
  }

  async measure() {
    if (!this.chat.connected) return;
    const started = performance.now();
    try {
      await this.chat.timeout(4000).emitWithAck("latency");
      this.latency = Math.round(performance.now() - started);
    } catch {
      this.latency = null;
    }
    this.changed("status");
  }

  failed(message) {
    this.dispatchEvent(new CustomEvent("error", { detail: message }));
  }

  changed(what) {
    this.dispatchEvent(new Event(what));
  }

  /** Leaves the room: the others hear of it (the server's `disconnecting` handler). */
  close() {
    clearInterval(this.pinger);
    this.chat.disconnect();
    this.board.disconnect();
  }
}
