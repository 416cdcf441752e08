/**
 * The load generator, in the style of vmbench (MagicStack's echo benchmark):
 * a closed loop of `connections`, each keeping one message of `size` bytes in
 * flight and checking every echoed byte. A warmup first, then the measured
 * period: requests, bytes and latencies (an HDR histogram) count only there.
 *
 * When the period ends, or on interruption, it drains: no new messages, each
 * connection half-closes after its last echo, and the in-flight echoes are
 * waited for within a grace period.
 *
 * @since 0.1.0
 */
import { Errors } from "@effect-tcp/runtime"
import type { Connection, OSError } from "@effect-tcp/socket"
import { Address, Tcp } from "@effect-tcp/socket"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as EchoMismatch from "./EchoMismatchError.ts"
import * as Histogram from "./Histogram.ts"
import type { Result } from "./Summary.ts"
import * as Target from "./Target.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Target.Target {
  readonly connections: number
  /** Bytes a message. */
  readonly size: number
  /** The measured period. */
  readonly duration: Duration.Duration
  /** Load before the measured period, not counted. */
  readonly warmup: Duration.Duration
  /** How long the drain waits for the echoes in flight. */
  readonly grace: Duration.Duration
}

/**
 * @since 0.1.0
 * @category models
 */
export type Phase = "warmup" | "measuring" | "draining"

/**
 * Running totals, for a progress line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Live {
  readonly phase: Phase
  /** Measured so far. */
  readonly requests: number
  readonly bytes: number
  readonly errors: number
  /** Every echo so far, warmup and drain included: for rates. */
  readonly totalRequests: number
  readonly totalBytes: number
}

/**
 * A bench whose connections are open and loaded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bench<E = never> {
  /** Warmup, measured period, then the drain. */
  readonly run: Effect.Effect<void, E>
  /** Stops sending and waits (within the grace period) for the echoes in flight. */
  readonly drain: Effect.Effect<void>
  /** What was measured so far (all of it once `run` is done). */
  readonly result: Effect.Effect<Result>
  readonly live: () => Live
}

/**
 * A recognizable, per-connection message, so that echoes crossed between
 * connections would not pass the check.
 *
 * @since 0.1.0
 * @category constructors
 */
export const message = (size: number, index: number): Buffer => {
  const bytes = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + index * 7 + 65) & 0xff
  return bytes
}

const tagOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return Errors.tagOf(error) ?? (error instanceof Error ? error.name : "UnknownError")
}

