// The adapter from a `Connection` to `effect/socket`'s `Socket` (`EffectSocket.toSocket`), and the pieces of it
// that the reconnecting socket (client.ts) shares: the reader, and writes that map our typed errors.
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { Connection } from "../../Connection.ts"
import type { WriteError } from "../../OSError.ts"

const closeError = (code: number): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

const writeError = (cause: WriteError): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

/** A chunk written with the connection's backpressure; a `CloseEvent` of code 1000 half-closes, any other resets. */
export const write = (
  connection: Connection,
  chunk: Uint8Array | string | Socket.CloseEvent
): Effect.Effect<void, Socket.SocketError> =>
  Socket.isCloseEvent(chunk)
    ? chunk.code === 1000 ? Effect.mapError(connection.end, writeError) : connection.reset
    : Effect.mapError(connection.write(chunk), writeError)

export const writeAll = (
  connection: Connection,
  chunks: NonEmptyReadonlyArray<Uint8Array | string>
): Effect.Effect<void, Socket.SocketError> => Effect.mapError(connection.writeAll(chunks), writeError)

/** Releasing a writer half-closes, waiting at most 5 seconds for the flush. */
export const endWriter = (connection: Connection): Effect.Effect<void> =>
  Effect.ignore(Effect.timeoutOption(connection.end, "5 seconds"))

export const toSocket = (connection: Connection): Socket.Socket =>
  Socket.make({ reader: openReader(connection), writer: writer(connection) })

/** A reader, and a way to fail it from outside: what the next pull fails with, after any batch it holds. */
export interface Reader extends Socket.Reader {
  readonly fail: (error: Socket.SocketError) => void
}

/** Reads `connection.stream` as a `Socket`'s reader: one batch in flight, closes and errors as `SocketError`. */
export const openReader = (connection: Connection): Effect.Effect<Reader, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    let batch: NonEmptyReadonlyArray<Uint8Array> | undefined
    let error: Socket.SocketError | undefined
    let taker: ((effect: Effect.Effect<NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>) => void) | undefined
    let producer: (() => void) | undefined

    const stop = (reason: Socket.SocketError): void => {
      if (error === undefined) error = reason
      const resume = taker
      if (resume !== undefined) {
        taker = undefined
        resume(Effect.fail(error))
      }
    }

    // One batch in flight: the producer waits until the consumer has taken it.
    const offer = (chunk: NonEmptyReadonlyArray<Uint8Array>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const resume = taker
        if (resume !== undefined) {
          taker = undefined
          resume(Effect.succeed(chunk))
          return Effect.void
        }
        batch = chunk
        return Effect.callback<void>((resumeProducer) => {
          producer = () => resumeProducer(Effect.void)
          return Effect.sync(() => {
            producer = undefined
          })
        })
      })

    yield* Scope.addFinalizer(scope, Effect.sync(() => stop(closeError(1006))))
    yield* Stream.runForEachArray(connection.stream, offer).pipe(
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => stop(closeError(1000))),
        onFailure: (cause) =>
          Effect.sync(() => stop(new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })))
      }),
      Effect.forkIn(scope)
    )

    const pull = Effect.callback<NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>((resume) => {
      const chunk = batch
      if (chunk !== undefined) {
        batch = undefined
        const next = producer
        producer = undefined
        if (next !== undefined) next()
        return resume(Effect.succeed(chunk))
      }
      if (error !== undefined) return resume(Effect.fail(error))
      taker = resume
      return Effect.sync(() => {
        if (taker === resume) taker = undefined
      })
    })
    return { pull, upgrade: Socket.SocketUpgradeError.unsupported, fail: stop }
  })

/** Writes to `connection` with its backpressure; releasing the writer half-closes it. */
const writer = (connection: Connection): Socket.Socket["writer"] =>
  Effect.acquireRelease(
    Effect.succeed<Socket.Writer>({
      write: (chunk) => write(connection, chunk),
      writeAll: (chunks) => writeAll(connection, chunks)
    }),
    () => endWriter(connection)
  )
