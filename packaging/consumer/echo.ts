// A user's program: it imports the installed package, echoes one message over
// the real network (Tcp.layer, loopback) and over the fake one (Tcp.layerTest),
// and prints one line per layer. Run with plain `node` (22 and 24 strip types).
import { Connection, OSError, Tcp } from "@effect-tcp/socket"
import { Effect, Layer, Stream } from "effect"

const echoOnce = (message: string) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen({ port: 0 })
    yield* Effect.forkScoped(server.serve((connection: Connection.Connection) => connection.copyTo(connection)))
    const client = yield* Tcp.connect({ port: server.address.port, timeout: "5 seconds" })
    yield* client.write(new TextEncoder().encode(message))
    yield* client.end
    return yield* client.stream.pipe(Stream.decodeText(), Stream.mkString)
  }).pipe(Effect.scoped)

const run = (name: string, layer: Layer.Layer<Tcp.Tcp>) =>
  echoOnce(`hello over ${name}`).pipe(
    Effect.tap((echoed) => Effect.sync(() => console.log(`${name}: ${echoed}`))),
    Effect.catchIf(OSError.isOSError, (error) => Effect.sync(() => console.log(`${name}: ${error.message}`))),
    Effect.provide(layer)
  )

await Effect.runPromise(Effect.andThen(run("layer", Tcp.layer), run("layerTest", Tcp.layerTest)))