/**
 * Opens the connections (a failure to open them fails the bench: the server
 * is not there); `run` loads them. All of it belongs to the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<Bench, OSError.ConnectError, Tcp.Tcp | Scope.Scope> {
  const scope = yield* Effect.scope
  const tcp = yield* Tcp.Tcp
  const size = options.size
  const state: { phase: Phase } = { phase: "warmup" }
  let requests = 0
  let bytes = 0
  let errorCount = 0
  let totalRequests = 0
  const errors: Record<string, number> = {}
  let histogram = Histogram.make()
  let measureStart: bigint | undefined
  let measureEnd: bigint | undefined

  const draining = () => state.phase === "draining"

  const fail = (cause: Cause.Cause<unknown>) => {
    if (Cause.hasInterruptsOnly(cause)) return
    const tag = tagOf(cause)
    errors[tag] = (errors[tag] ?? 0) + 1
    errorCount++
  }

  // one connection's closed loop: write, wait for the whole echo, check it, write again
  const load = (connection: Connection.Connection, payload: Buffer) =>
    Effect.suspend(() => {
      const peer = Address.format(connection.remoteAddress)
      const write = connection.write(payload)
      let offset = 0
      let start = performance.now()
      let ended = false
      const onChunk = (chunk: Uint8Array): Effect.Effect<void, OSError.WriteError | EchoMismatch.EchoMismatchError> => {
        const n = chunk.length
        if (ended) return Effect.fail(EchoMismatch.extra(offset, chunk, peer))
        if (offset + n > size) {
          return Effect.fail(EchoMismatch.extra(offset, chunk, peer))
        }
        if (payload.compare(chunk, 0, n, offset, offset + n) !== 0) {
          return Effect.fail(EchoMismatch.differs(offset, payload.subarray(offset), chunk, peer))
        }
        offset += n
        if (offset < size) return Effect.void
        const now = performance.now()
        totalRequests++
        if (state.phase === "measuring") {
          requests++
          bytes += size
          histogram.recordValue(Math.max(1, Math.round((now - start) * 1000)))
        }
        offset = 0
        if (state.phase === "draining") {
          ended = true
          return connection.end
        }
        start = now
        return write
      }
      return write.pipe(
        Effect.andThen(Stream.runForEach(connection.stream, onChunk)),
        Effect.andThen(Effect.suspend(() =>
          // the server closed: fine after our half-close, a failure before
          ended ? Effect.void : Effect.fail(EchoMismatch.ended(offset, size - offset, peer))
        ))
      )
    })

  // a connection's life: load it; on failure count the error and reconnect, until the drain

  const loop = Effect.fnUntraced(function*(index: number, first: Connection.Connection, firstScope: Scope.Closeable) {
    const payload = message(size, index)
    const exit = yield* Effect.exit(load(first, payload))
    yield* Scope.close(firstScope, Exit.void)
    if (Exit.isFailure(exit)) fail(exit.cause)
    while (!draining()) {
      yield* Effect.sleep("100 millis")
      if (draining()) return
      const again = yield* Effect.exit(
        Effect.scoped(Effect.flatMap(Target.connect({ ...options, retries: 0 }), (c) => load(c, payload)))
      )
      if (Exit.isFailure(again)) fail(again.cause)
    }
  })

  const opened = yield* Effect.forEach(
    Array.from({ length: options.connections }, (_, i) => i),
    () =>
      Effect.gen(function*() {
        const connectionScope = yield* Scope.fork(scope)
        const connection = yield* Target.connect(options).pipe(
          Scope.provide(connectionScope),
          Effect.onError(() => Scope.close(connectionScope, Exit.void))
        )
        return [connection, connectionScope] as const
      }),
    { concurrency: "unbounded" }
  )
  yield* Effect.logInfo(`${options.connections} connections open`).pipe(
    Effect.annotateLogs({ size, warmup: Duration.format(options.warmup), duration: Duration.format(options.duration) })
  )
  // the load starts with `run`: a worker waits for its parent's go with its connections open and idle
  let fibers: ReadonlyArray<Fiber.Fiber<void>> = []

  const drain = Effect.gen(function*() {
    if (state.phase === "draining") return
    if (state.phase === "measuring") measureEnd = yield* Clock.currentTimeNanos
    state.phase = "draining"
    yield* Fiber.awaitAll(fibers).pipe(Effect.timeoutOption(options.grace))
  })

  const run = Effect.gen(function*() {
    fibers = yield* Effect.forEach(
      opened,
      ([connection, connectionScope], index) =>
        loop(index, connection, connectionScope).pipe(Effect.provideService(Tcp.Tcp, tcp), Effect.forkIn(scope))
    )
    yield* Effect.sleep(options.warmup)
    requests = 0
    bytes = 0
    histogram = Histogram.make()
    measureStart = yield* Clock.currentTimeNanos
    state.phase = "measuring"
    yield* Effect.sleep(options.duration)
    yield* drain
  })

  const result = Effect.map(Clock.currentTimeNanos, (now): Result => ({
    connections: options.connections,
    size,
    durationSeconds: measureStart === undefined ? 0 : Number((measureEnd ?? now) - measureStart) / 1e9,
    requests,
    bytes,
    histogram,
    errors: { ...errors }
  }))

  return {
    run,
    drain,
    result,
    live: () => ({
      phase: state.phase,
      requests,
      bytes,
      errors: errorCount,
      totalRequests,
      totalBytes: totalRequests * size
    })
  }
})
