// The README's library examples (examples/*.ts), run on both layers.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { echo } from "../examples/echo-server.ts"
import { readMessages } from "../examples/frames.ts"
import { hello } from "../examples/hello.ts"
import { unixEcho } from "../examples/unix.ts"
import { Tcp } from "../src/index.ts"

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
})
