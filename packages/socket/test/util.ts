// Helpers shared by the socket tests.
import { it } from "@effect/vitest"
import { Effect, Logger, Option, Pull, References, Stream } from "effect"
import type { Layer, Scope } from "effect"
import * as fc from "fast-check"
import type { Connection } from "../src/Connection.ts"
import type { ReadError } from "../src/OSError.ts"
import type { Tcp } from "../src/Tcp.ts"

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text)

export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/** Reads the connection to its end (the peer's FIN) as text. */
export const readAll = (connection: Connection): Effect.Effect<string, ReadError> =>
  Stream.runCollect(connection.stream).pipe(Effect.map((chunks) => decode(concat(chunks))))

export interface Reader {
  /** The next chunks as they come; `None` at the end of the stream. */
  readonly next: Effect.Effect<Option.Option<ReadonlyArray<Uint8Array>>, ReadError>
  /** Exactly `n` bytes (fewer only when the stream ends first). */
  readonly read: (n: number) => Effect.Effect<Uint8Array, ReadError>
  /** Everything up to the end of the stream. */
  readonly rest: Effect.Effect<Uint8Array, ReadError>
}

/** A pull-based reader over the connection's one stream, for protocols that read a bit at a time. */
export const reader = (connection: Connection): Effect.Effect<Reader, never, Scope.Scope> =>
  Effect.map(Stream.toPull(connection.stream), (pull) => {
    let buffered: Uint8Array = new Uint8Array(0)
    let ended = false
    const next = pull.pipe(
      Effect.map((chunks): Option.Option<ReadonlyArray<Uint8Array>> => Option.some(chunks)),
      Pull.catchDone(() => Effect.succeed(Option.none<ReadonlyArray<Uint8Array>>()))
    )
    const fill = (n: number): Effect.Effect<void, ReadError> =>
      Effect.gen(function*() {
        while (!ended && buffered.length < n) {
          const chunks = yield* next
          if (Option.isNone(chunks)) ended = true
          else buffered = concat([buffered, ...chunks.value])
        }
      })
    const take = (n: number): Uint8Array => {
      const out = buffered.slice(0, n)
      buffered = buffered.slice(n)
      return out
    }
    return {
      next: Effect.suspend(() => {
        if (buffered.length > 0) return Effect.succeed(Option.some([take(buffered.length)]))
        return next
      }),
      read: (n) => Effect.map(fill(n), () => take(n)),
      rest: Effect.map(fill(Infinity), () => take(buffered.length))
    }
  })

/** Polls `effect` on the Clock until `predicate` holds. */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  predicate: (a: A) => boolean,
  interval = 10
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    while (true) {
      const a = yield* effect
      if (predicate(a)) return a
      yield* Effect.sleep(interval)
    }
  })

/** A log line a test kept: its message and the annotations it carried. */
export interface Logged {
  readonly message: unknown
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps what the server logs, for a test to read (`layer` installs it). */
export const capture = () => {
  const logs: Array<Logged> = []
  const logger = Logger.make<unknown, void>((options) => {
    logs.push({ message: options.message, annotations: options.fiber.getRef(References.CurrentLogAnnotations) })
  })
  return { logs, layer: Logger.layer([logger]) }
}

/**
 * A contract suite's property: `runs` random inputs, each run as its own scoped program on `layer`, bounded
 * like the suite's other tests; the whole property within a minute.
 */
export const liveProperty = <A>(
  title: string,
  inputs: fc.Arbitrary<A>,
  run: (input: A) => Effect.Effect<void, unknown, Tcp | Scope.Scope>,
  layer: Layer.Layer<Tcp>,
  runs: number
): void =>
  it.live(
    title,
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(inputs, (input) =>
            Effect.runPromise(run(input).pipe(Effect.scoped, Effect.provide(layer), Effect.timeout("10 seconds")))),
          { numRuns: runs }
        )
      ),
    60_000
  )
