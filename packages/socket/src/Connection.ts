/**
 * One open TCP connection, owned by a `Scope`: closing the scope closes the
 * socket, on success, failure and interruption alike.
 *
 * @since 0.1.0
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { Address } from "./Address.ts"
import type { ReadError, WriteError } from "./OSError.ts"
import type { SocketOptions } from "./SocketOptions.ts"

/**
 * An open TCP connection: the peer's bytes as a `Stream`, writes with
 * backpressure, half-close, reset, its addresses, options and byte counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** A number unique among this process's connections (on both layers), for logs. */
  readonly id: number
  readonly remoteAddress: Address
  readonly localAddress: Address
  /**
   * The bytes the peer sends, pulled from the socket: nothing more than the
   * read limit is read ahead of the consumer. The peer's FIN ends the stream;
   * it is not an error. This is the socket's one read side: one reader at a time (run it again once the
   * first run ended); a second fiber pulling while another waits is a defect, as in asyncio.
   */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /** Writes bytes; suspends while the socket's send buffer is full (backpressure). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, WriteError>
  /** Writes a batch of chunks in one flush; suspends like `write`. */
  readonly writeAll: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, WriteError>
  /** A sink that writes every chunk it receives, with backpressure. It does not end the connection. */
  readonly sink: Sink.Sink<void, Uint8Array, never, WriteError>
  /**
   * Copies everything the peer sends to `destination` until the peer's FIN,
   * with backpressure, and succeeds with the number of bytes copied (Tokio's
   * `io::copy`). It reads this connection's stream: run one or the other. It
   * does not end `destination`. `connection.copyTo(connection)` is an echo.
   * Between two connections of the Node layer the bytes go from socket to
   * socket with no Effect per chunk.
   */
  readonly copyTo: (destination: Connection) => Effect.Effect<number, ReadError | WriteError>
  /** Half-close: flushes what was written and sends FIN. The peer reads EOF; reading here goes on. */
  readonly end: Effect.Effect<void, WriteError>
  /** Aborts the connection with a RST (SO_LINGER 0): the peer sees `ConnectionResetError`. */
  readonly reset: Effect.Effect<void>
  /** The socket's live options, read from the kernel. */
  readonly options: Effect.Effect<SocketOptions>
  /** Bytes received so far: arrived from the peer, whether or not `stream` has delivered them yet. */
  readonly bytesRead: Effect.Effect<number>
  /** Bytes written so far. */
  readonly bytesWritten: Effect.Effect<number>
}

/**
 * `copyTo` for any two connections: `source.stream` run into `destination.writeAll`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const copy = (source: Connection, destination: Connection): Effect.Effect<number, ReadError | WriteError> =>
  Effect.suspend(() => {
    let copied = 0
    return source.stream.pipe(
      Stream.runForEachArray((chunks) => {
        for (let i = 0; i < chunks.length; i++) copied += chunks[i].length
        return destination.writeAll(chunks)
      }),
      Effect.map(() => copied)
    )
  })

const encoder = new TextEncoder()

const closeError = (code: number): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

const writeError = (cause: WriteError): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

const toBytes = (chunk: Uint8Array | string): Uint8Array => typeof chunk === "string" ? encoder.encode(chunk) : chunk

/**
 * Adapts a connection to `effect/socket`'s `Socket`, so the rest of the Effect
 * ecosystem (RPC over sockets, `Socket.toChannel`, ...) runs on it.
 *
 * - The reader pulls batches from `connection.stream` (run once per reader
 *   acquisition, with its backpressure). As `Socket` requires, its pull never
 *   ends with `Done`: the peer's FIN fails it with a `SocketCloseError` of code
 *   1000, a read error with a `SocketReadError` whose `cause` is the typed
 *   error, and closing the reader's scope fails a suspended pull with code 1006.
 * - The writer writes with the connection's backpressure; write errors become
 *   a `SocketWriteError` whose `cause` is the typed error. A `CloseEvent` of
 *   code 1000 half-closes (`end`), any other code resets the connection.
 *   Releasing the writer's scope half-closes too (waiting at most 5 seconds
 *   for the flush).
 * - TLS upgrades are not supported.
 *
 * The connection itself stays owned by its own scope.
 *
 * @since 0.1.0
 * @category interop
 */
export const toSocket = (connection: Connection): Socket.Socket => {
  const reader: Socket.Socket["reader"] = Effect.gen(function*() {
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
    return { pull, upgrade: Socket.SocketUpgradeError.unsupported }
  })

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Socket.isCloseEvent(chunk)
      ? chunk.code === 1000 ? Effect.mapError(connection.end, writeError) : connection.reset
      : Effect.mapError(connection.write(toBytes(chunk)), writeError)

  const writeAll = (chunks: NonEmptyReadonlyArray<Uint8Array | string>): Effect.Effect<void, Socket.SocketError> =>
    Effect.mapError(connection.writeAll(chunks.map(toBytes)), writeError)

  const writer: Socket.Socket["writer"] = Effect.acquireRelease(
    Effect.succeed<Socket.Writer>({ write, writeAll }),
    () => Effect.ignore(Effect.timeoutOption(connection.end, "5 seconds"))
  )

  return Socket.make({ reader, writer })
}
