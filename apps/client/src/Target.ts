/**
 * Where the client connects and how: host and port (or a Unix socket), TLS,
 * timeouts, read limit, and retries with exponential backoff and jitter for
 * refused and timed-out connects, and for echo sessions whose connection is
 * lost mid-message.
 *
 * @since 0.1.0
 */
import { Tcp } from "@effect-tcp/socket"
import type { Connection, OSError } from "@effect-tcp/socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as EchoMismatch from "./EchoMismatchError.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly host: string
  readonly port: number
  /** Fails a connect that is not established in time with `TimeoutError`. */
  readonly connectTimeout: Duration.Duration
  /** Bytes read ahead before reading pauses (asyncio's `limit`). */
  readonly readLimit: number
  /**
   * Retries after a refused or timed-out connect, and (for `--count`) reconnects after a connection lost
   * mid-message, all drawn from this one budget (0: none).
   */
  readonly retries: number
  /** A Unix domain socket's path: connects there instead of to `host` and `port`. */
  readonly unix?: string | undefined
  /** TLS over the TCP connection; `undefined`: plain TCP. */
  readonly tls?: Tls | undefined
}

/**
 * The client's TLS: the server's certificate is always verified, against
 * `ca` or Node's default CAs, and its names against `serverName` or `host`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Tls {
  /** The CA certificates to trust instead of Node's default ones, PEM. */
  readonly ca?: string | undefined
  /** A client certificate, for servers that ask for one, PEM; with `key`. */
  readonly cert?: string | undefined
  readonly key?: string | undefined
  /** The name the server's certificate must carry (also sent as SNI); default: `host`. */
  readonly serverName?: string | undefined
}

/**
 * The seed's target: 127.0.0.1:8888, 10 seconds to connect, 64 KiB read-ahead, no retries.
 *
 * @since 0.1.0
 * @category models
 */
export const defaults: Target = {
  host: "127.0.0.1",
  port: 8888,
  connectTimeout: Duration.seconds(10),
  readLimit: 65536,
  retries: 0
}

/**
 * Only a refused or timed-out connect is worth another try, or a Unix socket
 * not there yet: the server may be starting. A host that does not resolve, a
 * permission denied or a certificate that does not verify will not fix itself.
 *
 * @since 0.1.0
 * @category retries
 */
export const isRetryable = (error: { readonly _tag: string }): boolean =>
  error._tag === "ConnectionRefusedError" || error._tag === "TimeoutError" || error._tag === "FileNotFoundError"

/**
 * Where the target is, for logs: `host:port`, or the Unix socket's path.
 *
 * @since 0.2.0
 * @category formatting
 */
export const describe = (target: Target): string => target.unix ?? `${target.host}:${target.port}`

/**
 * What a TLS connection agreed on, for the client's logs (nothing on a plain one).
 *
 * @since 0.2.0
 * @category formatting
 */
export const tlsAnnotations = (connection: Connection.Connection): Record<string, string> =>
  connection.tls === undefined ? {} : { tlsProtocol: connection.tls.protocol, tlsCipher: connection.tls.cipher }

/**
 * What `Tcp.connect` is asked for. The connect timeout also bounds the TLS
 * handshake, as curl's does: a server that accepts and never answers is a
 * connect that did not complete.
 *
 * @since 0.2.0
 * @category constructors
 */
export const toConnectOptions = (target: Target): Tcp.ConnectOptions => {
  const common = { timeout: target.connectTimeout, readLimit: target.readLimit }
  if (target.unix !== undefined) return { path: target.unix, ...common }
  const tls = target.tls
  return {
    host: target.host,
    port: target.port,
    ...common,
    ...(tls === undefined ? {} : {
      tls: {
        handshakeTimeout: target.connectTimeout,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls.key === undefined ? {} : { key: tls.key }),
        ...(tls.serverName === undefined ? {} : { serverName: tls.serverName })
      }
    })
  }
}

const lostTags = new Set(["ConnectionResetError", "BrokenPipeError", "ConnectionAbortedError"])

/**
 * A session whose connection was lost mid-message: reset, broken or aborted,
 * or ended by the server before the whole echo came back. Worth a new
 * connection: an echo is idempotent, the message can be sent again.
 *
 * @since 0.2.0
 * @category retries
 */
export const isLost = (error: { readonly _tag: string }): boolean =>
  lostTags.has(error._tag) || (error instanceof EchoMismatch.EchoMismatchError && EchoMismatch.isEnded(error))

const schedule = <E extends { readonly _tag: string }>(
  retries: number,
  retryable: (error: E) => boolean
): Schedule.Schedule<Duration.Duration, E> =>
  Schedule.min([
    Schedule.exponential("100 millis"),
    Schedule.spaced("5 seconds")
  ]).pipe(
    Schedule.jittered,
    Schedule.setInputType<E>(),
    Schedule.while(({ input }) => retryable(input)),
    Schedule.upTo({ times: retries }),
    Schedule.tap(({ attempt, duration, input }) =>
      Effect.logWarning(
        `${isLost(input) ? "connection lost, reconnecting" : "connect failed, retrying"} in ${
          Math.round(Duration.toMillis(duration))
        } ms`
      ).pipe(Effect.annotateLogs({ error: input._tag, attempt, retries }))
    )
  )

/**
 * Exponential backoff from 100 ms, doubling, capped at 5 s, with jitter
 * (each delay scaled by 0.8 to 1.2), for `retries` retries of a refused or
 * timed-out connect; each retry is logged as a warning.
 *
 * @since 0.1.0
 * @category retries
 */
export const backoff = (retries: number): Schedule.Schedule<Duration.Duration, OSError.ConnectError> =>
  schedule(retries, isRetryable)

/**
 * `backoff` for a whole echo session: a refused or timed-out connect, or a
 * connection lost mid-message (`isLost`), is retried on the same delays and
 * counted against the same `retries`; each retry is logged as a warning.
 *
 * @since 0.2.0
 * @category retries
 */
export const sessionBackoff = <E extends { readonly _tag: string }>(
  retries: number
): Schedule.Schedule<Duration.Duration, E> => schedule<E>(retries, (error) => isRetryable(error) || isLost(error))

/**
 * Connects to the target, retrying refused and timed-out connects `retries`
 * times on `backoff`. The connection belongs to the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  target: Target
): Effect.Effect<Connection.Connection, OSError.ConnectError, Tcp.Tcp | Scope.Scope> =>
  Tcp.connect(toConnectOptions(target)).pipe(
    target.retries > 0 ? Effect.retry(backoff(target.retries)) : (self) => self
  )
