/**
 * The server's metrics, as Effect `Metric`s an operator can read: connections
 * active, accepted and rejected (synced from `Server.stats`), bytes in and out
 * (added when a connection closes, never per chunk: the echo path stays lean).
 *
 * @since 0.1.0
 */
import type { Tcp } from "@effect-tcp/socket"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

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
 * Adds a closed connection's byte counts.
 *
 * @since 0.1.0
 * @category updates
 */
export const recordClosed = (received: number, sent: number): Effect.Effect<void> =>
  Effect.andThen(Metric.update(bytesIn, received), Metric.update(bytesOut, sent))

/**
 * Brings the connection metrics up to the server's own counters (the
 * counters move by the difference, so they stay monotonic).
 *
 * @since 0.1.0
 * @category updates
 */
export const sync = (stats: Tcp.ServerStats): Effect.Effect<void> =>
  Effect.gen(function*() {
    const accepted = yield* Metric.value(connectionsAccepted)
    const rejected = yield* Metric.value(connectionsRejected)
    yield* Metric.update(connectionsActive, stats.active)
    if (stats.accepted > accepted.count) yield* Metric.update(connectionsAccepted, stats.accepted - accepted.count)
    if (stats.rejected > rejected.count) yield* Metric.update(connectionsRejected, stats.rejected - rejected.count)
  })

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
  bytesIn: Effect.map(Metric.value(bytesIn), (state) => state.count),
  bytesOut: Effect.map(Metric.value(bytesOut), (state) => state.count)
})
