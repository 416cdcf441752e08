// Echo server as the library's README writes it: the connection's `stream` run into its `sink`, then `end`
// (`Tcp.listen`, `serve`, `Tcp.layer`, `NodeRuntime.runMain`), started with plain `node` and no V8 flags.
// An Effect-level pipeline per connection, where library-copy.ts is socket to socket.
// Usage: node bench/peers/library-stream.ts [port]  (0 = any free port; prints the bound port on stdout)
import { type Connection, Tcp } from "@effect-tcp/socket"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Stream } from "effect"

const port = Number(process.argv[2] ?? 0)

// RFC 862: every byte back, in order, until the peer's FIN; then finish and close.
const echo = (connection: Connection.Connection) =>
  connection.stream.pipe(Stream.run(connection.sink), Effect.andThen(connection.end))

const main = Effect.gen(function*() {
  const server = yield* Tcp.listen({ host: "127.0.0.1", port, backlog: 100, noDelay: true })
  process.stdout.write(`${server.address.port}\n`)
  return yield* server.serve(echo)
})

NodeRuntime.runMain(main.pipe(Effect.scoped, Effect.provide(Tcp.layer)))
