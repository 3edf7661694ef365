// wasmio for CommonJS code in Node.js (the package's "require" condition): `require("wasmio")`
// is the `io` function itself, with every named export on it, as socket.io-client's CommonJS
// build is (`const io = require("socket.io-client"); io(url)`, `const { io } = require(...)`).
// ./node.js is an ES module without top-level await, which Node 20.19 and later `require`.
const client = require("./node.js");

module.exports = Object.assign(client.io, client);
