import { FakeNetwork, Tcp } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { assert, it } from "@effect/vitest"
import { Effect, Stream } from "effect"

// The protocol handler under test: answers every line, upper-cased.
const shout = (connection: Connection.Connection) =>
  connection.stream.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.map((line) => `${line.toUpperCase()}\n`),
    Stream.encodeText,
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
