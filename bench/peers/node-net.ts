// Plain node:net echo server: the baseline every other server is measured against.
// Usage: node bench/peers/node-net.ts [port]  (0 = any free port; prints the bound port on stdout)
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
