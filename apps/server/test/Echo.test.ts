// The echo handler on the fake network (Tcp.layerTest), served by EchoServer.run.
import { Address, FakeNetwork, Tcp } from "@effect-tcp/socket"

import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Echo from "../src/Echo.ts"
import { bytes, closedLogs, concat, fake, readAll, roundTrip, settle, start, waitFor } from "./fake.ts"

describe("Echo.handler", () => {
  it.effect("echoes many chunks in order and closes after the client's FIN", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const network = yield* FakeNetwork.FakeNetwork
        yield* network.splitWrites(7)
        const { port } = yield* start()
        const client = yield* Tcp.connect({ port })
        const chunks = Array.from({ length: 300 }, (_, i) => bytes(1 + (i * 37) % 500, i))
        const sent = concat(chunks)
        const echoed = yield* roundTrip(client, chunks)
        assert.deepStrictEqual(echoed, sent)
        yield* waitFor(logs, (entry) => entry.message === "Connection closed")
        const [closed] = closedLogs(logs)
        assert.strictEqual(closed!.annotations.reason, "eof")
        assert.strictEqual(closed!.annotations.bytesIn, sent.length)
        assert.strictEqual(closed!.annotations.bytesOut, sent.length)
        assert.isNumber(closed!.annotations.connectionId)
      })
    ))

  it.effect("echoes a large transfer with backpressure (the client writes before it reads)", () =>
    fake(() =>
      Effect.gen(function*() {
        const { port } = yield* start({ readLimit: 1024 })
        const client = yield* Tcp.connect({ port, readLimit: 1024 })
        const sent = bytes(1024 * 1024)
        const echoed = yield* roundTrip(client, [sent])
        assert.deepStrictEqual(echoed, sent)
      })
    ))

  it.effect("logs the connection opened with its peer, id and the socket's options", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { port } = yield* start()
        const client = yield* Tcp.connect({ port })
        yield* roundTrip(client, [bytes(10)])
        yield* waitFor(logs, (entry) => entry.message === "Connection closed")
        const opened = logs.find((entry) => entry.message === "Connection opened")!
        assert.strictEqual(opened.level, "INFO")
        assert.strictEqual(opened.annotations.peer, Address.format(client.localAddress))
        assert.isNumber(opened.annotations.connectionId)
        for (const option of ["SO_REUSEADDR", "SO_REUSEPORT", "SO_RCVBUF", "SO_SNDBUF"]) {
          assert.isString(opened.annotations[option], option)
        }
        const closed = closedLogs(logs)[0]!
        assert.strictEqual(closed.annotations.peer, opened.annotations.peer)
        assert.strictEqual(closed.annotations.connectionId, opened.annotations.connectionId)
        assert.isNumber(closed.annotations.durationMs)
      })
    ))

  it.effect("closes an idle connection after the idle timeout", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { port } = yield* start({ idleTimeout: Duration.seconds(300) })
        const client = yield* Tcp.connect({ port })
        const echo = yield* Effect.forkChild(Effect.exit(readAll(client)))
        yield* client.write(bytes(5))
        yield* settle
        yield* TestClock.adjust("299 seconds")
        yield* settle
        assert.strictEqual(closedLogs(logs).length, 0)
        yield* TestClock.adjust("2 seconds")
        yield* waitFor(logs, (entry) => entry.message === "Connection closed")
        const closed = closedLogs(logs)[0]!
        assert.strictEqual(closed.annotations.reason, "idle-timeout")
        assert.strictEqual(closed.annotations.error, "TimeoutError")
        assert.strictEqual(closed.annotations.bytesIn, 5)
        // the client got its 5 bytes back, then the connection ended
        const exit = yield* Fiber.join(echo)
        if (Exit.isSuccess(exit)) assert.strictEqual(exit.value.length, 5)
      })
    ))

  it.effect("logs a reset with its error tag, and other connections go on", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const network = yield* FakeNetwork.FakeNetwork
        const { port } = yield* start()
        const healthy = yield* Tcp.connect({ port })
        yield* network.resetAfter(10)
        const doomed = yield* Tcp.connect({ port })
        yield* network.resetAfter(undefined)
        yield* Effect.exit(doomed.write(bytes(100)))
        yield* waitFor(logs, (entry) => entry.message === "Connection closed")
        const closed = closedLogs(logs)[0]!
        assert.strictEqual(closed.annotations.reason, "reset")
        // the server meets the RST reading (reset) or writing the echo (broken pipe)
        assert.include(["ConnectionResetError", "BrokenPipeError"], closed.annotations.error)
        assert.isString(closed.annotations.errorMessage)
        // the handler's failure was this connection's only
        const sent = bytes(4096)
        assert.deepStrictEqual(yield* roundTrip(healthy, [sent]), sent)
        const fresh = yield* Tcp.connect({ port })
        assert.deepStrictEqual(yield* roundTrip(fresh, [sent]), sent)
        // logged once, as the close: the handler itself ends without a failure
        assert.isFalse(logs.some((entry) => entry.message === "Connection handler failed"))
      })
    ))
})

describe("Echo.closedBy", () => {
  it("names why a connection closed", () => {
    assert.deepStrictEqual(Echo.closedBy(Exit.void), { reason: "eof" })
    assert.strictEqual(Echo.closedBy(Exit.interrupt()).reason, "shutdown")
    assert.strictEqual(Echo.closedBy(Exit.die(new Error("bug"))).reason, "error")
  })
})
