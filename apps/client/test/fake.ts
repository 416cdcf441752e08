// The fake network (Tcp.layerTest) for the programs' tests: a fake echo server, stdio, options.
import { Tcp } from "@effect-tcp/socket"
import type { Connection, FakeNetwork, OSError } from "@effect-tcp/socket"
import { Effect, Sink, Stdio, Stream } from "effect"
import type { Scope } from "effect"
import * as Echo from "../src/Echo.ts"

export const encoder = new TextEncoder()

export const concat = (chunks: ReadonlyArray<Uint8Array>): Buffer => Buffer.concat(chunks.map((c) => Buffer.from(c)))

/** What the program wrote on stdout, and a Stdio with that stdin. */
export const stdio = (stdin: Stream.Stream<Uint8Array> = Stream.empty) => {
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

export type Handler = (connection: Connection.Connection) => Effect.Effect<unknown, unknown>

export const echoHandler: Handler = (connection) =>
  connection.stream.pipe(Stream.run(connection.sink), Effect.andThen(connection.end))

/** A fake server running `handler`, counting the bytes it receives. */
export const serve = (handler: Handler = echoHandler): Effect.Effect<
  { readonly port: number; readonly received: () => number; readonly stats: Effect.Effect<Tcp.ServerStats> },
  OSError.ListenError,
  Tcp.Tcp | Scope.Scope
> =>
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

export const options = (port: number, overrides: Partial<Echo.Options> = {}): Echo.Options => ({
  ...Echo.defaults,
  port,
  ...overrides
})

export const fake = <A, E>(self: Effect.Effect<A, E, Tcp.Tcp | FakeNetwork.FakeNetwork | Scope.Scope>) =>
  self.pipe(Effect.scoped, Effect.provide(Tcp.layerTest))
