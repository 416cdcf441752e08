// The README's library examples (examples/*.ts), run on both layers.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { echo } from "../examples/echo-server.ts"
import { readMessages } from "../examples/frames.ts"
import { hello } from "../examples/hello.ts"
import { upgradeClient, upgradeServer } from "../examples/starttls.ts"
import { tlsHello } from "../examples/tls-client.ts"
import { tlsEchoServer } from "../examples/tls-server.ts"
import { Tcp } from "../src/index.ts"
import { certificates } from "./tls/certs.ts"
import { readAll } from "./util.ts"

const layers: ReadonlyArray<readonly [string, Layer.Layer<Tcp.Tcp>]> = [["loopback", Tcp.layer], [
  "fake",
  Tcp.layerTest
]]

describe.each(layers)("README examples on %s", (_, layer) => {
  it.live("hello reads the echo from echo-server", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      yield* Effect.forkScoped(server.serve(echo))
      assert.strictEqual(yield* hello(server.address.port), "Hello World!")
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  it.live("hello turns a refused connection into a value", () =>
    Effect.gen(function*() {
      const port = yield* Tcp.listen().pipe(Effect.map((server) => server.address.port), Effect.scoped)
      const answer = yield* hello(port)
      assert.match(answer, /^nobody home: \[Errno \d+\] Connection refused \(127\.0\.0\.1:\d+\)$/)
    }).pipe(Effect.provide(layer), Effect.timeout("10 seconds")))

  it.live("readMessages reads length-prefixed messages, however they are cut", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      const client = yield* Tcp.connect({ port: server.address.port })
      const accepted = yield* server.accept
      const wire = Uint8Array.of(0, 0, 0, 2, 0x68, 0x69, 0, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63)
      for (const piece of [wire.subarray(0, 3), wire.subarray(3, 9), wire.subarray(9)]) yield* client.write(piece)
      assert.deepStrictEqual(yield* readMessages(accepted, 3), ["hi", "", "abc"])
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  it.live("tlsHello reads its echo from tlsEchoServer; a server it cannot trust is a value", () =>
    Effect.gen(function*() {
      const certs = certificates()
      const address = yield* tlsEchoServer(0, certs.server)
      assert.strictEqual(yield* tlsHello("localhost", address.port, certs.ca), "Hello TLS!")
      assert.strictEqual(yield* tlsHello("127.0.0.1", address.port), "not trusted (unknown-issuer)")
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  it.live("upgradeClient and upgradeServer: STARTTLS, then an echo over TLS", () =>
    Effect.gen(function*() {
      const certs = certificates()
      const server = yield* Tcp.listen()
      yield* Effect.forkScoped(server.serve((plain) => Effect.flatMap(upgradeServer(plain, certs.server), echo)))
      const plain = yield* Tcp.connect({ port: server.address.port })
      const secure = yield* upgradeClient(plain, certs.ca)
      yield* secure.write("secret")
      yield* secure.end
      assert.strictEqual(yield* readAll(secure), "secret")
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))
})
