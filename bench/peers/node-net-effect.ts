// Plain node:net echo (as node-net.ts) in a process that has loaded Effect the way a user's program does:
// the `effect` and `@effect/platform-node` barrels. Nothing of Effect is on the data path: what is left
// between this and node-net.ts is the cost of a bigger heap (every GC walks it), which users pay anyway.
// Usage: node bench/peers/node-net-effect.ts [port]  (0 = any free port; prints the bound port on stdout)
import "effect"
import "@effect/platform-node"
import * as Net from "node:net"

const port = Number(process.argv[2] ?? 0)

const server = Net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on("data", (data) => socket.write(data))
  socket.on("error", () => socket.destroy())
})

server.listen({ host: "127.0.0.1", port, backlog: 100 }, () => {
  const address = server.address() as Net.AddressInfo
  process.stdout.write(`${address.port}\n`)
})

const stop = () => {
  server.close()
  // exit (rather than die of the signal) so that --cpu-prof can write its profile
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
