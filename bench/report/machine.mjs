// The machine a benchmark ran on, as its result records it; what it does not record is queried
// when the report is written, and labelled so (bench/report.mjs).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

function quiet(cmd, argv) {
  try {
    return execFileSync(cmd, argv, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20_000 }).trim();
  } catch {
    return null;
  }
}

let queried; // filled once, lazily
export function queryMachine() {
  if (!queried) {
    const pkg = (name) => {
      try {
        return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
      } catch {
        return null;
      }
    };
    const chromium = quiet("chromium", ["--version"]);
    queried = {
      cpu: cpus()[0]?.model?.trim() ?? null,
      cores: cpus().length,
      node: process.version,
      chromium: chromium ? chromium.replace(/^Chromium\s*/i, "").split(/\s/)[0] : null,
      wrangler: pkg("wrangler"),
      rustc: quiet(join(homedir(), ".cargo/bin/rustc"), ["-V"]) ?? quiet("rustc", ["-V"]),
    };
    if (queried.rustc) queried.rustc = queried.rustc.replace(/^rustc\s+/, "");
  }
  return queried;
}

/** The machine a result records (its shapes differ), each missing field queried now and marked. */
export function machineOf(result) {
  const m = { ...(result.machine || {}) };
  if (!m.cpu && typeof result.cpu === "string") {
    const [, cores, model] = result.cpu.match(/^(\d+) x (.*)$/) || [null, null, result.cpu];
    m.cpu = model;
    if (cores && !m.cores) m.cores = Number(cores);
  }
  for (const k of ["node", "chromium", "wrangler", "rustc"]) if (!m[k] && result[k]) m[k] = result[k];
  if (typeof m.rustc === "string") m.rustc = m.rustc.replace(/^rustc\s+/, "");
  const now = queryMachine();
  const fields = [["CPU", "cpu"], ["cores", "cores"], ["node", "node"], ["Chromium", "chromium"], ["wrangler", "wrangler"], ["rustc", "rustc"]];
  const known = (k) => m[k] !== undefined && m[k] !== null && m[k] !== "?";
  const recorded = fields.filter(([, k]) => known(k)).map(([name, k]) => `${name} ${m[k]}`);
  const queriedNow = fields.filter(([, k]) => !known(k)).map(([name, k]) => `${name} ${now[k] ?? "unknown"}`);
  const later = `not recorded by the run, queried when this report was written: ${queriedNow.join("; ")}`;
  if (!recorded.length) return later;
  return recorded.join("; ") + (queriedNow.length ? ` — ${later}` : "");
}
