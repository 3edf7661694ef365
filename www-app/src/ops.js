// The operations view: every Socket.IO object of the deployment, read every 2 s from
// GET /api/ops with the operations token (the Worker's OPS_TOKEN) as a bearer token.
// `#token=...` in the address fills the token in.

const $ = (id) => document.getElementById(id);
const REFRESH_EVERY = 2000;
let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("wasmio-ops-token") || "";
let timer = null;

$("token").value = token;
$("auth").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("wasmio-ops-token", token);
  refresh();
});

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function stat(label, value) {
  return `<div class="stat"><span class="value">${value}</span><span class="label">${label}</span></div>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function card(object, now) {
  const wakeups = object.events.fetches + object.events.websocketMessages + object.events.alarms;
  const rooms = object.rooms.length
    ? object.rooms
        .map((r) => `<li><span class="nsp">${escape(r.nsp)}</span> <b>${escape(r.room)}</b><span class="members">${r.members} ${r.members === 1 ? "member" : "members"}</span></li>`)
        .join("")
    : `<li class="muted">no rooms</li>`;
  const alarm = object.nextAlarmMs ? `next alarm in ${duration(object.nextAlarmMs - now)}` : "no alarm set";
  return `<article class="object${object.sessions ? " busy" : ""}" data-object="${escape(object.object)}">
    <header><h2>object ${escape(object.object)}</h2><span class="pill">${object.sessions ? "active" : "idle"}</span></header>
    <div class="stats">${stat("sessions", object.sessions)}${stat("sockets", object.sockets)}${stat("rooms", object.rooms.length)}${stat("wake-ups", wakeups)}</div>
    <dl class="events">
      <div><dt>HTTP requests</dt><dd>${object.events.fetches}</dd></div>
      <div><dt>WebSocket messages</dt><dd>${object.events.websocketMessages}</dd></div>
      <div><dt>alarms</dt><dd>${object.events.alarms}</dd></div>
    </dl>
    <ul class="object-rooms">${rooms}</ul>
    <footer class="muted">instance up ${duration(now - object.instanceStartedMs)} · ${alarm}</footer>
  </article>`;
}

async function refresh() {
  clearTimeout(timer);
  if (!token) return;
  try {
    const response = await fetch("/api/ops", { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    if (response.status === 401) {
      $("ops-status").textContent = "The token was refused (401): it is the Worker's OPS_TOKEN.";
      $("objects").replaceChildren();
      return;
    }
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    const { now, objects } = await response.json();
    const sum = (f) => objects.reduce((total, o) => total + f(o), 0);
    $("totals").innerHTML = [
      stat("objects", objects.length),
      stat("sessions", sum((o) => o.sessions)),
      stat("sockets", sum((o) => o.sockets)),
      stat("rooms", sum((o) => o.rooms.length)),
    ].join("");
    $("ops-status").textContent = `Each Socket.IO Durable Object, as it answers now (refreshed every ${REFRESH_EVERY / 1000} s). Wake-ups are the events workerd delivered to the object's current instance; an idle object is evicted, and its next event starts a new one.`;
    $("objects").innerHTML = objects.map((o) => card(o, now)).join("");
  } catch (error) {
    $("ops-status").textContent = `The objects could not be read: ${error.message}`;
  }
  timer = setTimeout(refresh, REFRESH_EVERY);
}

refresh();
