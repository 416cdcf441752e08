/**
 * `--workers N`: N server processes on one port with SO_REUSEPORT, the kernel
 * spreading connections among them.
 *
 * The parent only supervises: it starts the first worker, learns the real
 * port from it (so `--port 0` works), starts the others on that port, and
 * waits. On the first signal it forwards the signal to every worker, waits
 * for all of them to drain and exit, and exits 0 when they all exited 0. A
 * second signal makes the parent exit at once (130), sending each worker a
 * second signal on the way out so they exit at once too.
 *
 * A worker gets the parent's own arguments and environment, so it reads the
 * same flags; the port it listens on (the one the workers share) comes in
 * `ECHO_WORKER_PORT`, and it sets SO_REUSEPORT.
 *
 * Workers run in their own process group, so a Ctrl-C on the terminal reaches
 * them once, through the parent, and they watch the IPC channel to the parent:
 * if the parent disappears, they shut down gracefully on their own.
 *
 * @since 0.1.0
 */
import { Main } from "@effect-tcp/runtime"
import { Address } from "@effect-tcp/socket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ChildProcess from "node:child_process"

/**
 * The variable that marks a process as a worker, holding its index.
 *
 * @since 0.1.0
 * @category workers
 */
export const indexVariable = "ECHO_WORKER_INDEX"

/**
 * The variable that tells a worker the port the workers share.
 *
 * @since 0.1.0
 * @category workers
 */
export const portVariable = "ECHO_WORKER_PORT"

/**
 * A worker exited when it should not have, or not with 0.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkerExitError extends Schema.TaggedError<WorkerExitError>()("WorkerExitError", {
  index: Schema.Number,
  pid: Schema.Number,
  code: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  phase: Schema.Literals(["starting", "running", "shutdown"])
}) {
  override get message() {
    const how = this.code !== null ? `exited with code ${this.code}` : `was killed by ${this.signal}`
    const when = this.phase === "starting"
      ? " before listening"
      : this.phase === "running"
      ? " while serving"
      : " during shutdown"
    return `worker ${this.index} (pid ${this.pid}) ${how}${when}`
  }
}

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface Worker {
  readonly index: number
  readonly child: ChildProcess.ChildProcess
  readonly listening: Deferred.Deferred<number, WorkerExitError>
  readonly exited: Deferred.Deferred<Exited>
  /** Whether it told the parent it listens (a worker stopped before that has nothing to drain). */
  ready: boolean
}

const running = (worker: Worker) => worker.child.exitCode === null && worker.child.signalCode === null

const spawn = (index: number, port: number, options: Options): Effect.Effect<Worker> =>
  Effect.sync(() => {
    const child = ChildProcess.spawn(process.execPath, [...process.execArgv, options.script, ...options.args], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      detached: true,
      // structured clone, not JSON: metrics carry Infinity (a histogram's last bucket) and Maps
      serialization: "advanced",
      env: { ...process.env, [indexVariable]: String(index), [portVariable]: String(port) }
    })
    options.onSpawn?.(index, child)
    const listening = Deferred.makeUnsafe<number, WorkerExitError>()
    const exited = Deferred.makeUnsafe<Exited>()
    child.on("message", (message: unknown) => {
      if (
        typeof message === "object" && message !== null && "listening" in message &&
        typeof message.listening === "number"
      ) {
        worker.ready = true
        Deferred.doneUnsafe(listening, Effect.succeed(message.listening))
      }
    })
    child.on("exit", (code, signal) => {
      Deferred.doneUnsafe(exited, Effect.succeed({ code, signal }))
      Deferred.doneUnsafe(
        listening,
        Effect.fail(new WorkerExitError({ index, pid: child.pid ?? 0, code, signal, phase: "starting" }))
      )
    })
    // a spawn failure (no such executable) also ends in "exit" or "error"
    child.on("error", () => {
      Deferred.doneUnsafe(exited, Effect.succeed({ code: 1, signal: null }))
      Deferred.doneUnsafe(
        listening,
        Effect.fail(new WorkerExitError({ index, pid: child.pid ?? 0, code: 1, signal: null, phase: "starting" }))
      )
    })
    const worker: Worker = { index, child, listening, exited, ready: false }
    return worker
  })

/**
 * Stops the workers still running with `signal` and waits for every one to
 * exit; dies with a `WorkerExitError` if one did not exit with 0.
 */
