// The echo program on Tcp.layerTest: the fake network, its faults, and the TestClock.
import { FakeNetwork } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Logger, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Echo from "../src/Echo.ts"
import { fake, options, serve, stdio } from "./fake.ts"

describe("Echo on the fake network", () => {
  it.effect("the seed: Hello World! comes back byte for byte", () =>
    fake(Effect.gen(function*() {
      const server = yield* serve()
      const io = stdio()
      yield* Echo.run(options(server.port)).pipe(Effect.provide(io.layer))
      assert.strictEqual(io.stdout().toString(), "Hello World!\n")
      assert.strictEqual(server.received(), 12)
    })))

  it.effect("--count 3 --interval 1: three exchanges a second apart, on the TestClock", () =>
    fake(Effect.gen(function*() {
      const server = yield* serve()
      const io = stdio()
      const fiber = yield* Echo.run(options(server.port, { message: "tick", count: 3, interval: Duration.seconds(1) }))
        .pipe(Effect.provide(io.layer), Effect.forkChild)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(io.stdout().toString(), "tick\n")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(io.stdout().toString(), "tick\ntick\n")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual(io.stdout().toString(), "tick\ntick\ntick\n")
      assert.strictEqual((yield* server.stats).accepted, 1)
    })))

  it.effect("--stdin: every byte through, however the network cuts the writes", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      yield* network.splitWrites(7)
      const server = yield* serve()
      const input = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 131) & 0xff))
      const chunks = Array.from({ length: 100 }, (_, i) => input.subarray(i * 1000, (i + 1) * 1000))
      const io = stdio(Stream.fromIterable(chunks))
      yield* Echo.run(options(server.port, { stdin: true })).pipe(Effect.provide(io.layer))
      assert.isTrue(io.stdout().equals(input))
      assert.strictEqual(server.received(), input.length)
    })))

  it.effect("an echo that differs fails with EchoMismatchError at the first differing byte", () =>
    fake(Effect.gen(function*() {
      const server = yield* serve((connection) =>
        connection.stream.pipe(
          Stream.map((chunk) => Uint8Array.from(chunk, (byte) => (byte === 0x6f ? 0x30 : byte))),
          Stream.run(connection.sink)
        )
      )
      const error = yield* Effect.flip(Echo.run(options(server.port)).pipe(Effect.provide(stdio().layer)))
      assert.strictEqual(error._tag, "EchoMismatchError")
      if (error._tag !== "EchoMismatchError") return
      assert.strictEqual(error.offset, 4)
      assert.include(error.message, "the echo differs at byte 4")
    })))

  it.effect("a server that closes before the whole echo: EchoMismatchError", () =>
    fake(Effect.gen(function*() {
      const server = yield* serve((connection) =>
        connection.stream.pipe(Stream.take(1), Stream.runDrain, Effect.andThen(connection.end))
      )
      const error = yield* Effect.flip(Echo.run(options(server.port)).pipe(Effect.provide(stdio().layer)))
      assert.strictEqual(error._tag, "EchoMismatchError")
      assert.include(error.message, "the echo ended after 0 bytes, expected 12 bytes more")
    })))

  it.effect("a connection reset on the way: ConnectionResetError", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* serve()
      yield* network.resetAfter(5)
      const error = yield* Effect.flip(Echo.run(options(server.port)).pipe(Effect.provide(stdio().layer)))
      assert.strictEqual(error._tag, "ConnectionResetError")
    })))

  it.effect("--retries 3: refused connects are retried with backoff on the TestClock", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* serve()
      yield* network.refuseNext(3, server.port)
      const io = stdio()
      const fiber = yield* Echo.run(options(server.port, { retries: 3 })).pipe(
        Effect.provide(io.layer),
        Effect.forkChild
      )
      // 100, 200, 400 ms, each within ±20%: not done before the first 80 ms...
      yield* TestClock.adjust("79 millis")
      assert.isUndefined(fiber.pollUnsafe())
      // ...and done after the longest possible backoff (120 + 240 + 480 ms)
      yield* TestClock.adjust("761 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(io.stdout().toString(), "Hello World!\n")
    })))

  it.effect("--retries 2: three refusals are one too many, the last error is the result", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* serve()
      yield* network.refuseNext(3, server.port)
      const fiber = yield* Echo.run(options(server.port, { retries: 2 })).pipe(
        Effect.provide(stdio().layer),
        Effect.forkChild
      )
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "ConnectionRefusedError")
      assert.strictEqual((yield* server.stats).accepted, 0)
    })))

  it.effect("--retries: a connection reset mid-message is reconnected, that message sent again, on the TestClock", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* serve()
      // the first connection: the first echo (5 + 5 bytes) whole, the second message sent, then a reset
      yield* network.resetAfter(15)
      const io = stdio()
      const fiber = yield* Echo.run(options(server.port, { message: "hello", count: 3, retries: 1 })).pipe(
        Effect.provide(io.layer),
        Effect.forkChild
      )
      while ((yield* server.stats).accepted < 1) yield* Effect.yieldNow
      yield* network.resetAfter(undefined)
      // the backoff before the reconnect: 100 ms within ±20%
      yield* TestClock.adjust("79 millis")
      assert.strictEqual((yield* server.stats).accepted, 1)
      yield* TestClock.adjust("41 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(io.stdout().toString(), "hello\nhello\nhello\n")
      assert.strictEqual((yield* server.stats).accepted, 2)
    })))

  it.effect("without --retries, the same reset is the result", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      const server = yield* serve()
      yield* network.resetAfter(15)
      const io = stdio()
      const error = yield* Effect.flip(
        Echo.run(options(server.port, { message: "hello", count: 3 })).pipe(Effect.provide(io.layer))
      )
      assert.strictEqual(error._tag, "ConnectionResetError")
      assert.strictEqual(io.stdout().toString(), "hello\n")
    })))

  it.effect("retries are for refused and timed-out connects only", () =>
    fake(Effect.gen(function*() {
      // nothing listens on this fake host: not retried however many retries are allowed
      const error = yield* Effect.flip(
        Echo.run(options(1, { host: "no-such-host.invalid", retries: 5 })).pipe(Effect.provide(stdio().layer))
      )
      assert.notStrictEqual(error._tag, "ConnectionRefusedError")
    })))

  it.effect("interrupted mid --count: half-closes, waits for the echo in flight, says what was done", () =>
    fake(Effect.gen(function*() {
      const network = yield* FakeNetwork.FakeNetwork
      yield* network.latency("50 millis")
      const server = yield* serve()
      const io = stdio()
      const logs: Array<string> = []
      const fiber = yield* Echo.run(options(server.port, { message: "m", count: 100, interval: Duration.seconds(1) }))
        .pipe(
          Effect.provide(io.layer),
          Effect.provide(Logger.layer([Logger.make(({ message }) => logs.push(String(message)))])),
          Effect.forkChild
        )
      // until the second message reaches the server: its echo is on the way back
      for (let i = 0; i < 300 && server.received() < 2; i++) yield* TestClock.adjust("10 millis")
      assert.strictEqual(server.received(), 2)
      yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
      yield* TestClock.adjust("100 millis")
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
      // the echo in flight came back during the drain: 2 bytes echoed
      assert.isTrue(logs.some((log) => log.startsWith("interrupted: 2 of 100 echoes, 2 bytes")), logs.join("\n"))
    })))
})
