// wasmio for CommonJS code in Node.js (the package's "node" "require" condition): `require("wasmio")`
// is the `io` function itself, with every named export on it, as socket.io-client's CommonJS
// build is (`const io = require("socket.io-client"); io(url)`, `const { io } = require(...)`).
// scripts/build-client.sh bundles it with ../node.js into dist/node.cjs, one CommonJS file.
const client = require("../node.js");

module.exports = Object.assign(client.io, client);
