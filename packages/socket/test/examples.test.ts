// The README's library examples (examples/*.ts), run on both layers.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { subscribe } from "../examples/dead-peers.ts"
import { echo } from "../examples/echo-server.ts"
import { readMessages } from "../examples/frames.ts"
import { hello } from "../examples/hello.ts"
import { proxiedEchoServer } from "../examples/proxy-protocol.ts"
import { upgradeClient, upgradeServer } from "../examples/starttls.ts"
import { tlsHello } from "../examples/tls-client.ts"
import { tlsEchoServer } from "../examples/tls-server.ts"
import { unixEcho } from "../examples/unix.ts"
import { FakeNetwork, Framing, Tcp } from "../src/index.ts"
import type { Connection } from "../src/index.ts"
import { v2 } from "./proxyHeaders.ts"
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

  it.live("unixEcho echoes over a Unix socket, and says so when a live listener holds the path", () =>
    Effect.gen(function*() {
      const folder = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-tcp-example-"))),
        (folder) => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true }))
      )
      const path = Path.join(folder, "echo.sock")
      assert.strictEqual(yield* unixEcho(path, "over a Unix socket"), "over a Unix socket")
      yield* Tcp.listen({ path })
      assert.match(yield* unixEcho(path, "again"), /^in use: \[Errno \d+\] Address already in use: a live listener/)
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  it.live("tlsHello reads its echo from tlsEchoServer; a server it cannot trust is a value", () =>
    Effect.gen(function*() {
      const certs = certificates()
      const address = yield* tlsEchoServer(0, certs.server)
      assert.strictEqual(yield* tlsHello("localhost", address.port, certs.ca), "Hello TLS!")
      assert.strictEqual(yield* tlsHello("127.0.0.1", address.port), "not trusted (unknown-issuer)")
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))

  it.live("proxiedEchoServer greets the client a balancer relayed, and turns away everyone else", () =>
    Effect.gen(function*() {
      const address = yield* proxiedEchoServer(0, ["127.0.0.0/8"])
      const balancer = yield* Tcp.connect({ port: address.port })
      const client = { family: "IPv4", host: "203.0.113.7", port: 51234 } as const
      yield* balancer.writeAll([v2({ source: client, destination: { ...client, port: 443 } }), "ping"])
      yield* balancer.end
      assert.strictEqual(yield* readAll(balancer), "hello 203.0.113.7:51234\nping")
      const elsewhere = yield* proxiedEchoServer(0, ["10.0.0.0/8"])
      const stranger = Effect.flatMap(Tcp.connect({ port: elsewhere.port }), readAll)
      assert.strictEqual((yield* Effect.flip(stranger))._tag, "ConnectionResetError")
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

/** The subscriber's server: reads the request, sends `updates`, then ends the stream or goes quiet. */
const newsServer = (updates: ReadonlyArray<string>, then: "end" | "quiet") => (connection: Connection.Connection) =>
  connection.stream.pipe(
    Framing.decodeLines(),
    Stream.take(1),
    Stream.runDrain,
    Effect.andThen(connection.writeAll(updates.map((update) => `${update}\n`))),
    Effect.andThen(then === "end" ? connection.end : Effect.never)
  )

describe.each(layers)("README dead-peers example on %s", (_, layer) => {
  it.live("subscribe hands on every update until the server ends the stream", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.listen()
      yield* Effect.forkScoped(server.serve(newsServer(["one", "two"], "end")))
      const updates: Array<string> = []
      yield* subscribe(server.address.port, (update) => Effect.sync(() => void updates.push(update)))
      assert.deepStrictEqual(updates, ["one", "two"])
    }).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))
})

it.effect.skipIf(process.platform !== "linux")(
  "README dead-peers example: a server that vanished is noticed 45 s after its last word",
  () =>
    Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* Tcp.listen({ shutdownGrace: 0 })
      yield* Effect.forkScoped(server.serve(newsServer(["one"], "quiet")))
      const updates: Array<string> = []
      const subscribing = yield* Effect.forkChild(
        Effect.flip(subscribe(server.address.port, (update) => Effect.sync(() => void updates.push(update))))
      )
      while (updates.length === 0) yield* Effect.yieldNow
      yield* network.stall(true)
      yield* TestClock.adjust("44999 millis")
      assert.isUndefined(subscribing.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(subscribing)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.include(error.message, "the peer stopped answering")
      yield* network.stall(false)
    }).pipe(Effect.scoped, Effect.provide(Tcp.layerTest))
)
