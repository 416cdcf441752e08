// The server on the fake network (Tcp.layerTest) for the tests of its modules: every timeout
// runs on the TestClock, in no real time, and the logs are captured.
import { Address, FakeNetwork, Tcp } from "@effect-tcp/socket"
import type { Connection, OSError } from "@effect-tcp/socket"
import { Deferred, Effect, Fiber, Logger, Metric, Scope, Stream } from "effect"
import * as EchoServer from "../src/EchoServer.ts"

export interface Entry {
  readonly message: string
  readonly level: string
  readonly annotations: Record<string, unknown>
}

/** Runs a test on the fake network, its logs captured, its metrics its own. */
export const fake = <A, E>(
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

export type Overrides =
  & Tcp.TcpListenOptions
  & Tcp.CommonListenOptions
  & Pick<EchoServer.Options, "statsInterval" | "settings">

export const options = ({ settings, statsInterval, ...listen }: Overrides = {}): EchoServer.Options => ({
  listen: { ...EchoServer.defaults, port: 0, ...listen },
  statsInterval,
  settings
})

/** Starts the server in the background; returns its fiber and address. */
export const start = (overrides?: Overrides): Effect.Effect<
  { readonly fiber: Fiber.Fiber<never, OSError.ListenError>; readonly port: number },
  never,
  Tcp.Tcp | Scope.Scope
> =>
  Effect.gen(function*() {
    const listening = yield* Deferred.make<Address.Address>()
    const fiber = yield* EchoServer.run(options(overrides), {
      onListening: (address) => Deferred.succeed(listening, address)
    }).pipe(Effect.forkScoped)
    const address = yield* Deferred.await(listening)
    if (!Address.isInet(address)) return yield* Effect.die(`listening on ${Address.format(address)}, not a port`)
    return { fiber, port: address.port }
  })

export const bytes = (length: number, seed = 0): Uint8Array => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

export const readAll = (connection: Connection.Connection): Effect.Effect<Uint8Array, OSError.ReadError> =>
  Effect.map(Stream.runCollect(connection.stream), concat)

/** Sends the chunks, half-closes, and reads the echo to its end, concurrently. */
export const roundTrip = (
  connection: Connection.Connection,
  chunks: ReadonlyArray<Uint8Array>
): Effect.Effect<Uint8Array, OSError.ReadError | OSError.WriteError> =>
  Effect.gen(function*() {
    const echo = yield* Effect.forkChild(readAll(connection))
    for (const chunk of chunks) yield* connection.write(chunk)
    yield* connection.end
    return yield* Fiber.join(echo)
  })

export const closedLogs = (logs: ReadonlyArray<Entry>) => logs.filter((entry) => entry.message === "Connection closed")

/** Lets the fibers the test started run until they wait on something. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

export const waitFor = (logs: ReadonlyArray<Entry>, predicate: (entry: Entry) => boolean) =>
  Effect.gen(function*() {
    while (!logs.some(predicate)) yield* Effect.yieldNow
  })
