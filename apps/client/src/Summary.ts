/**
 * What a bench run measured: the raw result (mergeable across workers, with
 * its encoded histogram) and the summary printed for people and, with
 * `--json`, for the benchmark harness.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Histogram from "./Histogram.ts"

/**
 * What one load generator measured over its measured period.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly connections: number
  readonly size: number
  /** The measured period (warmup excluded), in seconds. */
  readonly durationSeconds: number
  /** Echoes completed and verified in the measured period. */
  readonly requests: number
  /** Echoed bytes verified in the measured period (one direction). */
  readonly bytes: number
  readonly histogram: Histogram.Histogram
  /** Failures by tag, over the whole run. */
  readonly errors: Readonly<Record<string, number>>
}

/**
 * A result as a worker process reports it to its parent: one JSON line.
 *
 * @since 0.1.0
 * @category encoding
 */
export const WorkerResult = Schema.Struct({
  type: Schema.Literal("result"),
  connections: Schema.Number,
  size: Schema.Number,
  durationSeconds: Schema.Number,
  requests: Schema.Number,
  bytes: Schema.Number,
  histogram: Schema.String,
  errors: Schema.Record(Schema.String, Schema.Number)
})

/**
 * A worker's running totals, one JSON line a second.
 *
 * @since 0.1.0
 * @category encoding
 */
export const WorkerProgress = Schema.Struct({
  type: Schema.Literal("progress"),
  phase: Schema.Literals(["warmup", "measuring", "draining"]),
  requests: Schema.Number,
  bytes: Schema.Number,
  errors: Schema.Number,
  totalRequests: Schema.Number,
  totalBytes: Schema.Number
})

/**
 * A worker's connections are open: it waits for `go` on its stdin to start
 * its warmup, so that all the workers measure the same period.
 *
 * @since 0.1.0
 * @category encoding
 */
export const WorkerReady = Schema.Struct({ type: Schema.Literal("ready") })

/**
 * Any line a worker writes on its stdout.
 *
 * @since 0.1.0
 * @category encoding
 */
export const WorkerLine = Schema.Union([WorkerResult, WorkerProgress, WorkerReady])

/**
 * @since 0.1.0
 * @category encoding
 */
export const toWorkerLine = (result: Result): typeof WorkerResult.Type => ({
  type: "result",
  connections: result.connections,
  size: result.size,
  durationSeconds: result.durationSeconds,
  requests: result.requests,
  bytes: result.bytes,
  histogram: Histogram.encode(result.histogram),
  errors: result.errors
})

/**
 * @since 0.1.0
 * @category encoding
 */
export const fromWorkerLine = (line: typeof WorkerResult.Type): Result => ({
  connections: line.connections,
  size: line.size,
  durationSeconds: line.durationSeconds,
  requests: line.requests,
  bytes: line.bytes,
  histogram: Histogram.decode(line.histogram),
  errors: line.errors
})

/**
 * Adds error counts by tag.
 *
 * @since 0.1.0
 * @category combinators
 */
export const mergeErrors = (
  all: Iterable<Readonly<Record<string, number>>>
): Record<string, number> => {
  const merged: Record<string, number> = {}
  for (const errors of all) {
    for (const [tag, count] of Object.entries(errors)) merged[tag] = (merged[tag] ?? 0) + count
  }
  return merged
}

/**
 * Merges the results of workers that ran side by side: counts add up,
 * histograms merge, the measured period is the longest of theirs.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge = (results: ReadonlyArray<Result>, size: number): Result => ({
  connections: results.reduce((n, r) => n + r.connections, 0),
  size,
  durationSeconds: results.reduce((d, r) => Math.max(d, r.durationSeconds), 0),
  requests: results.reduce((n, r) => n + r.requests, 0),
  bytes: results.reduce((n, r) => n + r.bytes, 0),
  histogram: Histogram.merge(results.map((r) => r.histogram)),
  errors: mergeErrors(results.map((r) => r.errors))
})

/**
 * The summary: THE CONTRACT with the benchmark harness (`--json`), one object.
 *
 * @since 0.1.0
 * @category models
 */
export const Summary = Schema.Struct({
  connections: Schema.Number,
  size: Schema.Number,
  durationSeconds: Schema.Number,
  requests: Schema.Number,
  bytes: Schema.Number,
  requestsPerSecond: Schema.Number,
  mibPerSecond: Schema.Number,
  latencyMicros: Schema.Struct({
    min: Schema.Number,
    p50: Schema.Number,
    p90: Schema.Number,
    p99: Schema.Number,
    p999: Schema.Number,
    max: Schema.Number
  }),
  errors: Schema.Record(Schema.String, Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Summary = typeof Summary.Type

const round = (n: number, digits: number): number => {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const fromResult = (result: Result): Summary => {
  const seconds = result.durationSeconds
  return {
    connections: result.connections,
    size: result.size,
    durationSeconds: round(seconds, 6),
    requests: result.requests,
    bytes: result.bytes,
    requestsPerSecond: seconds > 0 ? round(result.requests / seconds, 3) : 0,
    mibPerSecond: seconds > 0 ? round(result.bytes / seconds / 1048576, 6) : 0,
    latencyMicros: Histogram.latency(result.histogram),
    errors: { ...result.errors }
  }
}

const ms = (micros: number): string => micros >= 1000 ? `${(micros / 1000).toFixed(2)} ms` : `${micros} µs`

/**
 * The summary for people, in the style of vmbench.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (summary: Summary, partial: boolean): string => {
  const l = summary.latencyMicros
  const errors = Object.entries(summary.errors)
  return [
    `${partial ? "partial " : ""}${summary.requests} requests in ${summary.durationSeconds.toFixed(3)} s, ` +
    `${summary.connections} connections, ${summary.size} bytes a message`,
    `  ${summary.requestsPerSecond.toFixed(1)} requests/s, ${summary.mibPerSecond.toFixed(3)} MiB/s ` +
    `(${summary.bytes} bytes echoed)`,
    `  latency min ${ms(l.min)}, p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, ` +
    `p99.9 ${ms(l.p999)}, max ${ms(l.max)}`,
    `  errors: ${errors.length === 0 ? "none" : errors.map(([tag, n]) => `${tag} ${n}`).join(", ")}`
  ].join("\n")
}
