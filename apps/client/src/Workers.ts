/**
 * `bench --workers N`: the load spread over N child processes of this program,
 * so that the generator is not the bottleneck. Each child runs `bench --worker`
 * with its share of the connections and reports on its stdout, one JSON line
 * a second (progress) and one at the end (its result, with its encoded
 * histogram); the parent merges them.
 *
 * The children run in their own process group: a terminal's Ctrl-C reaches
 * the parent only, which passes one SIGINT on to each child, so they drain
 * and report once. A child whose parent is gone (its stdin closes) stops too.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"
import type * as Bench from "./Bench.ts"
import type { Result } from "./Summary.ts"
import * as Summary from "./Summary.ts"

/**
 * A worker process ended without reporting a result.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkerError extends Schema.TaggedError<WorkerError>()("WorkerError", {
  worker: Schema.Number,
  exitCode: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    return `bench worker ${this.worker} ended with ${
      this.signal !== null ? `signal ${this.signal}` : `exit code ${this.exitCode}`
    } and no result`
  }
}

/**
 * Splits `connections` into `workers` shares as even as can be (no empty share).
 *
 * @since 0.1.0
 * @category constructors
 */
export const shares = (connections: number, workers: number): ReadonlyArray<number> => {
  const n = Math.max(1, Math.min(workers, connections))
  return Array.from({ length: n }, (_, i) => Math.floor(connections / n) + (i < connections % n ? 1 : 0))
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Bench.Options {
  readonly workers: number
  /** The program to run (`apps/client/src/main.ts`). */
  readonly entry: string
  /** The arguments for a worker with that many connections (after `bench`). */
  readonly args: (connections: number) => ReadonlyArray<string>
}

interface Worker {
  readonly index: number
  readonly child: ChildProcess
  /** Done when the worker's connections are open (or it has ended). */
  readonly ready: Deferred.Deferred<void>
  readonly exited: Fiber.Fiber<{ readonly code: number | null; readonly signal: string | null }>
  progress: typeof Summary.WorkerProgress.Type | undefined
  result: Result | undefined
}

const decodeLine = Schema.decodeUnknownOption(Schema.fromJsonString(Summary.WorkerLine))

const spawnWorker = (options: Options, index: number, connections: number) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const child = spawn(
        process.execPath,
        [...process.execArgv, options.entry, "bench", ...options.args(connections)],
        {
          stdio: ["pipe", "pipe", "inherit"],
          detached: true
        }
      )
      const exited = yield* Effect.callback<{ readonly code: number | null; readonly signal: string | null }>(
        (resume) => {
          child.once("close", (code, signal) => resume(Effect.succeed({ code, signal })))
          child.once("error", () => resume(Effect.succeed({ code: null, signal: null })))
        }
      ).pipe(Effect.forkDetach)
      const ready = Deferred.makeUnsafe<void>()
      child.once("close", () => Deferred.doneUnsafe(ready, Exit.void))
      const worker: Worker = { index, child, ready, exited, progress: undefined, result: undefined }
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const decoded = decodeLine(line)
        if (decoded._tag === "None") return
        switch (decoded.value.type) {
          case "ready":
            return Deferred.doneUnsafe(ready, Exit.void)
          case "progress":
            worker.progress = decoded.value
            return
          case "result":
            worker.result = Summary.fromWorkerLine(decoded.value)
        }
      })
      return worker
    }),
    (worker) =>
      Effect.sync(() => {
        if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGKILL")
      })
  )

/**
 * Starts the workers; the same shape as a bench in this process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<Bench.Bench<WorkerError>, never, Scope.Scope> {
  const workers = yield* Effect.forEach(
    shares(options.connections, options.workers),
    (n, i) => spawnWorker(options, i, n)
  )
  // every worker connected: they all start their warmup, then their measured period, now
  yield* Effect.forEach(workers, (worker) => Deferred.await(worker.ready), { discard: true })
  for (const worker of workers) worker.child.stdin?.write("go\n")
  yield* Effect.logInfo(`${workers.length} workers started`)
  let draining = false

  const check = Effect.forEach(workers, (worker) =>
    Effect.gen(function*() {
      const { code, signal } = yield* Fiber.join(worker.exited)
      if (worker.result === undefined) {
        return yield* new WorkerError({ worker: worker.index, exitCode: code, signal })
      }
    }), { discard: true })

  const run = check.pipe(
    // one worker failing stops the others (an interruption drains them instead)
    Effect.tapError(() =>
      Effect.sync(() => {
        for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGTERM")
      })
    )
  )

  const drain = Effect.gen(function*() {
    if (draining) return
    draining = true
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill("SIGINT")
    }
    yield* Fiber.awaitAll(workers.map((w) => w.exited)).pipe(
      Effect.timeoutOption(Duration.sum(options.grace, Duration.seconds(2)))
    )
  })

  const result = Effect.sync((): Result => {
    const results = workers.flatMap((w) => (w.result === undefined ? [] : [w.result]))
    return Summary.merge(results, options.size)
  })

  const live = (): Bench.Live => {
    let requests = 0
    let bytes = 0
    let errors = 0
    let totalRequests = 0
    let totalBytes = 0
    for (const worker of workers) {
      requests += worker.progress?.requests ?? 0
      bytes += worker.progress?.bytes ?? 0
      errors += worker.progress?.errors ?? 0
      totalRequests += worker.progress?.totalRequests ?? 0
      totalBytes += worker.progress?.totalBytes ?? 0
    }
    // the least advanced worker's phase: a worker not heard from yet is warming up
    const phase: Bench.Phase = draining
      ? "draining"
      : workers.some((w) => w.progress === undefined || w.progress.phase === "warmup")
      ? "warmup"
      : workers.every((w) => w.progress?.phase === "draining")
      ? "draining"
      : "measuring"
    return { phase, requests, bytes, errors, totalRequests, totalBytes }
  }

  return { run, drain, result, live }
})

const stop = () => process.kill(process.pid, "SIGTERM")

const go = Deferred.makeUnsafe<void>()

/**
 * In a worker: stop (as on SIGTERM) when the parent is gone and stdin closes;
 * listen for the parent's `go`.
 *
 * @since 0.1.0
 * @category worker
 */
export const watchParent: Effect.Effect<void> = Effect.sync(() => {
  process.stdin.once("end", stop)
  process.stdin.once("close", stop)
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim() === "go") Deferred.doneUnsafe(go, Exit.void)
  })
})

/**
 * In a worker: waits for the parent's `go` (all the workers are connected).
 *
 * @since 0.1.0
 * @category worker
 */
export const awaitGo: Effect.Effect<void> = Deferred.await(go)
