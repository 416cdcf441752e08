/**
 * The `bench` command's program: start the load (here, or in worker
 * processes), show a live progress line on a terminal, and report: a summary
 * for people, `--json` for machines (one object on stdout, the harness's
 * contract), or, in a worker, JSON lines for the parent. Interrupted (the
 * first SIGINT/SIGTERM), it drains and reports the partial summary.
 *
 * @since 0.1.0
 */
import type { OSError, Tcp } from "@effect-tcp/socket"
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as Schedule from "effect/Schedule"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Bench from "./Bench.ts"
import * as Summary from "./Summary.ts"
import * as Target from "./Target.ts"
import * as Workers from "./Workers.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Bench.Options {
  /** Processes to spread the connections over (1: this one). */
  readonly workers: number
  /** Print the summary as one JSON object on stdout. */
  readonly json: boolean
  /** Run as a worker of a parent bench: JSON lines on stdout. */
  readonly worker: boolean
  /** For workers: the program to run and a worker's arguments. */
  readonly entry: string
  readonly workerArgs: (connections: number) => ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export type Error = OSError.ConnectError | Workers.WorkerError | PlatformError

const encoder = new TextEncoder()

const mib = (bytes: number) => bytes / 1048576

/**
 * Runs the bench command.
 *
 * @since 0.1.0
 * @category running
 */
export const run = Effect.fn("BenchRun.run")(function*(
  options: Options
): Effect.fn.Return<void, Error, Tcp.Tcp | Stdio.Stdio> {
  const stdio = yield* Stdio.Stdio
  const print = (text: string) => Stream.make(encoder.encode(text)).pipe(Stream.run(stdio.stdout()))
  const printErr = (text: string) => Stream.make(encoder.encode(text)).pipe(Stream.run(stdio.stderr()))

  yield* Effect.gen(function*() {
    let bench: Bench.Bench<Workers.WorkerError>
    if (options.workers > 1 && !options.worker) {
      // one connection first, so that a server that is not there fails here, typed
      yield* Effect.scoped(Target.connect(options))
      bench = yield* Workers.make({ ...options, entry: options.entry, args: options.workerArgs })
    } else {
      bench = yield* Bench.make(options)
    }

    const terminal = !options.worker && (yield* stdio.stderrIsTerminal)
    let shown = false
    if (options.worker) {
      yield* Effect.suspend(() => print(JSON.stringify({ type: "progress", ...bench.live() }) + "\n")).pipe(
        Effect.ignore,
        Effect.repeat(Schedule.spaced("1 second")),
        Effect.forkScoped
      )
    } else if (terminal) {
      const started = performance.now()
      let last = bench.live()
      let lastTime = started
      yield* Effect.suspend(() => {
        const live = bench.live()
        const now = performance.now()
        const seconds = (now - lastTime) / 1000
        const rps = seconds > 0 ? (live.totalRequests - last.totalRequests) / seconds : 0
        const mibs = seconds > 0 ? mib(live.totalBytes - last.totalBytes) / seconds : 0
        last = live
        lastTime = now
        shown = true
        return printErr(
          `\r\x1b[K${((now - started) / 1000).toFixed(0)}s ${live.phase}: ${rps.toFixed(0)} req/s, ${
            mibs.toFixed(2)
          } MiB/s, ${live.requests} requests measured, ${live.errors} errors`
        )
      }).pipe(
        Effect.delay("1 second"),
        Effect.ignore,
        Effect.repeat(Schedule.spaced("1 second")),
        Effect.forkScoped
      )
    }

    const report = (partial: boolean) =>
      Effect.gen(function*() {
        const result = yield* bench.result
        if (shown) yield* printErr("\r\x1b[K").pipe(Effect.ignore)
        if (options.worker) {
          return yield* print(JSON.stringify(Summary.toWorkerLine(result)) + "\n")
        }
        const summary = Summary.fromResult(result)
        if (options.json) return yield* print(JSON.stringify(summary) + "\n")
        yield* print(Summary.format(summary, partial) + "\n")
      }).pipe(Effect.ignore)

    if (options.worker) {
      // connected: wait for the parent's go, so that all the workers measure the same period
      yield* print(JSON.stringify({ type: "ready" }) + "\n")
      yield* Workers.awaitGo
    }
    yield* bench.run.pipe(
      Effect.onInterrupt(() =>
        bench.drain.pipe(
          Effect.andThen(Effect.logWarning("interrupted: reporting what was measured")),
          Effect.andThen(report(true))
        )
      )
    )
    yield* report(false)
  }).pipe(Effect.scoped)
})
