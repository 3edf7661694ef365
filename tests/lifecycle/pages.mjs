// wasmio's browser client in real Chromium for the lifecycle tests: the classic build the chat
// deployment serves at /socket.io/socket.io.js, one page per socket, reporting what it hears.
import { chromium } from "playwright-core";
import { PATHS, disconnectReason } from "./chat.mjs";

const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

/** Launches the machine's Chromium (headless). */
export const launchBrowser = () => chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });

/**
 * A page of the worker at `url` whose one socket (wasmio's `io()` from the worker's classic
 * build) takes transport path `path` and the `partition` query value; it reports what it hears
 * to this process. The object has the interface of the official clients of `chat.mjs`: `path`,
 * `socket.emit`, `socket.connected` and `socket.recovered` (as last reported), `received`,
 * `disconnects`, `connectErrors`, `timeline` (timed by the page); `state` is the socket's last reported `connected`,
 * `recovered`, `sid` and `transport`; `errors` the page's errors.
 */
export async function pageClient(browser, url, path, partition) {
  const page = await browser.newPage();
  const client = { path, page, received: [], disconnects: [], connectErrors: [], timeline: [], state: {}, errors: [] };
  page.on("pageerror", (e) => client.errors.push(e.message));
  await page.exposeFunction("report", (kind, value, at) => {
    if (kind === "message") client.received.push(value);
    else if (kind === "disconnect") {
      client.disconnects.push(value);
      client.timeline.push({ at, what: `disconnect: ${value}` });
    } else if (kind === "connect") client.timeline.push({ at, what: value ? "connect, recovered" : "connect" });
    else if (kind === "connect_error") client.connectErrors.push(value);
    else client.state = value;
  });
  // A document the worker serves (the script itself, shown as text: a page of the worker's
  // origin and address, which Chromium lets reach it), the client script then added to it.
  const script = `${url}/socket.io/socket.io.js`;
  await page.goto(script);
  await page.addScriptTag({ url: script });
  const options = { forceNew: true, ...PATHS[path], query: { partition } };
  await page.evaluate(([options, disconnectReasonSource]) => {
    const disconnectReason = new Function(`return ${disconnectReasonSource}`)();
    const socket = io(options);
    const state = () => ({
      connected: socket.connected,
      recovered: socket.recovered,
      sid: socket.io.engine?.id,
      transport: socket.io.engine?.transport?.name,
    });
    socket.on("connect", () => {
      report("connect", socket.recovered, Date.now());
      report("state", state());
      socket.io.engine.once("upgrade", () => report("state", state()));
    });
    socket.on("chat message", (message) => report("message", message.text));
    socket.on("disconnect", (reason, details) => {
      report("disconnect", disconnectReason(reason, details), Date.now());
      report("state", state());
    });
    socket.on("connect_error", (error) => report("connect_error", error.message));
    window.socket = socket;
  }, [options, disconnectReason.toString()]);
  client.socket = {
    emit: (event, text) => page.evaluate(([e, t]) => window.socket.emit(e, t), [event, text]),
    get connected() {
      return client.state.connected === true;
    },
    get recovered() {
      return client.state.recovered;
    },
  };
  return client;
}

/**
 * Starts the page's own sending loop: a `chat message` labelled `<prefix>:<sequence>` every
 * `gapMs` to twice that, timed by the page, whatever the socket's state (emits while
 * disconnected are buffered, as socket.io-client does). Resolves to a function that stops the
 * loop and resolves to what was emitted, `{ label, at }` (at: `Date.now()` of the emit).
 */
export async function startSending(client, prefix, gapMs) {
  await client.page.evaluate(([prefix, gapMs]) => {
    window.sent = [];
    window.sending = true;
    (async () => {
      for (let seq = 0; window.sending; seq++) {
        const label = `${prefix}:${seq}`;
        window.sent.push({ label, at: Date.now() });
        window.socket.emit("chat message", label);
        await new Promise((r) => setTimeout(r, gapMs * (1 + Math.random())));
      }
    })();
  }, [prefix, gapMs]);
  return () => client.page.evaluate(() => ((window.sending = false), window.sent));
}
