// Plain node:tls echo server: the baseline the library's TLS echo (library-tls.ts) is measured against.
// Usage: node bench/peers/node-tls.ts <port> <cert.pem> <key.pem>
//   (port 0 = any free port; prints the bound port on stdout; the bench makes the certificate at run time)
import * as Fs from "node:fs"
import * as Tls from "node:tls"

const [port, cert, key] = [Number(process.argv[2] ?? 0), process.argv[3], process.argv[4]]
if (cert === undefined || key === undefined) {
  process.stderr.write("usage: node bench/peers/node-tls.ts <port> <cert.pem> <key.pem>\n")
  process.exit(2)
}

const server = Tls.createServer({ cert: Fs.readFileSync(cert), key: Fs.readFileSync(key) }, (socket) => {
  socket.setNoDelay(true)
  socket.on("data", (data) => socket.write(data))
  socket.on("error", () => socket.destroy())
})
server.on("tlsClientError", () => {})

server.listen({ host: "127.0.0.1", port, backlog: 100 }, () => {
  const address = server.address() as { readonly port: number }
  process.stdout.write(`${address.port}\n`)
})

const stop = () => {
  server.close()
  // exit (rather than die of the signal) so that --cpu-prof can write its profile
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