const stop = (workers: ReadonlyArray<Worker>, signal: NodeJS.Signals): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (const worker of workers) {
      if (running(worker)) worker.child.kill(signal)
    }
    const starting = new Set(workers.filter((worker) => !worker.ready))
    const exits = yield* Effect.forEach(workers, (worker) => Deferred.await(worker.exited))
    // a worker still starting dies of the signal before it can handle it: that is a clean stop too
    const failed = exits.findIndex((exit, i) =>
      exit.code !== 0 && !(starting.has(workers[i]!) && exit.signal === signal)
    )
    if (failed !== -1) {
      const worker = workers[failed]!
      const exit = exits[failed]!
      yield* Effect.die(
        new WorkerExitError({
          index: worker.index,
          pid: worker.child.pid ?? 0,
          code: exit.code,
          signal: exit.signal,
          phase: "shutdown"
        })
      )
    }
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly count: number
  /** The port asked for: 0 means the first worker picks one and the others join it. */
  readonly port: number
  /** The script the workers run (this app's main.ts). */
  readonly script: string
  /** The workers' arguments: the parent's own. */
  readonly args: ReadonlyArray<string>
  /** Told of each worker as it starts (`--metrics-port` asks them for their metrics). */
  readonly onSpawn?: ((index: number, child: ChildProcess.ChildProcess) => void) | undefined
}

/**
 * Supervises `count` worker processes until interrupted (see the module's description).
 *
 * @since 0.1.0
 * @category running
 */
export const run: (options: Options) => Effect.Effect<never, WorkerExitError> = Effect.fn("Workers.run")(
  function*(options: Options) {
    const workers: Array<Worker> = []
    // a second signal: Main.run exits at once; pass it on so the workers do too
    const onExit = () => {
      for (const worker of workers) {
        if (running(worker)) worker.child.kill(Main.receivedSignal() ?? "SIGTERM")
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("exit", onExit)),
      () =>
        Effect.suspend(() => {
          const signal = Main.receivedSignal() ?? "SIGTERM"
          if (workers.length > 0) {
            return Effect.annotateLogs(Effect.logInfo("Stopping workers"), {
              signal,
              workers: workers.filter(running).length
            }).pipe(Effect.andThen(stop(workers, signal)))
          }
          return Effect.void
        }).pipe(Effect.ensuring(Effect.sync(() => process.off("exit", onExit))))
    )
    const start = (index: number, port: number) =>
      Effect.flatMap(spawn(index, port, options), (worker) => {
        workers.push(worker)
        return Deferred.await(worker.listening)
      })
    // with port 0 the first worker picks the port the others then share
    const port = options.port === 0 ? yield* start(0, 0) : options.port
    yield* Effect.forEach(
      Array.from({ length: options.count }, (_, index) => index).slice(options.port === 0 ? 1 : 0),
      (index) => start(index, port),
      { concurrency: "unbounded" }
    )
    yield* Effect.annotateLogs(Effect.logInfo(`Started ${options.count} workers on port ${port}`), {
      workers: options.count,
      port,
      pids: workers.map((worker) => worker.child.pid).join(",")
    })
    // a worker that exits on its own is a failure: the others are then stopped
    const [worker, exit] = yield* Effect.raceAll(
      workers.map((worker) => Effect.map(Deferred.await(worker.exited), (exit) => [worker, exit] as const))
    )
    return yield* new WorkerExitError({
      index: worker.index,
      pid: worker.child.pid ?? 0,
      code: exit.code,
      signal: exit.signal,
      phase: "running"
    })
  },
  Effect.scoped
)

/**
 * Is this process a worker started by `run`?
 *
 * @since 0.1.0
 * @category workers
 */
export const isWorker = (): boolean => process.env[indexVariable] !== undefined && process.send !== undefined

/**
 * This worker's index, for its logs.
 *
 * @since 0.1.0
 * @category workers
 */
export const workerIndex = (): number => Number(process.env[indexVariable] ?? "0")

/**
 * The port this worker listens on: the one the workers share (0 for the first
 * worker when the port is picked).
 *
 * @since 0.1.0
 * @category workers
 */
export const port = (): number => Number(process.env[portVariable] ?? "0")

/**
 * In a worker: tell the parent where it listens, and shut down gracefully if
 * the parent goes away.
 *
 * @since 0.1.0
 * @category workers
 */
export const onListening = (address: Address.Address): Effect.Effect<void> =>
  Effect.sync(() => {
    if (process.send === undefined || !process.connected) {
      // the parent is already gone
      process.kill(process.pid, "SIGTERM")
      return
    }
    process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))
    // with a callback, a parent that went away meanwhile is no uncaught error
    // workers share a port (SO_REUSEPORT): a Unix socket has none to share
    process.send(
      { listening: Address.isInet(address) ? address.port : Address.format(address) },
      undefined,
      {},
      () => {}
    )
  })
