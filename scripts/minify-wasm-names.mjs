// Shortens the browser client's import and export names, in the wasm and in its wasm-bindgen
// glue alike: `node scripts/minify-wasm-names.mjs <wasm> <glue.js> [<mapping.json>]`
// (scripts/build-client.sh), and writes the short names' originals to mapping.json, by which
// bench/client names the calls it counts.
// wasm-bindgen names each import after its function plus a 16-digit hash
// (`__wbg_set_onopen_757be120cc7b1ea6`), written once in the wasm and once in the glue, and the
// hashes do not compress. binaryen's wasm-opt renames them (and the exports, and the import
// module) to one or two letters and prints the mapping, which this script applies to the glue.
// It fails if any old name is left in the glue, or an import was not found there.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [wasmPath, gluePath, mappingPath] = process.argv.slice(2);
if (!wasmPath || !gluePath) throw new Error("usage: minify-wasm-names.mjs <wasm> <glue.js>");
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const wasmOpt = process.env.WASM_OPT_BIN || join(ROOT, "node_modules/.bin/wasm-opt");
const FEATURES = [
  "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
  "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
];
const printed = execFileSync(
  wasmOpt,
  ["--minify-imports-and-exports-and-modules", ...FEATURES, wasmPath, "-o", wasmPath],
  { encoding: "utf8" },
);
const mapping = JSON.parse(printed.slice(printed.indexOf("{")));

/** `text` with every match of `pattern` replaced; fails when there is none. */
function replaceAll(text, pattern, replacement, what) {
  let found = false;
  const out = text.replace(pattern, (...match) => {
    found = true;
    return typeof replacement === "function" ? replacement(...match) : replacement;
  });
  if (!found) throw new Error(`minify-wasm-names: ${what} not found in ${gluePath}`);
  return out;
}

const escape = (name) => name.replace(/[$]/g, "\\$");
let glue = readFileSync(gluePath, "utf8");
const modules = new Set();
for (const [module, name, short] of mapping.imports) {
  modules.add(module);
  // A key of the import object: `        __wbg_..._hash: function(...) {`.
  glue = replaceAll(glue, new RegExp(`(\\n\\s+)${escape(name)}:`, "g"), (_, indent) => `${indent}"${short}":`, `import ${name}`);
}
// The import module (wasm-opt names its one module "a"; check it is one, and which).
const wasmModules = new Set(WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath))).map((i) => i.module));
if (modules.size !== 1 || wasmModules.size !== 1) throw new Error("minify-wasm-names: expected one import module");
const [oldModule] = modules;
const [newModule] = wasmModules;
glue = replaceAll(glue, JSON.stringify(oldModule) + ":", JSON.stringify(newModule) + ":", `module ${oldModule}`);
// Exports the glue reads as `wasm.<name>` (some, such as `__abort_handler`, it never reads).
for (const [name, short] of mapping.exports) {
  glue = glue.replace(new RegExp(`\\bwasm\\.${escape(name)}(?![\\w$])`, "g"), `wasm.${short}`);
}
for (const [, name] of mapping.imports) if (glue.includes(name)) throw new Error(`minify-wasm-names: ${name} left in the glue`);
for (const [name] of mapping.exports) {
  if (new RegExp(`\\bwasm\\.${escape(name)}(?![\\w$])`).test(glue)) throw new Error(`minify-wasm-names: wasm.${name} left`);
}
writeFileSync(gluePath, glue);
if (mappingPath) {
  // Short name -> original, for imports (called from wasm) and exports (called from JavaScript).
  const originals = (pairs) => Object.fromEntries(pairs.map(([name, short]) => [short, name]));
  const names = { imports: originals(mapping.imports.map(([, name, short]) => [name, short])), exports: originals(mapping.exports) };
  writeFileSync(mappingPath, JSON.stringify(names, null, 1) + "\n");
}
console.log(`minify-wasm-names: ${mapping.imports.length} imports, ${mapping.exports.length} exports renamed`);
