// The library's echo behind a load balancer that sends the PROXY protocol (HAProxy's `send-proxy-v2`):
// `Tcp.listen({ proxyProtocol: { trusted: ["127.0.0.1/32"] } })`, `serve(c => c.copyTo(c))`, `Tcp.layer`,
// run with `NodeRuntime.runMain`, started with plain `node` and no V8 flags, as library-copy.ts is. Each
// connection's header is read once, on accept; the data path after it is library-copy's.
// Usage: node bench/peers/library-proxy.ts [port]  (0 = any free port; prints the bound port on stdout)
import { Tcp } from "@effect-tcp/socket"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"

const port = Number(process.argv[2] ?? 0)

const main = Effect.gen(function*() {
  const server = yield* Tcp.listen({
    host: "127.0.0.1",
    port,
    backlog: 100,
    noDelay: true,
    proxyProtocol: { trusted: ["127.0.0.1/32"] }
  })
  process.stdout.write(`${server.address.port}\n`)
  return yield* server.serve((connection) => connection.copyTo(connection))
})

NodeRuntime.runMain(main.pipe(Effect.scoped, Effect.provide(Tcp.layer)))
