// The metrics as a scrape reads them (Effect's PrometheusMetrics text), on the fake network with the
// TestClock: connection counts read live from the server, bytes, durations in their buckets, errors
// by tag; and the workers' metrics merged by the parent, each series labelled with its worker.
import { Tcp } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import * as V8 from "node:v8"
import * as Metrics from "../src/Metrics.ts"
import * as WorkerMetrics from "../src/WorkerMetrics.ts"
import { families, valueOf } from "./exposition.ts"
import { bytes, closedLogs, fake, roundTrip, settle, start, waitFor } from "./fake.ts"

describe("Metrics", () => {
  it.effect("a scrape reads the connections live, and bytes, durations and errors by tag once closed", () =>
    fake((logs) =>
      Effect.gen(function*() {
        const { port } = yield* start({ idleTimeout: Duration.seconds(2) })
        // a round trip that takes no time on the TestClock
        const quick = yield* Tcp.connect({ port })
        assert.strictEqual((yield* roundTrip(quick, [bytes(100), bytes(50)])).length, 150)
        yield* waitFor(logs, (entry) => entry.message === "Connection closed")
        // one left idle until the idle timeout closes it
        const idle = yield* Tcp.connect({ port })
        yield* idle.write(bytes(7))
        yield* settle
        const during = yield* PrometheusMetrics.format()
        // read from the server itself: no stats line was logged
        assert.isFalse(logs.some((entry) => entry.message === "Stats"))
        assert.strictEqual(valueOf(during, "echo_connections_accepted_total"), 2)
        assert.strictEqual(valueOf(during, "echo_connections_active"), 1)
        assert.strictEqual(valueOf(during, "echo_connections_rejected_total"), 0)
        assert.strictEqual(valueOf(during, "echo_connections_failed_total"), 0)
        assert.strictEqual(valueOf(during, "echo_bytes_in_total"), 150)

        yield* TestClock.adjust("2 seconds")
        yield* waitFor(logs, () => closedLogs(logs).length === 2)
        const after = yield* PrometheusMetrics.format()
        assert.strictEqual(valueOf(after, "echo_connections_active"), 0)
        assert.strictEqual(valueOf(after, "echo_bytes_in_total"), 157)
        assert.strictEqual(valueOf(after, "echo_bytes_out_total"), 157)
        assert.strictEqual(valueOf(after, `echo_connection_errors_total{error="TimeoutError"}`), 1)
        // 0 s and 2 s: one in the first bucket, both by 5 s
        const bucket = (le: string) => valueOf(after, `echo_connection_duration_seconds_bucket{le="${le}"}`)
        assert.deepStrictEqual(["0.001", "1", "5", "+Inf"].map(bucket), [1, 1, 2, 2])
        assert.strictEqual(valueOf(after, "echo_connection_duration_seconds_count"), 2)
        assert.strictEqual(valueOf(after, "echo_connection_duration_seconds_sum"), 2)
      })
    ))

  it.effect("Stopped logs the server's final counts", () =>
    fake((logs) =>
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const { port } = yield* start()
          yield* roundTrip(yield* Tcp.connect({ port }), [bytes(10)])
          yield* waitFor(logs, (entry) => entry.message === "Connection closed")
        }))
        const stopped = logs.find((entry) => entry.message === "Stopped")!
        assert.deepStrictEqual(stopped.annotations, {
          active: 0,
          accepted: 1,
          rejected: 0,
          failed: 0,
          bytesIn: 10,
          bytesOut: 10
        })
      })
    ))
})

/** A worker's metrics after `updates`, as they cross the IPC channel (v8's serialization). */
const workerSnapshot = (updates: Effect.Effect<void>): ReadonlyArray<Metric.Metric.Snapshot> =>
  V8.deserialize(V8.serialize(Effect.runSync(
    updates.pipe(Effect.andThen(Metric.snapshot), Effect.provideService(Metric.MetricRegistry, new Map()))
  )))

describe("WorkerMetrics.merge", () => {
  it("serves every worker's series with its worker label, one family each, and who did not answer", () => {
    const first = workerSnapshot(
      Metrics.recordClosed({ bytesIn: 10, bytesOut: 10, durationMillis: 20, error: "ConnectionResetError" })
    )
    const second = workerSnapshot(Effect.andThen(
      Metrics.recordClosed({ bytesIn: 5, bytesOut: 4, durationMillis: 2000 }),
      Metrics.recordClosed({ bytesIn: 1, bytesOut: 1, durationMillis: 0, error: "TimeoutError" })
    ))
    const text = PrometheusMetrics.formatUnsafe(WorkerMetrics.merge([[0, first], [1, second], [2, undefined]]))

    const declared = families(text)
    assert.deepStrictEqual(declared, [...new Set(declared)], "a family declared twice")
    assert.includeMembers([...declared], ["echo_worker_up", "echo_bytes_in_total", "echo_connection_duration_seconds"])
    assert.deepStrictEqual([0, 1, 2].map((worker) => valueOf(text, `echo_worker_up{worker="${worker}"}`)), [1, 1, 0])
    assert.strictEqual(valueOf(text, `echo_bytes_in_total{worker="0"}`), 10)
    assert.strictEqual(valueOf(text, `echo_bytes_in_total{worker="1"}`), 6)
    assert.strictEqual(valueOf(text, `echo_bytes_out_total{worker="1"}`), 5)
    assert.strictEqual(valueOf(text, `echo_connection_errors_total{error="ConnectionResetError",worker="0"}`), 1)
    assert.strictEqual(valueOf(text, `echo_connection_errors_total{error="TimeoutError",worker="1"}`), 1)
    assert.strictEqual(valueOf(text, `echo_connection_duration_seconds_bucket{worker="0",le="0.025"}`), 1)
    assert.strictEqual(valueOf(text, `echo_connection_duration_seconds_bucket{worker="1",le="1"}`), 1)
    assert.strictEqual(valueOf(text, `echo_connection_duration_seconds_bucket{worker="1",le="+Inf"}`), 2)
    assert.strictEqual(valueOf(text, `echo_connection_duration_seconds_sum{worker="1"}`), 2)
    // a worker that did not answer has no series but its up
    assert.deepStrictEqual(text.split("\n").filter((line) => line.includes(`worker="2"`)), [
      `echo_worker_up{worker="2"} 0`
    ])
  })
})
