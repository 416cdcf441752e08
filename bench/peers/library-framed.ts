// The framed echo on the library, as protocol code writes it with asyncio's reader: `Reader.readExactly(4)`
// for the length, `readExactly(length)` for the body, both written back in one flush; the peer's FIN
// between frames ends it (an `IncompleteReadError` with nothing read, as asyncio programs catch it). Plain `node`, no V8 flags. The reference is node-net-framed.ts.
// Usage: node bench/peers/library-framed.ts [port]  (0 = any free port; prints the bound port on stdout)
import { type Connection, Reader, Tcp } from "@effect-tcp/socket"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"

const port = Number(process.argv[2] ?? 0)
const maxFrame = 8 * 1024 * 1024

const echoFrames = (connection: Connection.Connection) =>
  Effect.gen(function*() {
    const reader = yield* Reader.make(connection, { limit: maxFrame })
    while (true) {
      const header = yield* reader.readExactly(4)
      const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
      const body = yield* reader.readExactly(length)
      yield* connection.writeAll([header, body])
    }
  }).pipe(
    // the peer's FIN between two frames: the end, not an error
    Effect.catchTag("IncompleteReadError", (error) => error.partial.length === 0 ? Effect.void : Effect.fail(error)),
    Effect.andThen(connection.end),
    // a declared length past the reader's limit fails that read at once: reset, as node-net-framed.ts does
    Effect.catchTag("LimitOverrunError", () => connection.reset),
    Effect.scoped
  )

const main = Effect.gen(function*() {
  const server = yield* Tcp.listen({ host: "127.0.0.1", port, backlog: 100, noDelay: true })
  process.stdout.write(`${server.address.port}\n`)
  return yield* server.serve(echoFrames)
})

NodeRuntime.runMain(main.pipe(Effect.scoped, Effect.provide(Tcp.layer)))
