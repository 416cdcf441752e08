// Echo server on Effect's own socket server: @effect/platform-node's NodeSocketServer.
// Usage: node bench/peers/effect-socket-server.ts [port]  (0 = any free port; prints the bound port on stdout)
import { NodeRuntime, NodeSocketServer } from "@effect/platform-node"
import { Effect } from "effect"
import * as Socket from "effect/socket/Socket"

const port = Number(process.argv[2] ?? 0)

// A clean end of stream (the peer's FIN) surfaces as a close error with code 1000.
const isCleanClose = (error: Socket.SocketError) =>
  error.reason._tag === "SocketCloseError" && error.reason.code === 1000

const echo = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const pull = yield* Socket.readerBytes(socket)
    const writer = yield* socket.writer
    while (true) {
      const chunks = yield* pull
      yield* writer.writeAll(chunks)
    }
  }).pipe(
    Effect.scoped,
    Effect.catchIf(isCleanClose, () => Effect.void)
  )

const main = Effect.gen(function*() {
  const server = yield* NodeSocketServer.make({ host: "127.0.0.1", port, backlog: 100, noDelay: true })
  if (server.address._tag !== "UnixPathAddress") {
    process.stdout.write(`${server.address.port}\n`)
  }
  return yield* server.run(echo)
})

NodeRuntime.runMain(Effect.scoped(main))
