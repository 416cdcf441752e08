// The echo handler and the server's lifecycle on the fake network
// (Tcp.layerTest): every timeout runs on the TestClock, in no real time.
import { FakeNetwork, Tcp } from "@effect-tcp/socket"
import type { Address, Connection } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Logger, Metric, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Echo from "../src/Echo.ts"
import * as EchoServer from "../src/EchoServer.ts"
import * as Metrics from "../src/Metrics.ts"

interface Entry {
  readonly message: string
  readonly level: string
  readonly annotations: Record<string, unknown>
}

/** Runs a test on the fake network, its logs captured, its metrics its own. */
const fake = <A, E>(
  body: (logs: ReadonlyArray<Entry>) => Effect.Effect<A, E, Tcp.Tcp | FakeNetwork.FakeNetwork | Scope.Scope>
): Effect.Effect<A, E> => {
  const logs: Array<Entry> = []
  const logger = Logger.map(Logger.formatStructured, (entry) => {
    logs.push({ message: String(entry.message), level: entry.level, annotations: entry.annotations })
  })
  return body(logs).pipe(
    Effect.scoped,
    Effect.provide(Tcp.layerTest),
    Effect.provide(Logger.layer([logger])),
    Effect.provideService(Metric.MetricRegistry, new Map())
  )
}

type Overrides = Tcp.ListenOptions & Pick<EchoServer.Options, "statsInterval" | "settings">

const options = ({ settings, statsInterval, ...listen }: Overrides = {}): EchoServer.Options => ({
  listen: { ...EchoServer.defaults, port: 0, ...listen },
  statsInterval,
  settings
})

/** Starts the server in the background; returns its fiber and address. */
const start = (overrides?: Overrides) =>
  Effect.gen(function*() {
    const listening = yield* Deferred.make<Address.Address>()
    const fiber = yield* EchoServer.run(options(overrides), {
      onListening: (address) => Deferred.succeed(listening, address)
    }).pipe(Effect.forkScoped)
    const address = yield* Deferred.await(listening)
    return { fiber, port: address.port }
  })

const bytes = (length: number, seed = 0): Uint8Array => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

const readAll = (connection: Connection.Connection) => Effect.map(Stream.runCollect(connection.stream), concat)

/** Sends the chunks, half-closes, and reads the echo to its end, concurrently. */
const roundTrip = (connection: Connection.Connection, chunks: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    const echo = yield* Effect.forkChild(readAll(connection))
    for (const chunk of chunks) yield* connection.write(chunk)
    yield* connection.end
    return yield* Fiber.join(echo)
  })

const closedLogs = (logs: ReadonlyArray<Entry>) => logs.filter((entry) => entry.message === "Connection closed")

/** Lets the fibers the test started run until they wait on something. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const waitFor = (logs: ReadonlyArray<Entry>, predicate: (entry: Entry) => boolean) =>
  Effect.gen(function*() {
    while (!logs.some(predicate)) yield* Effect.yieldNow
  })

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
        assert.strictEqual(opened.annotations.peer, `${client.localAddress.host}:${client.localAddress.port}`)
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
        assert.deepStrictEqual(stats.annotations, { active: 1, accepted: 3, rejected: 0, bytesIn: 300, bytesOut: 300 })
        assert.strictEqual((yield* Metric.value(Metrics.connectionsAccepted)).count, 3)
        assert.strictEqual((yield* Metric.value(Metrics.connectionsActive)).value, 1)
        assert.strictEqual((yield* Metric.value(Metrics.bytesIn)).count, 300)
        assert.strictEqual((yield* Metric.value(Metrics.bytesOut)).count, 300)
        yield* TestClock.adjust("60 seconds")
        yield* waitFor(logs, () => logs.filter((entry) => entry.message === "Stats").length === 2)
      })
    ))
})
