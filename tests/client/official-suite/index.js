// wasmio: not part of the upstream suite. The suite's files import the client under test as
// `..` (suite/*.ts: `import { io } from ".."`, suite/fixtures/*.ts: `require("../..")`), which
// resolves to this file: CLIENT=wasmio gives the repository's wasmio package (its Node entry,
// pkg/node.js), anything else the official socket.io-client (the root's node_modules).
module.exports =
  process.env.CLIENT === "wasmio" ? require("../../../pkg/node.js") : require("socket.io-client");
