/**
 * The metrics of `--workers N`, scraped through the parent: the workers share
 * the echo port, and a scrape of a shared port would reach one worker chosen by
 * the kernel, so the parent serves the one metrics endpoint. At each scrape it
 * asks every worker over the IPC channel they already share for its metrics
 * (`Metric.snapshot`), and serves them all, each series with a `worker` label
 * (the worker's index), plus `echo_worker_up{worker}`: 1 for each worker that
 * answered within `timeout`, 0 for one that did not (its series are then
 * missing from that scrape, which Prometheus reads as stale, not as 0).
 *
 * One scrape target however many workers, the same one as without
 * `--workers`, and `--metrics-port 0` works as it does for one process.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as ChildProcess from "node:child_process"

interface Request {
  readonly metricsRequest: number
}

interface Response {
  readonly metricsResponse: number
  readonly snapshots: ReadonlyArray<Metric.Metric.Snapshot>
}

const isRequest = (message: unknown): message is Request =>
  typeof message === "object" && message !== null && "metricsRequest" in message &&
  typeof message.metricsRequest === "number"

const isResponse = (message: unknown): message is Response =>
  typeof message === "object" && message !== null && "metricsResponse" in message &&
  typeof message.metricsResponse === "number" && "snapshots" in message && Array.isArray(message.snapshots)

const answerFrom = (context: Context.Context<never>) => (message: unknown): void => {
  if (!isRequest(message) || process.send === undefined || !process.connected) return
  const response: Response = { metricsResponse: message.metricsRequest, snapshots: Metric.snapshotUnsafe(context) }
  // with a callback, a parent gone meanwhile is no uncaught error
  process.send(response, undefined, {}, () => {})
}

/**
 * In a worker: answer the parent's requests for this process's metrics, for
 * as long as the scope lasts.
 *
 * @since 0.2.0
 * @category workers
 */
export const answer: Effect.Effect<void, never, Scope.Scope> = Effect.contextWith((context: Context.Context<never>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const listener = answerFrom(context)
      process.on("message", listener)
      return listener
    }),
    (listener) => Effect.sync(() => process.off("message", listener))
  )
).pipe(Effect.asVoid)

/**
 * `1` for each worker that answered the scrape, `0` for one that did not.
 *
 * @since 0.2.0
 * @category metrics
 */
export const workerUp = Metric.gauge("echo_worker_up", {
  description: "1 if the worker answered this scrape in time, else 0 (its series are then missing)"
})

/** The same metric as the one a worker snapshotted, with more attributes, to register its state under. */
const seriesOf = (snapshot: Metric.Metric.Snapshot, attributes: Metric.Metric.AttributeSet) => {
  const { description, id } = snapshot
  switch (snapshot.type) {
    case "Counter":
      return Metric.counter(id, { description, attributes })
    case "Gauge":
      return Metric.gauge(id, { description, attributes })
    case "Frequency":
      return Metric.frequency(id, { description, attributes })
    case "Histogram":
      return Metric.histogram(id, {
        description,
        attributes,
        boundaries: snapshot.state.buckets.map(([boundary]) => boundary)
      })
    case "Summary":
      return Metric.summary(id, {
        description,
        attributes,
        maxAge: Duration.minutes(1),
        maxSize: 1,
        quantiles: snapshot.state.quantiles.map(([quantile]) => quantile)
      })
  }
}

const noUpdates = { update: () => {}, modify: () => {} }

/**
 * The workers' metrics as one registry, each series labelled with its
 * worker's index: what `PrometheusMetrics` formats.
 *
 * @since 0.2.0
 * @category formatting
 */
export const merge = (
  answers: ReadonlyArray<readonly [index: number, snapshots: ReadonlyArray<Metric.Metric.Snapshot> | undefined]>
): Context.Context<never> => {
  const context = Context.make(Metric.MetricRegistry, new Map())
  for (const [index, snapshots] of answers) {
    const worker = String(index)
    Metric.registerUnsafe(Metric.withAttributes(workerUp, { worker }), context, {
      get: () => ({ value: snapshots === undefined ? 0 : 1 }),
      ...noUpdates
    })
    for (const snapshot of snapshots ?? []) {
      const series = seriesOf(snapshot, { ...snapshot.attributes, worker }) as Metric.Metric<unknown, unknown>
      Metric.registerUnsafe(series, context, { get: () => snapshot.state, ...noUpdates })
    }
  }
  return context
}

/**
 * In the parent: the workers it started, and how to collect their metrics.
 *
 * @since 0.2.0
 * @category models
 */
export interface Pool {
  /** A worker started: from now on it is asked at every scrape. */
  readonly add: (index: number, child: ChildProcess.ChildProcess) => void
  /** Every worker's metrics, labelled (see `merge`). */
  readonly collect: Effect.Effect<Context.Context<never>>
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const makePool = (options: { readonly timeout: Duration.Input }): Pool => {
  const workers = new Map<number, ChildProcess.ChildProcess>()
  const pending = new Map<number, (snapshots: ReadonlyArray<Metric.Metric.Snapshot> | undefined) => void>()
  let next = 0
  const ask = (child: ChildProcess.ChildProcess) =>
    Effect.callback<ReadonlyArray<Metric.Metric.Snapshot> | undefined>((resume) => {
      const id = next++
      const done = (snapshots: ReadonlyArray<Metric.Metric.Snapshot> | undefined) => {
        pending.delete(id)
        resume(Effect.succeed(snapshots))
      }
      if (!child.connected) return done(undefined)
      pending.set(id, done)
      const request: Request = { metricsRequest: id }
      child.send(request, undefined, {}, (error) => {
        if (error !== null) done(undefined)
      })
      return Effect.sync(() => pending.delete(id))
    }).pipe(
      Effect.timeoutOrElse({ duration: options.timeout, orElse: () => Effect.succeed(undefined) })
    )
  return {
    add: (index, child) => {
      workers.set(index, child)
      child.on("message", (message: unknown) => {
        if (isResponse(message)) pending.get(message.metricsResponse)?.(message.snapshots)
      })
    },
    collect: Effect.suspend(() =>
      Effect.forEach(
        [...workers].toSorted(([a], [b]) => a - b),
        ([index, child]) => Effect.map(ask(child), (snapshots) => [index, snapshots] as const),
        { concurrency: "unbounded" }
      )
    ).pipe(Effect.map(merge))
  }
}
