import { FakeNetwork, Framing, Tcp } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { assert, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

// The protocol handler under test: answers every line, upper-cased. A line over 1 KiB fails
// it with LimitOverrunError at once: no peer makes it buffer more.
const shout = (connection: Connection.Connection) =>
  connection.stream.pipe(
    Framing.decodeLines({ maxLength: 1024 }),
    Stream.map((line) => line.toUpperCase()),
    Framing.encodeLines,
    Stream.run(connection.sink)
  )

it.effect("answers every line, however the bytes are cut", () =>
  Effect.gen(function*() {
    const network = yield* FakeNetwork.FakeNetwork
    yield* network.splitWrites(1) // every byte arrives on its own: framing bugs show
    const server = yield* Tcp.listen()
    yield* Effect.forkScoped(server.serve(shout))
    const client = yield* Tcp.connect({ port: server.address.port })
    yield* client.write(new TextEncoder().encode("hello\nworld\n"))
    yield* client.end
    const reply = yield* client.stream.pipe(Stream.decodeText(), Stream.mkString)
    assert.strictEqual(reply, "HELLO\nWORLD\n")
  }).pipe(Effect.provide(Tcp.layerTest)))
