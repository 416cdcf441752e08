// Echo server a user of the library would write: `Tcp.listen`, `serve(c => c.copyTo(c))`, `Tcp.layer`,
// run with `NodeRuntime.runMain`, started with plain `node` and no V8 flags (no `Heap.nodeFlags`,
// no `Main.run`). Imports as a user's program does: the packages' entry points (barrels).
// Usage: node bench/peers/library-copy.ts [port]  (0 = any free port; prints the bound port on stdout)
import { Tcp } from "@effect-tcp/socket"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"

const port = Number(process.argv[2] ?? 0)

const main = Effect.gen(function*() {
  const server = yield* Tcp.listen({ host: "127.0.0.1", port, backlog: 100, noDelay: true })
  process.stdout.write(`${server.address.port}\n`)
  return yield* server.serve((connection) => connection.copyTo(connection))
})

NodeRuntime.runMain(main.pipe(Effect.scoped, Effect.provide(Tcp.layer)))
