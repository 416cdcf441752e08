// The bench on Tcp.layerTest, and its messages.
import { FakeNetwork, Tcp } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Bench from "../src/Bench.ts"
import * as Echo from "../src/Echo.ts"
import { fake, serve } from "./fake.ts"

describe("Bench on the fake network", () => {
  it.live("counts only the measured period, and its bytes agree with what the server got", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const bench = yield* Bench.make({
        ...Echo.defaults,
        port: server.port,
        connections: 4,
        size: 32,
        warmup: Duration.millis(50),
        duration: Duration.millis(300),
        grace: Duration.seconds(1)
      })
      yield* bench.run
      const result = yield* bench.result
      assert.strictEqual(result.connections, 4)
      assert.isAbove(result.requests, 0)
      assert.strictEqual(result.bytes, result.requests * 32)
      assert.strictEqual(result.histogram.totalCount, result.requests)
      assert.deepStrictEqual(result.errors, {})
      // measured on the high-resolution clock, while Node's timers count whole milliseconds of loop time
      // and can fire up to one early by it
      assert.isAtLeast(result.durationSeconds, 0.299)
      // the warmup's echoes and the last ones in flight are not counted
      assert.isAbove(server.received(), result.bytes)
    }).pipe(Effect.scoped, Effect.provide(Tcp.layerTest), Effect.timeout("10 seconds")))

  it.live("a reset connection is counted by tag and replaced", () =>
    Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* serve()
      yield* network.resetAfter(1000)
      const bench = yield* Bench.make({
        ...Echo.defaults,
        port: server.port,
        connections: 1,
        size: 100,
        warmup: Duration.zero,
        duration: Duration.millis(400),
        grace: Duration.millis(200)
      })
      yield* bench.run
      const result = yield* bench.result
      // the peer's RST: reset, or a broken pipe when it shows on a write first
      const lost = (result.errors.ConnectionResetError ?? 0) + (result.errors.BrokenPipeError ?? 0)
      assert.isAbove(lost, 1, JSON.stringify(result.errors))
      assert.isAbove((yield* server.stats).accepted, 1)
    }).pipe(Effect.scoped, Effect.provide(Tcp.layerTest), Effect.timeout("10 seconds")))

  it.effect("a server that is not there fails the bench with ConnectionRefusedError", () =>
    fake(Effect.gen(function*() {
      const error = yield* Effect.flip(Bench.make({
        ...Echo.defaults,
        port: 9,
        connections: 2,
        size: 10,
        warmup: Duration.zero,
        duration: Duration.seconds(1),
        grace: Duration.seconds(1)
      }))
      assert.strictEqual(error._tag, "ConnectionRefusedError")
    })))

  it("messages differ between connections", () => {
    assert.isFalse(Bench.message(64, 0).equals(Bench.message(64, 1)))
    assert.strictEqual(Bench.message(64, 0).length, 64)
  })
})
