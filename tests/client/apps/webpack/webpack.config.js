// webpack 5 as is: `new URL("./x.wasm", import.meta.url)` in the package becomes an emitted
// asset without a loader or `experiments` (those are for `import`ing wasm, which wasmio doesn't).
import { resolve } from "node:path";

export default {
  mode: "production",
  entry: "./src/index.js",
  output: { path: resolve(import.meta.dirname, "dist"), filename: "main.js" },
};
