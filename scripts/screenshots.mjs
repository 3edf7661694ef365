// `make screenshots`: the demo app's pictures in docs/ (the README shows them), taken from the
// real thing: the chat deployment under `wrangler dev`, three people in Chromium chatting and
// drawing, then the operations view. Needs the build (make build).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { OPS_TOKEN, drawLine, openApp, say, startDemo, synced } from "../tests/demo/browser.mjs";

const DOCS = join(dirname(fileURLToPath(import.meta.url)), "../docs");
const { worker, browser, stop } = await startDemo();
try {
  const ada = await openApp(browser, worker.url, "Ada", ["general", "design"]);
  const linus = await openApp(browser, worker.url, "Linus", ["general"]);
  const grace = await openApp(browser, worker.url, "Grace", ["general", "random"]);
  await say(ada.page, "Morning! The new edge build is live.");
  await say(linus.page, "Nice. Did the rooms survive the restart?");
  await say(ada.page, "Every one of them: history comes back from the room's Durable Object storage.");
  await say(grace.page, "And my laptop just dropped Wi-Fi for a second: recovered, nothing missing.");
  await say(linus.page, "Let's sketch the architecture on the whiteboard.");
  await grace.page.evaluate(() => window.demo.select("random"));
  await say(grace.page, "Anyone up for lunch?");
  await grace.page.evaluate(() => window.demo.select("general"));
  await linus.page.fill("#text", "Drawing the objects n");
  await linus.page.press("#text", "o");
  await ada.page.waitForSelector("#typing:has-text('Linus is typing')");
  await ada.page.screenshot({ path: join(DOCS, "demo-chat.png") });

  for (const { page } of [ada, linus]) await page.click('[data-tab="board"]');
  const swatch = (page, index) => page.click(`.swatch:nth-child(${index + 1})`);
  const box = (x, y, w, h) => [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]];
  const circle = (cx, cy, r) => Array.from({ length: 33 }, (_, i) => [cx + r * Math.cos((i / 32) * 2 * Math.PI), cy + r * 1.6 * Math.sin((i / 32) * 2 * Math.PI)]);
  await swatch(ada.page, 4);
  await drawLine(ada.page, box(0.08, 0.14, 0.22, 0.2));
  await drawLine(ada.page, box(0.08, 0.62, 0.22, 0.2));
  await swatch(linus.page, 5);
  await drawLine(linus.page, circle(0.55, 0.48, 0.1));
  await swatch(ada.page, 3);
  await drawLine(ada.page, [[0.3, 0.24], [0.45, 0.42]]);
  await drawLine(ada.page, [[0.3, 0.72], [0.45, 0.55]]);
  await swatch(linus.page, 1);
  await drawLine(linus.page, box(0.76, 0.38, 0.17, 0.2));
  await drawLine(linus.page, [[0.65, 0.48], [0.76, 0.48]]);
  await swatch(ada.page, 2);
  await drawLine(ada.page, Array.from({ length: 25 }, (_, i) => [0.08 + i * 0.035, 0.92 + 0.025 * Math.sin(i / 2)]));
  await linus.page.fill("#width", "3");
  await swatch(linus.page, 0);
  await drawLine(linus.page, [[0.52, 0.46], [0.55, 0.5], [0.58, 0.44]]);
  // Every batch sent and received: both boards hold the same points.
  const points = (page) => page.evaluate(() => window.demo.rooms.get("general").board.points.length);
  await ada.page.waitForTimeout(300);
  const drawn = await points(ada.page);
  await linus.page.waitForFunction((n) => window.demo.rooms.get("general").board.points.length === n, drawn);
  // A late joiner gets the drawing from storage.
  const late = await openApp(browser, worker.url, "Edsger", ["general"]);
  await late.page.click('[data-tab="board"]');
  await late.page.waitForFunction((n) => window.demo.rooms.get("general").board.points.length === n, drawn);
  await late.page.waitForTimeout(300);
  await late.page.screenshot({ path: join(DOCS, "demo-whiteboard.png") });

  const ops = await browser.newPage({ viewport: { width: 1280, height: 440 } });
  await ops.goto(`${worker.url}/app/ops/#token=${OPS_TOKEN}`);
  await ops.waitForSelector(".object");
  await ops.waitForTimeout(2500);
  await ops.screenshot({ path: join(DOCS, "demo-ops.png") });
  await synced(ada.page, "general");
  console.log("screenshots: docs/demo-chat.png, docs/demo-whiteboard.png, docs/demo-ops.png");
} finally {
  await stop();
}
