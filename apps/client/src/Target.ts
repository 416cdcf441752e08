/**
 * Where the client connects and how: host, port, timeouts, read limit, and
 * retries with exponential backoff and jitter for refused and timed-out connects.
 *
 * @since 0.1.0
 */
import { Tcp } from "@effect-tcp/socket"
import type { Connection, OSError } from "@effect-tcp/socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

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
  /** Retries after a refused or timed-out connect (0: none). */
  readonly retries: number
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
 * Only a refused or timed-out connect is worth another try: the server may be
 * starting. A host that does not resolve, or a permission denied, will not fix itself.
 *
 * @since 0.1.0
 * @category retries
 */
export const isRetryable = (error: OSError.ConnectError): boolean =>
  error._tag === "ConnectionRefusedError" || error._tag === "TimeoutError"

/**
 * Exponential backoff from 100 ms, doubling, capped at 5 s, with jitter
 * (each delay scaled by 0.8 to 1.2), for `retries` retries of a refused or
 * timed-out connect; each retry is logged as a warning.
 *
 * @since 0.1.0
 * @category retries
 */
export const backoff = (retries: number): Schedule.Schedule<Duration.Duration, OSError.ConnectError> =>
  Schedule.min([
    Schedule.exponential("100 millis"),
    Schedule.spaced("5 seconds")
  ]).pipe(
    Schedule.jittered,
    Schedule.setInputType<OSError.ConnectError>(),
    Schedule.while(({ input }) => isRetryable(input)),
    Schedule.upTo({ times: retries }),
    Schedule.tap(({ attempt, duration, input }) =>
      Effect.logWarning(`connect failed, retrying in ${Math.round(Duration.toMillis(duration))} ms`).pipe(
        Effect.annotateLogs({ error: input._tag, attempt, retries })
      )
    )
  )

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
  Tcp.connect({
    host: target.host,
    port: target.port,
    timeout: target.connectTimeout,
    readLimit: target.readLimit
  }).pipe(
    target.retries > 0 ? Effect.retry(backoff(target.retries)) : (self) => self
  )
