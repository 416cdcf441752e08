// The echo and bench programs on Tcp.layerTest: the fake network, its faults, and the TestClock.
import { FakeNetwork, Tcp } from "@effect-tcp/socket"
import type { Connection } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Logger, Sink, Stdio, Stream } from "effect"
import type { Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Bench from "../src/Bench.ts"
import * as Echo from "../src/Echo.ts"

const encoder = new TextEncoder()

const concat = (chunks: ReadonlyArray<Uint8Array>): Buffer => Buffer.concat(chunks.map((c) => Buffer.from(c)))

/** What the program wrote on stdout, and a Stdio with that stdin. */
const stdio = (stdin: Stream.Stream<Uint8Array> = Stream.empty) => {
  const out: Array<Uint8Array> = []
  const layer = Stdio.layerTest({
    stdin,
    stdout: () =>
      Sink.forEach((chunk: string | Uint8Array) =>
        Effect.sync(() => out.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk))
      )
  })
  return { layer, stdout: () => concat(out) }
}

type Handler = (connection: Connection.Connection) => Effect.Effect<unknown, unknown>

const echoHandler: Handler = (connection) =>
  connection.stream.pipe(Stream.run(connection.sink), Effect.andThen(connection.end))

/** A fake server running `handler`, counting the bytes it receives. */
const serve = (handler: Handler = echoHandler) =>
  Effect.gen(function*() {
    const server = yield* Tcp.listen()
    let received = 0
    yield* Effect.forkScoped(server.serve((connection) =>
      handler({
        ...connection,
        stream: Stream.tap(connection.stream, (chunk) => Effect.sync(() => (received += chunk.length)))
      })
    ))
    return { port: server.address.port, received: () => received, stats: server.stats }
  })

const options = (port: number, overrides: Partial<Echo.Options> = {}): Echo.Options => ({
  ...Echo.defaults,
  port,
  ...overrides
})

const fake = <A, E>(self: Effect.Effect<A, E, Tcp.Tcp | FakeNetwork.FakeNetwork | Scope.Scope>) =>
  self.pipe(Effect.scoped, Effect.provide(Tcp.layerTest))

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
      assert.isAtLeast(result.durationSeconds, 0.3)
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
})
