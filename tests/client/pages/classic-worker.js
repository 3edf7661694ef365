// A classic worker loading a client's classic build with importScripts() (the script to load
// is in the worker's query), then connecting, reported to the page through postMessage.
importScripts(new URL(location.href).searchParams.get("client"));

self.onmessage = async ({ data: { url } }) => {
  const out = {};
  try {
    const socket = io(url, { forceNew: true });
    await new Promise((res, rej) => {
      socket.on("connect", res);
      socket.on("connect_error", rej);
    });
    out.echo = await socket.emitWithAck("echo", "from a classic worker");
    socket.disconnect();
  } catch (e) {
    out.error = String((e && e.stack) || e);
  }
  self.postMessage(out);
};
