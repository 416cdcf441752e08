// A user's protocol code on the installed package, through its subpath modules: length-prefixed frames
// written with `Framing.encodeFrame`, read on the server with `Reader.readExactly` and answered as lines,
// which the client reads with the bounded `Framing.decodeLines`; then a frame whose declared length is
// past the reader's limit, which fails with `LimitOverrunError`. One line per layer.
import * as Framing from "@effect-tcp/socket/Framing"
import * as Reader from "@effect-tcp/socket/Reader"
import * as StreamError from "@effect-tcp/socket/StreamError"
import * as Tcp from "@effect-tcp/socket/Tcp"
import { Effect, Layer, Stream } from "effect"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const exchange = Effect.gen(function*() {
  const server = yield* Tcp.listen({ port: 0 })
  yield* Effect.forkScoped(server.serve((connection) =>
    Effect.gen(function*() {
      const reader = yield* Reader.make(connection, { limit: 1024 })
      while (true) {
        const header = yield* reader.readExactly(4)
        const body = yield* reader.readExactly(new DataView(header.buffer, header.byteOffset, 4).getUint32(0))
        yield* connection.write(`${decoder.decode(body).toUpperCase()}\n`)
      }
    }).pipe(
      Effect.catchTag("IncompleteReadError", () => Effect.void),
      Effect.catchTag("LimitOverrunError", (error) => connection.write(`refused: ${error._tag}\n`)),
      Effect.andThen(connection.end),
      Effect.scoped
    )
  ))
  const client = yield* Tcp.connect({ port: server.address.port, timeout: "5 seconds" })
  for (const word of ["hello", "frames"]) yield* client.writeAll(yield* Framing.encodeFrame(encoder.encode(word)))
  yield* client.write(new Uint8Array([0, 0, 16, 0])) // a 4096-byte frame announced: past the limit
  yield* client.end
  const lines = yield* client.stream.pipe(Framing.decodeLines({ maxLength: 100 }), Stream.runCollect)
  return Array.from(lines).join(", ")
}).pipe(Effect.scoped)

const run = (name: string, layer: Layer.Layer<Tcp.Tcp>) =>
  exchange.pipe(
    Effect.tap((answers) => Effect.sync(() => console.log(`${name}: ${answers}`))),
    Effect.catchIf(StreamError.isStreamError, (error) => Effect.sync(() => console.log(`${name}: ${error.message}`))),
    Effect.provide(layer)
  )

await Effect.runPromise(Effect.andThen(run("layer", Tcp.layer), run("layerTest", Tcp.layerTest)))
