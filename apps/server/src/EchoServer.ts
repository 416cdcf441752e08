/**
 * The echo server as a program on the `Tcp` service: listen, log where, serve
 * every connection with the echo handler, log the stats now and then, and on
 * interruption (the first SIGINT/SIGTERM) stop accepting at once, let open
 * connections finish within the shutdown timeout, then log the final stats.
 *
 * @since 0.1.0
 */
import { Main } from "@effect-tcp/runtime"
import { Address, Tcp } from "@effect-tcp/socket"
import type { Connection, OSError } from "@effect-tcp/socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Echo from "./Echo.ts"
import * as Metrics from "./Metrics.ts"

/**
 * What the server listens with, and what it logs about it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** What `Tcp.listen` is asked for. */
  readonly listen: Tcp.ListenOptions
  /** `undefined`: stats are logged on shutdown only. */
  readonly statsInterval?: Duration.Duration | undefined
  /**
   * The settings as the user named them (the command line's), for the
   * "Serving on" line's annotations beside the address.
   */
  readonly settings?: Readonly<Record<string, unknown>> | undefined
  /** What serves each connection: `Echo.handler` unless told (`--otlp-endpoint` traces it). */
  readonly handler?: ((connection: Connection.Connection) => Effect.Effect<void>) | undefined
}

/**
 * The defaults of the command line: the seed's address, backlog and read
 * limit, with the security defaults on (idle timeout, connection cap).
 *
 * @since 0.1.0
 * @category models
 */
export const defaults = {
  host: "127.0.0.1",
  port: 8888,
  backlog: 100,
  reusePort: false,
  noDelay: true,
  readLimit: 65536,
  maxConnections: 10_000,
  idleTimeout: Duration.seconds(300),
  shutdownGrace: Duration.seconds(10)
} as const satisfies Tcp.ListenOptions

const logStats = (message: string): Effect.Effect<void> =>
  Effect.flatMap(Metrics.snapshot, (snapshot) => Effect.annotateLogs(Effect.logInfo(message), { ...snapshot }))

/**
 * Hooks for the process around the server (a worker tells its parent where it listens).
 *
 * @since 0.1.0
 * @category models
 */
export interface Hooks {
  readonly onListening?: ((address: Address.Address) => Effect.Effect<void>) | undefined
}

/**
 * Runs the echo server until interrupted. Fails only if it cannot listen
 * (`AddressInUseError` names the address); everything after that is logged.
 *
 * @since 0.1.0
 * @category running
 */
export const run: (options: Options, hooks?: Hooks) => Effect.Effect<never, OSError.ListenError, Tcp.Tcp> = Effect.fn(
  "EchoServer.run"
)(function*(options: Options, hooks?: Hooks) {
  let server: Tcp.Server | undefined
  // the metrics read the server's counters until everything below, the last stats line included, is done
  yield* Metrics.observe(() => server === undefined ? undefined : Effect.runSync(server.stats))
  // registered before listening, so it runs after the server has drained
  yield* Effect.addFinalizer(() => server === undefined ? Effect.void : logStats("Stopped"))
  server = yield* Tcp.listen(options.listen)
  const address = server.address
  yield* Effect.annotateLogs(
    Effect.logInfo(`Serving on ${Address.format(address)}`),
    { ...options.settings, ...(Address.isInet(address) ? { host: address.host, port: address.port } : address) }
  )
  if (Address.isInet(address) && Address.isUnspecified(address.host)) {
    yield* Effect.annotateLogs(
      Effect.logWarning(`Listening on all interfaces (${address.host}): reachable from other hosts`),
      { host: address.host, port: address.port }
    )
  }
  const listening = server
  // runs first on shutdown: the server's own finalizer then stops accepting and drains
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const stats = yield* listening.stats
      yield* Effect.annotateLogs(Effect.logInfo("Shutting down"), {
        signal: Main.receivedSignal() ?? "none",
        active: stats.active,
        // unset, Tcp's own grace applies: the same 10 seconds as ours
        shutdownTimeoutSeconds: Duration.toSeconds(options.listen.shutdownGrace ?? defaults.shutdownGrace)
      })
    })
  )
  if (options.statsInterval !== undefined) {
    yield* logStats("Stats").pipe(
      Effect.repeat(Schedule.spaced(options.statsInterval)),
      Effect.delay(options.statsInterval),
      Effect.forkScoped
    )
  }
  if (hooks?.onListening !== undefined) yield* hooks.onListening(address)
  return yield* listening.serve(options.handler ?? Echo.handler)
}, Effect.scoped)
