// What the demo app's tests and the screenshot script share: the worker (chat deployment,
// under real `wrangler dev`, with an operations token) and Chromium, and pages of the app.
import { chromium } from "playwright-core";
import { startWorker } from "../edge/harness.mjs";

export const OPS_TOKEN = "demo-test-token";
const CHROMIUM_ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
];

/** The chat deployment with its operations endpoint on, and Chromium. */
export async function startDemo() {
  const worker = await startWorker("chat", { vars: { OPS_TOKEN, MAX_HANDSHAKES_PER_MINUTE: "0" } });
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const stop = async () => {
    await browser.close();
    await worker.stop();
  };
  return { worker, browser, stop };
}

/**
 * `name` in a browser context of its own, with the app open in `rooms` (the first one
 * current) once the current room's chat is synced. Page errors are collected in `errors`.
 */
export async function openApp(browser, url, name, rooms, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const query = new URLSearchParams([["name", name], ...rooms.map((room) => ["room", room])]);
  await page.goto(`${url}/app/?${query}`);
  await page.evaluate((first) => window.demo.select(first), rooms[0]);
  for (const room of rooms) await synced(page, room);
  return { page, context, errors };
}

/** Resolves once `room`'s chat is connected and synced in `page`. */
export function synced(page, room) {
  return page.waitForFunction((r) => {
    const joined = window.demo?.rooms.get(r);
    return joined?.connection.chat.connected && joined.connection.lastResync !== null;
  }, room);
}

/** Sends `text` from the composer of the current room; resolves once it is shown. */
export async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await page.waitForFunction((t) => [...document.querySelectorAll("#messages .text")].some((p) => p.textContent === t), text);
}

/** The texts of the current room's messages, in order. */
export const texts = (page) => page.$$eval("#messages .text", (items) => items.map((p) => p.textContent));

/** Draws a polyline through `points` (x, y in 0..1 of the canvas) with the mouse. */
export async function drawLine(page, points) {
  const box = await page.locator("#canvas").boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const point of points.slice(1)) await page.mouse.move(...at(point), { steps: 4 });
  await page.mouse.up();
}
