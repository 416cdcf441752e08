/**
 * One open TCP connection, owned by a `Scope`: closing the scope closes the
 * socket, on success, failure and interruption alike.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Sink from "effect/Sink"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { Address } from "./Address.ts"
import * as Adapter from "./internal/interop/adapter.ts"
import type { ReadError, WriteError } from "./OSError.ts"
import type { ProxyInfo } from "./ProxyProtocol.ts"
import type { SocketOptions } from "./SocketOptions.ts"
import type { TlsInfo } from "./Tls.ts"

/**
 * An open TCP connection (or Unix domain socket): the peer's bytes as a `Stream`, writes with
 * backpressure, half-close, reset, its addresses, options and byte counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** A number unique among this process's connections (on both layers), for logs. */
  readonly id: number
  /**
   * The peer's address; over a Unix socket, the path (client side) or the unnamed client (`path: ""`). On a
   * server that reads the PROXY protocol, the client the proxy relayed (the proxy's own is `proxy.address`).
   */
  readonly remoteAddress: Address
  /** This end's address; over a Unix socket, the path (server side) or unnamed (client side). */
  readonly localAddress: Address
  /**
   * The bytes the peer sends, pulled from the socket: nothing more than the
   * read limit is read ahead of the consumer. The peer's FIN ends the stream;
   * it is not an error. This is the socket's one read side: one reader at a time (run it again once the
   * first run ended); a second fiber pulling while another waits is a defect, as in asyncio.
   */
  readonly stream: Stream.Stream<Uint8Array, ReadError>
  /**
   * Writes bytes, or a string as UTF-8; suspends while the socket's send buffer is full (backpressure).
   */
  readonly write: (data: Uint8Array | string) => Effect.Effect<void, WriteError>
  /** Writes a batch of chunks (bytes, or strings as UTF-8) in one flush; suspends like `write`. */
  readonly writeAll: (chunks: ReadonlyArray<Uint8Array | string>) => Effect.Effect<void, WriteError>
  /**
   * A sink that writes every chunk it receives (bytes, or strings as UTF-8), with backpressure. It does not
   * end the connection.
   */
  readonly sink: Sink.Sink<void, Uint8Array | string, never, WriteError>
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
  /**
   * Aborts the connection with a RST (SO_LINGER 0): the peer sees `ConnectionResetError`. A Unix socket has no
   * RST: it is closed at once, dropping what was not yet sent, and its peer reads the end of the stream (or
   * `ConnectionResetError` where this end left bytes unread, as Linux reports).
   */
  readonly reset: Effect.Effect<void>
  /** The socket's live options, read from the kernel. */
  readonly options: Effect.Effect<SocketOptions>
  /** Bytes received so far: arrived from the peer, whether or not `stream` has delivered them yet. */
  readonly bytesRead: Effect.Effect<number>
  /** Bytes written so far (a string counts its UTF-8 bytes). */
  readonly bytesWritten: Effect.Effect<number>
  /**
   * What a TLS connection agreed on in its handshake (protocol, cipher, ALPN, the peer's certificate);
   * `undefined` on a plain one. On a TLS connection `bytesRead` and `bytesWritten` count plaintext, and
   * `options` are the TCP socket's.
   *
   * @since 0.2.0
   */
  readonly tls: TlsInfo | undefined
  /**
   * What the connection's PROXY protocol header said (the proxy's address, the version, the command, the
   * client and the address it connected to), on a server that reads one (`listen({ proxyProtocol })`);
   * `undefined` otherwise. Errors of the connection name the client, as `remoteAddress` does.
   *
   * @since 0.2.0
   */
  readonly proxy: ProxyInfo | undefined
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

/**
 * Adapts a connection to `effect/socket`'s `Socket`: the same as `EffectSocket.toSocket`, which documents
 * it (kept here, where it started).
 *
 * @since 0.1.0
 * @category interop
 */
export const toSocket: (connection: Connection) => Socket.Socket = Adapter.toSocket
