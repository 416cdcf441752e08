// Plain node:net echo (node-net.ts itself) in a process that has loaded Effect the way a user's program
// does: the `effect` and `@effect/platform-node` barrels, first. Nothing of Effect is on the data path:
// what is left between this and node-net.ts is the cost of a bigger heap (every GC walks it), which users
// pay anyway.
// Usage: node bench/peers/node-net-effect.ts [port]  (0 = any free port; prints the bound port on stdout)
import "effect"
import "@effect/platform-node"
import "./node-net.ts"
