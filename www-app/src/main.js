// The demo app: joined rooms in the sidebar (each its own RoomConnection and BoardState),
// the current room's chat and whiteboard, and the connection badge.
// `?name=Ada&room=general` joins a room at once (links, tests, screenshots).
import { RoomConnection } from "./room-connection.js";
import { BoardState, BoardView, PALETTE } from "./board.js";

const $ = (id) => document.getElementById(id);
const SUGGESTED = ["general", "random", "design"];
const ROOM_NAME = /^[a-z0-9-]{1,32}$/;

const rooms = new Map(); // room -> { connection, board }
let current = null;
let tab = "chat";
let colour = 0;

const params = new URLSearchParams(location.search);
$("name").value = params.get("name") || localStorage.getItem("wasmio-demo-name") || `guest-${Math.floor(Math.random() * 900 + 100)}`;
$("name").addEventListener("change", () => localStorage.setItem("wasmio-demo-name", $("name").value.trim()));

function hue(text) {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

function avatar(name) {
  const span = document.createElement("span");
  span.className = "avatar";
  span.textContent = name.slice(0, 1).toUpperCase();
  span.style.background = `hsl(${hue(name)} 70% 52%)`;
  return span;
}

function toast(text) {
  $("toast").textContent = text;
  $("toast").hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => ($("toast").hidden = true), 4000);
}

function join(room) {
  room = room.trim().toLowerCase();
  if (!ROOM_NAME.test(room)) return toast("A room name is 1 to 32 of a-z, 0-9 and -");
  if (!rooms.has(room)) {
    const name = $("name").value.trim() || "guest";
    const connection = new RoomConnection(room, name);
    const board = new BoardState(connection.board);
    for (const what of ["messages", "members", "typing", "status"]) connection.addEventListener(what, () => render(room, what));
    connection.addEventListener("error", (e) => toast(e.detail));
    board.addEventListener("error", (e) => toast(e.detail));
    board.addEventListener("points", () => room === current && renderBoardInfo());
    board.addEventListener("reset", () => room === current && renderBoardInfo());
    rooms.set(room, { connection, board });
  }
  select(room);
}

function leave(room) {
  const joined = rooms.get(room);
  if (!joined) return;
  joined.board.close();
  joined.connection.close();
  rooms.delete(room);
  select(rooms.keys().next().value ?? null);
}

function select(room) {
  current = room;
  const joined = rooms.get(room);
  if (joined) joined.connection.unread = 0;
  $("empty").hidden = !!joined;
  $("room-view").hidden = !joined;
  boardView.show(joined?.board ?? null);
  for (const what of ["rooms", "messages", "members", "typing", "status"]) render(room, what);
}

function render(room, what) {
  if (what === "messages" && room !== current) return renderRooms();
  if (what === "rooms") return renderRooms();
  if (room !== current) return;
  const joined = rooms.get(room);
  if (!joined) return renderBadge(null);
  const { connection } = joined;
  if (what === "messages") {
    connection.unread = 0;
    renderMessages(connection);
  } else if (what === "members") renderMembers(connection);
  else if (what === "typing") renderTyping(connection);
  else if (what === "status") renderBadge(connection);
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren(
    ...[...rooms.entries()].map(([room, { connection }]) => {
      const li = document.createElement("li");
      li.className = room === current ? "room active" : "room";
      li.dataset.room = room;
      li.innerHTML = `<span class="hash">#</span><span class="room-name"></span>`;
      li.querySelector(".room-name").textContent = room;
      if (connection.unread && room !== current) {
        const unread = document.createElement("span");
        unread.className = "unread";
        unread.textContent = connection.unread;
        li.append(unread);
      }
      li.addEventListener("click", () => select(room));
      return li;
    }),
  );
  $("suggestions").replaceChildren(
    ...SUGGESTED.filter((room) => !rooms.has(room)).map((room) => {
      const button = document.createElement("button");
      button.className = "chip";
      button.textContent = `#${room}`;
      button.addEventListener("click", () => join(room));
      return button;
    }),
  );
  $("room-title").textContent = current ? `#${current}` : "";
}

