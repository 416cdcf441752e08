// The server's lifecycle on the fake network (Tcp.layerTest): listening, shutdown, limits, stats.
import { Tcp } from "@effect-tcp/socket"

import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as EchoServer from "../src/EchoServer.ts"
import * as Metrics from "../src/Metrics.ts"
import { bytes, closedLogs, concat, fake, options, readAll, roundTrip, settle, start, waitFor } from "./fake.ts"

describe("EchoServer.run", () => {
  it.effect("logs where it serves, with the settings as annotations beside the address it got", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { port } = yield* start({
          maxConnections: 5,
          settings: { port: 0, maxConnections: 5, idleTimeoutSeconds: 300 }
        })
        const serving = logs.find((entry) => entry.message.startsWith("Serving on "))!
        assert.strictEqual(serving.message, `Serving on 127.0.0.1:${port}`)
        assert.strictEqual(serving.annotations.port, port)
        assert.strictEqual(serving.annotations.host, "127.0.0.1")
        assert.strictEqual(serving.annotations.maxConnections, 5)
        assert.strictEqual(serving.annotations.idleTimeoutSeconds, 300)
        assert.isFalse(logs.some((entry) => entry.level === "WARN"))
      })
    ))

  it.effect("warns when bound to all interfaces", () =>
    fake((logs) =>
      Effect.gen(function*() {
        yield* start({ host: "0.0.0.0" })
        const warning = logs.find((entry) => entry.level === "WARN")
        assert.isDefined(warning)
        assert.include(warning!.message, "all interfaces")
      })
    ))

  it.effect("fails with AddressInUseError when the port is taken", () =>
    fake(() =>
      Effect.gen(function*() {
        const { port } = yield* start()
        const error = yield* Effect.flip(EchoServer.run(options({ port })))
        assert.strictEqual(error._tag, "AddressInUseError")
        assert.strictEqual(error.port, port)
      })
    ))

  it.effect("shutdown: stops accepting at once, lets open connections finish, then logs the stats", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { fiber, port } = yield* start()
        const client = yield* Tcp.connect({ port })
        const echo = yield* Effect.forkChild(readAll(client))
        yield* client.write(bytes(1000, 1))
        yield* settle
        const stopping = yield* Effect.forkChild(Fiber.interrupt(fiber))
        yield* waitFor(logs, (entry) => entry.message === "Shutting down")
        // new connections are refused, the open one still echoes
        const refused = yield* Effect.flip(Tcp.connect({ port }))
        assert.strictEqual(refused._tag, "ConnectionRefusedError")
        yield* client.write(bytes(1000, 2))
        yield* client.end
        assert.deepStrictEqual(yield* Fiber.join(echo), concat([bytes(1000, 1), bytes(1000, 2)]))
        yield* Fiber.join(stopping)
        assert.strictEqual(closedLogs(logs)[0]!.annotations.reason, "eof")
        const messages = logs.map((entry) => entry.message)
        assert.isBelow(messages.indexOf("Shutting down"), messages.indexOf("Connection closed"))
        const stopped = logs.find((entry) => entry.message === "Stopped")!
        assert.isAbove(messages.indexOf("Stopped"), messages.indexOf("Connection closed"))
        assert.deepStrictEqual(stopped.annotations, {
          active: 0,
          accepted: 1,
          rejected: 0,
          failed: 0,
          bytesIn: 2000,
          bytesOut: 2000
        })
      })
    ))

  it.effect("shutdown: closes what is still open when the shutdown timeout runs out", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { fiber, port } = yield* start({ shutdownGrace: Duration.seconds(10) })
        const client = yield* Tcp.connect({ port })
        const echo = yield* Effect.forkChild(Effect.exit(readAll(client)))
        yield* client.write(bytes(10))
        yield* settle
        const stopping = yield* Effect.forkChild(Fiber.interrupt(fiber))
        yield* waitFor(logs, (entry) => entry.message === "Shutting down")
        yield* TestClock.adjust("9 seconds")
        yield* settle
        assert.strictEqual(closedLogs(logs).length, 0)
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(stopping)
        yield* Fiber.join(echo)
        const closed = closedLogs(logs)[0]!
        assert.strictEqual(closed.annotations.reason, "shutdown")
        assert.strictEqual(closed.annotations.bytesIn, 10)
        assert.isTrue(logs.some((entry) => entry.message === "Stopped"))
      })
    ))

  it.effect("counts connections rejected over --max-connections", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { fiber, port } = yield* start({ maxConnections: 1 })
        const first = yield* Tcp.connect({ port })
        yield* first.write(bytes(3))
        yield* settle
        const second = yield* Tcp.connect({ port })
        // the second is closed at once, without an echo
        const rejected = yield* Effect.exit(readAll(second))
        if (Exit.isSuccess(rejected)) assert.strictEqual(rejected.value.length, 0)
        yield* first.end
        assert.strictEqual((yield* readAll(first)).length, 3)
        yield* Fiber.interrupt(fiber)
        const stopped = logs.find((entry) => entry.message === "Stopped")!
        assert.strictEqual(stopped.annotations.accepted, 1)
        assert.strictEqual(stopped.annotations.rejected, 1)
      })
    ))

  it.effect("keeps the metrics and logs them every --stats-interval", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { port } = yield* start({ statsInterval: Duration.seconds(60) })
        for (const size of [100, 200]) {
          const client = yield* Tcp.connect({ port })
          yield* roundTrip(client, [bytes(size)])
        }
        const open = yield* Tcp.connect({ port })
        yield* open.write(bytes(1))
        yield* waitFor(logs, (entry) => entry.message === "Connection closed" && entry.annotations.bytesIn === 200)
        yield* TestClock.adjust("59 seconds")
        yield* settle
        assert.isFalse(logs.some((entry) => entry.message === "Stats"))
        yield* TestClock.adjust("1 second")
        yield* waitFor(logs, (entry) => entry.message === "Stats")
        const stats = logs.find((entry) => entry.message === "Stats")!
        assert.deepStrictEqual(stats.annotations, {
          active: 1,
          accepted: 3,
          rejected: 0,
          failed: 0,
          bytesIn: 300,
          bytesOut: 300
        })
        assert.strictEqual((yield* Metric.value(Metrics.connectionsAccepted)).count, 3)
        assert.strictEqual((yield* Metric.value(Metrics.connectionsActive)).value, 1)
        assert.strictEqual((yield* Metric.value(Metrics.bytesIn)).count, 300)
        assert.strictEqual((yield* Metric.value(Metrics.bytesOut)).count, 300)
        yield* TestClock.adjust("60 seconds")
        yield* waitFor(logs, () => logs.filter((entry) => entry.message === "Stats").length === 2)
      })
    ))
})
