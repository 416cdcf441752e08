/**
 * The server's metrics, as Effect `Metric`s an operator can read (and scrape
 * with `--metrics-port`): connections active, accepted, rejected and failed (read from
 * `Server.stats` whenever the metrics are read), bytes in and out, connection
 * errors by tag and a histogram of connection durations (added when a
 * connection closes, never per chunk: the echo path stays lean).
 *
 * @since 0.1.0
 */
import type { Tcp } from "@effect-tcp/socket"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"

/**
 * @since 0.1.0
 * @category metrics
 */
export const connectionsActive = Metric.gauge("echo_connections_active", {
  description: "Connections open now"
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const connectionsAccepted = Metric.counter("echo_connections_accepted_total", {
  description: "Connections accepted since the server started",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const connectionsRejected = Metric.counter("echo_connections_rejected_total", {
  description: "Connections reset at once because --max-connections was reached",
  incremental: true
})

/**
 * @since 0.2.0
 * @category metrics
 */
export const connectionsFailed = Metric.counter("echo_connections_failed_total", {
  description: "Connections reset before they were served: a failed TLS handshake or a rejected PROXY header",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const bytesIn = Metric.counter("echo_bytes_in_total", {
  description: "Bytes received from closed connections",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const bytesOut = Metric.counter("echo_bytes_out_total", {
  description: "Bytes echoed on closed connections",
  incremental: true
})

/**
 * Connections a socket error closed, one series per error tag (the `error`
 * label: `ConnectionResetError`, `TimeoutError` for an idle timeout, ...).
 *
 * @since 0.2.0
 * @category metrics
 */
export const connectionErrors = Metric.counter("echo_connection_errors_total", {
  description: "Connections closed by a socket error, by the error's tag",
  incremental: true
})

/**
 * The upper bounds of the duration histogram's buckets, in seconds: 1 ms to
 * an hour, about 4x apart, so that a bench's short connections, interactive
 * sessions and the default 300 s idle timeout each fall in buckets of their own.
 *
 * @since 0.2.0
 * @category metrics
 */
export const durationBuckets: ReadonlyArray<number> = [
  0.001,
  0.005,
  0.025,
  0.1,
  0.5,
  1,
  5,
  15,
  60,
  300,
  900,
  3600
]

/**
 * How long connections were open, from accept to close, in seconds.
 *
 * @since 0.2.0
 * @category metrics
 */
export const connectionDuration = Metric.histogram("echo_connection_duration_seconds", {
  description: "How long closed connections were open, in seconds",
  boundaries: Metric.boundariesFromIterable(durationBuckets)
})

// one series per tag, made once: a burst of resets costs no allocation per connection
const errorSeries = new Map<string, Metric.Counter<number>>()

const errorsTagged = (tag: string): Metric.Counter<number> => {
  let series = errorSeries.get(tag)
  if (series === undefined) {
    series = Metric.withAttributes(connectionErrors, { error: tag })
    errorSeries.set(tag, series)
  }
  return series
}

/**
 * What a connection left behind when it closed.
 *
 * @since 0.2.0
 * @category models
 */
export interface Closed {
  readonly bytesIn: number
  readonly bytesOut: number
  readonly durationMillis: number
  /** The tag of the error that closed it, if one did. */
  readonly error?: string | undefined
}

/**
 * Adds a closed connection: its bytes, its duration, and its error if one closed it.
 *
 * @since 0.1.0
 * @category updates
 */
export const recordClosed = (closed: Closed): Effect.Effect<void> =>
  Effect.andThen(
    Effect.all([
      Metric.update(bytesIn, closed.bytesIn),
      Metric.update(bytesOut, closed.bytesOut),
      Metric.update(connectionDuration, closed.durationMillis / 1000)
    ], { discard: true }),
    closed.error === undefined ? Effect.void : Metric.update(errorsTagged(closed.error), 1)
  )

const noUpdates = { update: () => {}, modify: () => {} }

/**
 * Backs the connection metrics (active, accepted, rejected, failed) by the server's
 * own counters, read each time the metrics are (a scrape, a stats line), for
 * as long as the scope lasts. `stats` gives `undefined` before the server
 * listens: the metrics then read 0.
 *
 * @since 0.2.0
 * @category updates
 */
export const observe = (stats: () => Tcp.ServerStats | undefined): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.contextWith((context: Context.Context<never>) =>
      Effect.sync(() => {
        // a counter that reads one of the server's counts (0 before it listens)
        const counter = (metric: Metric.Counter<number>, count: (now: Tcp.ServerStats) => number) =>
          Metric.registerUnsafe(metric, context, {
            get: () => {
              const now = stats()
              return { count: now === undefined ? 0 : count(now) }
            },
            ...noUpdates
          })
        return [
          Metric.registerUnsafe(connectionsActive, context, {
            get: () => ({ value: stats()?.active ?? 0 }),
            ...noUpdates
          }),
          counter(connectionsAccepted, (stats) => stats.accepted),
          counter(connectionsRejected, (stats) => stats.rejected),
          counter(connectionsFailed, (stats) => stats.failed)
        ]
      })
    ),
    (registrations) => Effect.sync(() => registrations.forEach((registration) => registration.remove()))
  ).pipe(Effect.asVoid)

/**
 * The numbers as they are now, for logs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly active: number
  readonly accepted: number
  readonly rejected: number
  readonly failed: number
  readonly bytesIn: number
  readonly bytesOut: number
}

/**
 * @since 0.1.0
 * @category getters
 */
export const snapshot: Effect.Effect<Snapshot> = Effect.all({
  active: Effect.map(Metric.value(connectionsActive), (state) => state.value),
  accepted: Effect.map(Metric.value(connectionsAccepted), (state) => state.count),
  rejected: Effect.map(Metric.value(connectionsRejected), (state) => state.count),
  failed: Effect.map(Metric.value(connectionsFailed), (state) => state.count),
  bytesIn: Effect.map(Metric.value(bytesIn), (state) => state.count),
  bytesOut: Effect.map(Metric.value(bytesOut), (state) => state.count)
})
