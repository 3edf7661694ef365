// Number and Markdown formatting shared by the report's sections (bench/report.mjs).

/** Numbers as in the README tables: 3 significant digits, integers with separators from 1,000. */
export function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "n/a";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  if (Number.isInteger(v)) return String(v);
  return v.toPrecision(3);
}
/** An integer with separators, or n/a. */
export const int = (v) => (v === null || v === undefined ? "n/a" : Math.round(v).toLocaleString("en-US"));
/** A ratio with two decimals (`1.23x`), or n/a. */
export const x2 = (r) => (r === null || r === undefined || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}x`);

/** How much better ours is than `other` (above 1: better), given which direction is better. */
export function gain(ours, other, higher) {
  if (ours === null || ours === undefined || other === null || other === undefined || ours === 0 || other === 0) return null;
  return higher ? ours / other : other / ours;
}

/** A gain in words: `1.23x better`, `1.23x worse`, or the same within 2%. */
export function verdict(g) {
  if (g === null) return "n/a";
  if (Math.abs(g - 1) < 0.02) return "same (within 2%)";
  return g > 1 ? `${g.toFixed(2)}x better` : `${(1 / g).toFixed(2)}x worse`;
}

/** The median of the values that are there, or null. */
export const median = (xs) => {
  const s = xs.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * The spread of a ratio over a run's rounds: ours / other per round (the samples of one round
 * were measured side by side, so a slow phase of the machine weighs on both), as the first and
 * third quartiles `[q1, q3]`, or null without paired samples.
 */
export function roundRatios(ours, other) {
  const r = (ours ?? []).map((o, i) => o / other?.[i]).filter(Number.isFinite).sort((a, b) => a - b);
  if (r.length < 2) return null;
  const at = (q) => r[Math.min(r.length - 1, Math.max(0, Math.ceil(q * r.length) - 1))];
  return [at(0.25), at(0.75)];
}

/** "label, unit", unless the label already names its unit as a word. */
export function withUnit(label, unit) {
  if (!unit) return label;
  const word = new RegExp(`(^|[\\s(])${unit.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}($|[\\s),])`);
  return word.test(label) ? label : `${label}, ${unit}`;
}
/** A goal's status in bold: met, not met, or not evaluated. */
export const met = (ok) => (ok === null || ok === undefined ? "not evaluated" : ok ? "**met**" : "**not met**");
/** Text escaped for XML (the SVG plots). */
export const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** A Markdown table: header cells, rows, and each column's alignment (`r`: right). */
export const table = (head, rows, align) =>
  [`| ${head.join(" | ")} |`, `|${align.map((a) => (a === "r" ? "---:" : "---")).join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
