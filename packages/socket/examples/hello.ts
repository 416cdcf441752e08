import { OSError, Tcp } from "@effect-tcp/socket"
import { Effect, Stream } from "effect"

// asyncio's echo client: send a message, half-close, read the echo to its end.
export const hello = (port: number) =>
  Effect.gen(function*() {
    const connection = yield* Tcp.connect({ host: "127.0.0.1", port, timeout: "5 seconds" })
    yield* connection.write(new TextEncoder().encode("Hello World!"))
    yield* connection.end
    return yield* connection.stream.pipe(Stream.decodeText(), Stream.mkString)
  }).pipe(
    Effect.scoped, // closing the scope closes the socket, whatever happened
    Effect.catchTag("ConnectionRefusedError", (error) => Effect.succeed(`nobody home: ${error.message}`)),
    Effect.tapError((error) =>
      OSError.isConnectionError(error) ? Effect.logWarning("connection lost", error) : Effect.void
    )
  )
