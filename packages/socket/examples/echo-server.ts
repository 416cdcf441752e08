import { Address, Tcp } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { Effect, Stream } from "effect"

// RFC 862: every byte back, in order, until the peer's FIN; then finish and close.
export const echo = (connection: Connection.Connection) =>
  connection.stream.pipe(Stream.run(connection.sink), Effect.andThen(connection.end))

// Serves until interrupted; closing the scope stops accepting and drains within the grace period.
export const echoServer = (port: number) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen({ host: "127.0.0.1", port, idleTimeout: "5 minutes", shutdownGrace: "10 seconds" })
    yield* Effect.log(`Serving on ${Address.format(server.address)}`)
    return yield* server.serve(echo)
  })
