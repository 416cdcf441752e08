import { Framing, Tcp } from "@effect-tcp/socket"
import { Effect, Stream } from "effect"

// A subscriber holds one connection for hours, mostly quiet: it must notice a server that is gone.
export const subscribe = (port: number, onUpdate: (update: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const connection = yield* Tcp.connect({
      port,
      // the server quiet for 30 s: probe it every 5 s; 3 probes unanswered end the connection (at 45 s)
      keepAlive: { idle: "30 seconds", interval: "5 seconds", count: 3 },
      // what it sends must be acknowledged as soon (Linux): a hung server that takes nothing ends it too
      userTimeout: "45 seconds"
    })
    yield* connection.write("SUBSCRIBE news\n")
    // every update until the server ends the stream; a dead server fails it with TimeoutError
    yield* connection.stream.pipe(Framing.decodeLines({ maxLength: 4096 }), Stream.runForEach(onUpdate))
  }).pipe(Effect.scoped)
