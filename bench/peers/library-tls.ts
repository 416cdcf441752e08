// The library's TLS echo, as a user would write it: `Tcp.listen({ tls })`, `serve(c => c.copyTo(c))`,
// `Tcp.layer`, run with `NodeRuntime.runMain`, started with plain `node` and no V8 flags. Imports as a
// user's program does: the packages' entry points (barrels).
// Usage: node bench/peers/library-tls.ts <port> <cert.pem> <key.pem>
//   (port 0 = any free port; prints the bound port on stdout; the bench makes the certificate at run time)
import { Tcp } from "@effect-tcp/socket"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import * as Fs from "node:fs"

const [port, cert, key] = [Number(process.argv[2] ?? 0), process.argv[3], process.argv[4]]
if (cert === undefined || key === undefined) {
  process.stderr.write("usage: node bench/peers/library-tls.ts <port> <cert.pem> <key.pem>\n")
  process.exit(2)
}

const main = Effect.gen(function*() {
  const server = yield* Tcp.listen({
    host: "127.0.0.1",
    port,
    backlog: 100,
    noDelay: true,
    tls: { cert: Fs.readFileSync(cert), key: Fs.readFileSync(key) }
  })
  process.stdout.write(`${server.address.port}\n`)
  return yield* server.serve((connection) => connection.copyTo(connection))
})

NodeRuntime.runMain(main.pipe(Effect.scoped, Effect.provide(Tcp.layer)))
