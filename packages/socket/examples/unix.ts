import { Address, Tcp } from "@effect-tcp/socket"
import { Effect, Stream } from "effect"

// An echo server on a Unix domain socket its owner's group may use (the file gets its mode before
// listen returns, and is removed when the scope closes), and a client of it.
export const unixEcho = (path: string, message: string) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen({ path, permissions: 0o660 })
    yield* Effect.log(`Serving on ${Address.format(server.address)}`) // the path
    yield* Effect.forkScoped(server.serve((connection) => connection.copyTo(connection)))
    const client = yield* Tcp.connect({ path })
    yield* client.write(message)
    yield* client.end
    return yield* client.stream.pipe(Stream.decodeText(), Stream.mkString)
  }).pipe(
    Effect.scoped,
    // a socket file left by a process that died is replaced; a live one is not
    Effect.catchTag("AddressInUseError", (error) => Effect.succeed(`in use: ${error.message}`))
  )
