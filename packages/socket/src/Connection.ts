/**
 * One open TCP connection, owned by a `Scope`: closing the scope closes the
 * socket, on success, failure and interruption alike.
 *
 * @since 0.1.0
 */
import type { Effect, Sink, Stream } from "effect"
import type { Address } from "./Address.ts"
import type { ReadError, WriteError } from "./OSError.ts"
import type { SocketOptions } from "./SocketOptions.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** A number unique among this process's connections, for logs. */
  readonly id: number
  readonly remoteAddress: Address
  readonly localAddress: Address
  /**
   * The bytes the peer sends, pulled from the socket: nothing more than the
   * read limit is read ahead of the consumer. The peer's FIN ends the stream;
   * it is not an error. This is the socket's one read side: run it once.
   */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /** Writes bytes; suspends while the socket's send buffer is full (backpressure). */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, WriteError>
  /** Writes a batch of chunks in one flush; suspends like `write`. */
  readonly writeAll: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, WriteError>
  /** A sink that writes every chunk it receives, with backpressure. It does not end the connection. */
  readonly sink: Sink.Sink<void, Uint8Array, never, WriteError>
  /** Half-close: flushes what was written and sends FIN. The peer reads EOF; reading here goes on. */
  readonly end: Effect.Effect<void, WriteError>
  /** Aborts the connection with a RST (SO_LINGER 0): the peer sees `ConnectionResetError`. */
  readonly reset: Effect.Effect<void>
  /** The socket's live options, read from the kernel. */
  readonly options: Effect.Effect<SocketOptions>
  /** Bytes received so far. */
  readonly bytesRead: Effect.Effect<number>
  /** Bytes written so far. */
  readonly bytesWritten: Effect.Effect<number>
}
