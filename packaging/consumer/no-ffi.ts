// The same user's program where koffi is not installed (`npm install --omit=optional`,
// or a platform without its binary): the core runs, the options the FFI reads are
// unavailable, and asking for a buffer size fails with a message that says why.
import { OSError, Tcp } from "@effect-tcp/socket"
import { Effect, Stream } from "effect"

const program = Effect.gen(function*() {
  const server = yield* Tcp.listen({ port: 0 })
  yield* Effect.forkScoped(server.serve((connection) => connection.copyTo(connection)))
  const client = yield* Tcp.connect({ port: server.address.port })
  const options = yield* client.options
  yield* client.write(new TextEncoder().encode("hello without koffi"))
  yield* client.end
  console.log(`echo: ${yield* client.stream.pipe(Stream.decodeText(), Stream.mkString)}`)
  console.log(`SO_RCVBUF: ${options.receiveBufferSize ?? "unavailable"}`)
  const refused = yield* Effect.flip(Tcp.listen({ port: 0, receiveBufferSize: 65536 }))
  console.log(`receiveBufferSize: ${OSError.isOSError(refused) ? `${refused.code}: ${refused.message}` : "?"}`)
}).pipe(Effect.scoped, Effect.provide(Tcp.layer))

await Effect.runPromise(program)