function renderMessages(connection) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const ordered = [...connection.messages.values()].sort((a, b) => a.seq - b.seq);
  list.replaceChildren(
    ...ordered.map((m) => {
      const li = document.createElement("li");
      li.className = m.id === connection.chat.id ? "message mine" : "message";
      li.dataset.seq = m.seq;
      const body = document.createElement("div");
      body.className = "body";
      const head = document.createElement("div");
      head.className = "head";
      const name = document.createElement("b");
      name.textContent = m.name;
      const time = document.createElement("time");
      time.textContent = new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      head.append(name, time);
      const text = document.createElement("p");
      text.className = "text";
      text.textContent = m.text;
      body.append(head, text);
      li.append(avatar(m.name), body);
      return li;
    }),
  );
  if (atBottom || ordered.length < 12) list.scrollTop = list.scrollHeight;
  renderRooms();
}

function renderMembers(connection) {
  $("members-room").textContent = `#${connection.room}`;
  $("members-count").textContent = connection.members.size;
  const typing = new Set(connection.typingNames());
  $("members").replaceChildren(
    ...[...connection.members.entries()]
      .sort((a, b) => a[1].localeCompare(b[1]))
      .map(([id, name]) => {
        const li = document.createElement("li");
        li.className = "member";
        li.dataset.id = id;
        const label = document.createElement("span");
        label.className = "member-name";
        label.textContent = id === connection.chat.id ? `${name} (you)` : name;
        const state = document.createElement("span");
        state.className = typing.has(name) ? "presence typing" : "presence";
        state.textContent = typing.has(name) ? "typing…" : "online";
        li.append(avatar(name), label, state);
        return li;
      }),
  );
}

function renderTyping(connection) {
  const names = connection.typingNames();
  $("typing").textContent =
    names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
  renderMembers(connection);
}

function renderBadge(connection) {
  const status = connection?.status();
  const badge = $("badge");
  badge.dataset.state = !status ? "idle" : status.connected ? "up" : "down";
  $("badge-state").textContent = !status ? "not connected" : status.connected ? "connected" : "reconnecting…";
  $("badge-transport").textContent = status?.transport ?? "–";
  $("badge-recovered").textContent = status?.recovered === undefined ? "–" : status.recovered ? "yes" : "no";
  $("badge-ping").textContent = status?.latency != null ? `${status.latency} ms` : "–";
  $("badge-reconnects").textContent = status?.reconnects ?? 0;
  const resync = connection?.lastResync;
  $("resync").textContent = !resync
    ? ""
    : resync.how === "recovered"
      ? `v${resync.version} · recovered by the server`
      : `v${resync.version} · ${resync.how} of ${resync.count} message${resync.count === 1 ? "" : "s"}`;
}

function renderBoardInfo() {
  const board = rooms.get(current)?.board;
  $("board-info").textContent = board ? `${board.points.length} points · ${board.batchesSent} batches sent` : "";
}

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  join($("join-room").value);
  $("join-room").value = "";
});
$("leave").addEventListener("click", () => leave(current));
$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const connection = rooms.get(current)?.connection;
  const text = $("text").value.trim();
  if (!connection || !text) return;
  $("text").value = "";
  try {
    await connection.send(text);
  } catch (error) {
    toast(error.message);
  }
});
$("text").addEventListener("input", () => rooms.get(current)?.connection.typed());
for (const button of document.querySelectorAll(".tab")) {
  button.addEventListener("click", () => {
    tab = button.dataset.tab;
    for (const other of document.querySelectorAll(".tab")) other.setAttribute("aria-selected", String(other === button));
    $("chat").hidden = tab !== "chat";
    $("board-panel").hidden = tab !== "board";
    renderBoardInfo();
  });
}
$("palette").replaceChildren(
  ...PALETTE.map((value, index) => {
    const swatch = document.createElement("button");
    swatch.className = index === colour ? "swatch active" : "swatch";
    swatch.style.background = value;
    swatch.title = value;
    swatch.addEventListener("click", () => {
      colour = index;
      for (const other of document.querySelectorAll(".swatch")) other.classList.toggle("active", other === swatch);
    });
    return swatch;
  }),
);
$("clear").addEventListener("click", () => rooms.get(current)?.board.clear());
const boardView = new BoardView($("canvas"), () => ({ colour, width: Number($("width").value) }));
setInterval(() => current && render(current, "typing"), 1000);

// For tests and the curious: the joined rooms and their connections.
window.demo = { rooms, join, leave, select, get current() { return current; } };

renderRooms();
for (const room of params.getAll("room")) join(room);
if (params.get("tab") === "board") document.querySelector('[data-tab="board"]').click();
