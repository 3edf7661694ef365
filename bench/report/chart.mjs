// The report's plots: hand-written SVG horizontal grouped bar charts (bench/report.mjs).
import { esc, fmt, withUnit } from "./format.mjs";

export const COLORS = {
  ours: "#1f6feb", // blue
  ours2: "#54aeff",
  ours3: "#0a3069",
  official: "#d4a72c", // amber
  official2: "#9a6700",
  floor: "#6e7781", // grey
  limitBar: "#afb8c1", // light grey: a platform limit
};

/**
 * chart({ title, subtitle, series: [{ key, name, short?, color }], groups: [{ label, unit, higher,
 * values: { seriesKey: number|null }, format? }], sharedScale, missing })
 * Each group is a block of bars (one per series) under its label; unless sharedScale, each group
 * has its own scale from 0 (the value labels carry the numbers). A null value is written out,
 * not drawn. Returns the SVG text.
 */
export function chart({ title, subtitle, series, groups, sharedScale = false, missing = "not measured" }) {
  const W = 860, left = 190, right = 150, barH = 16, gap = 4, groupGap = 14, labelH = 18;
  const plotW = W - left - right;
  const legendY = subtitle ? 66 : 50;
  const legend = [];
  let lx = 16, ly = legendY;
  for (const s of series) {
    const w = 32 + s.name.length * 7; // 12px text, ~7px a character
    if (lx > 16 && lx + w > W - 16) [lx, ly] = [16, ly + 20];
    legend.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" rx="2" fill="${s.color}"/><text x="${lx + 16}" y="${ly}" class="legend">${esc(s.name)}</text>`);
    lx += w;
  }
  let y = ly + 26;
  const parts = [];
  const maxAll = Math.max(...groups.flatMap((g) => Object.values(g.values).filter((v) => v > 0)), 0);
  for (const g of groups) {
    const max = sharedScale ? maxAll : Math.max(...Object.values(g.values).filter((v) => v > 0), 0);
    const scale = (v) => (max > 0 ? (v / max) * plotW : 0);
    const better = g.higher === undefined ? "" : g.higher ? " (higher is better)" : " (lower is better)";
    parts.push(`<text x="16" y="${y + 13}" class="group">${esc(withUnit(g.label, g.unit))}${esc(better)}</text>`);
    y += labelH + 2;
    for (const s of series) {
      if (!(s.key in g.values)) continue;
      const v = g.values[s.key];
      parts.push(`<text x="${left - 8}" y="${y + barH - 4}" class="name" text-anchor="end">${esc(s.short ?? s.name)}</text>`);
      if (v === null || v === undefined) {
        parts.push(`<text x="${left + 4}" y="${y + barH - 4}" class="missing">${esc(g.missing || missing)}</text>`);
      } else {
        const w = Math.max(scale(v), 1);
        parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" rx="2" fill="${s.color}"><title>${esc(s.name)}: ${esc(fmt(v))} ${esc(g.unit || "")}</title></rect>`);
        parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + barH - 4}" class="value">${esc(g.format ? g.format(v) : fmt(v))}${g.unit ? " " + esc(g.unit) : ""}</text>`);
      }
      y += barH + gap;
    }
    y += groupGap;
  }
  const H = Math.ceil(y + 8);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<style>.title{font-size:16px;font-weight:600;fill:#1f2328}.subtitle{font-size:12px;fill:#59636e}.group{font-size:13px;font-weight:600;fill:#1f2328}.name,.legend{font-size:12px;fill:#1f2328}.value{font-size:12px;fill:#1f2328;font-variant-numeric:tabular-nums}.missing{font-size:12px;font-style:italic;fill:#59636e}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="26" class="title">${esc(title)}</text>`,
    subtitle ? `<text x="16" y="46" class="subtitle">${esc(subtitle)}</text>` : "",
    ...legend,
    ...parts,
    `</svg>`,
  ].join("\n") + "\n";
}
