// Plain node:tls echo (node-tls.ts itself) in a process that has loaded Effect the way a user's program
// does: the `effect` and `@effect/platform-node` barrels, first. Nothing of Effect is on the data path:
// what is left between this and node-tls.ts is the cost of a bigger heap, which every collection of the
// fresh buffers node:tls decrypts into walks (node-net-effect.ts is the same for plain TCP).
// Usage: node bench/peers/node-tls-effect.ts <port> <cert.pem> <key.pem>
import "effect"
import "@effect/platform-node"
import "./node-tls.ts"
