/**
 * The echo service (RFC 862): every byte a client sends comes back, in order,
 * until the client closes; then the server finishes sending and closes.
 * Nothing a peer sends is ever interpreted.
 *
 * `echo` is the lean hot path; `handler` wraps it once per connection with the
 * logs (opened, closed and why) and the byte metrics.
 *
 * @since 0.1.0
 */
import { SocketOptions } from "@effect-tcp/socket"
import type { Connection, OSError } from "@effect-tcp/socket"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as LogLevel from "effect/LogLevel"
import * as Metrics from "./Metrics.ts"

/**
 * Echoes every chunk back as it arrives, with backpressure, then half-closes
 * once the peer has. `copyTo` moves the bytes socket to socket on the Node
 * layer: no per-chunk work beyond the write.
 *
 * @since 0.1.0
 * @category handlers
 */
export const echo = (connection: Connection.Connection): Effect.Effect<void, OSError.ReadError | OSError.WriteError> =>
  connection.copyTo(connection).pipe(Effect.andThen(() => connection.end))

/**
 * Why a connection closed, as logged:
 * - `eof`: the peer closed its side and everything was echoed,
 * - `idle-timeout`: no traffic either way for the idle timeout,
 * - `reset`: the connection was lost (reset, broken pipe, aborted),
 * - `error`: any other socket error,
 * - `shutdown`: the server shut down before the peer closed.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseReason = "eof" | "idle-timeout" | "reset" | "error" | "shutdown"

/**
 * @since 0.1.0
 * @category models
 */
export interface Closed {
  readonly reason: CloseReason
  /** The tag of the socket error that ended the connection, if one did. */
  readonly error?: string | undefined
  readonly message?: string | undefined
}

const lost = new Set(["ConnectionResetError", "BrokenPipeError", "ConnectionAbortedError"])

/**
 * How the echo of a connection ended.
 *
 * @since 0.1.0
 * @category models
 */
export const closedBy = (exit: Exit.Exit<unknown, OSError.ReadError | OSError.WriteError>): Closed => {
  if (Exit.isSuccess(exit)) return { reason: "eof" }
  const cause = exit.cause
  const failure = Cause.findErrorOption(cause)
  if (failure._tag === "Some") {
    const error = failure.value
    const reason: CloseReason = error._tag === "TimeoutError"
      ? "idle-timeout"
      : lost.has(error._tag)
      ? "reset"
      : "error"
    return { reason, error: error._tag, message: error.message }
  }
  if (Cause.hasInterrupts(cause)) return { reason: "shutdown" }
  const defect = Cause.squash(cause)
  return { reason: "error", error: "Defect", message: defect instanceof Error ? defect.message : String(defect) }
}

/** What a TLS connection agreed on, for its "Connection opened" line (nothing on a plain one). */
const tlsRecord = (connection: Connection.Connection): Record<string, string> => {
  const tls = connection.tls
  if (tls === undefined) return {}
  const record: Record<string, string> = { tlsProtocol: tls.protocol, tlsCipher: tls.cipher }
  if (tls.peerCertificate !== undefined) record.clientCertificate = tls.peerCertificate.subject
  return record
}

/**
 * A load balancer's health check: a connection whose PROXY header says `LOCAL` (HAProxy's `check-send-proxy`,
 * once a second per instance, each closed with a reset), not a client's. It is echoed like any other, but
 * logged at debug only and kept out of the byte, duration and error metrics, which it would drown.
 *
 * @since 0.2.0
 * @category models
 */
export const isHealthCheck = (connection: Connection.Connection): boolean => connection.proxy?.command === "LOCAL"

/** Where a connection's opened and closed lines go: info, or debug for a health check. */
const levelOf = (connection: Connection.Connection): LogLevel.Severity => isHealthCheck(connection) ? "Debug" : "Info"

const opened = (connection: Connection.Connection): Effect.Effect<void> => {
  const level = levelOf(connection)
  return Effect.flatMap(
    LogLevel.isEnabled(level),
    (enabled) =>
      enabled
        ? Effect.flatMap(
          connection.options,
          (options) =>
            Effect.annotateLogs(Effect.logWithLevel(level)("Connection opened"), {
              ...SocketOptions.toRecord(options),
              ...tlsRecord(connection)
            })
        )
        : Effect.void
  )
}

/**
 * What a connection left behind when its echo ended, for what observes it
 * beyond the logs and metrics (`--otlp-endpoint`'s span).
 *
 * @since 0.2.0
 * @category models
 */
export interface Report extends Closed {
  readonly bytesIn: number
  readonly bytesOut: number
  /** How the echo ended: its error, if one did, is the failure. */
  readonly exit: Exit.Exit<unknown, OSError.ReadError | OSError.WriteError>
}

/**
 * Told of each connection once its echo ended (after its "Connection closed" line).
 *
 * @since 0.2.0
 * @category models
 */
export type OnClosed = (report: Report) => Effect.Effect<void>

const closed = (
  connection: Connection.Connection,
  startedAt: number,
  exit: Exit.Exit<unknown, OSError.ReadError | OSError.WriteError>,
  onClosed: OnClosed | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const received = yield* connection.bytesRead
    const sent = yield* connection.bytesWritten
    const now = yield* Clock.currentTimeMillis
    const closed = closedBy(exit)
    const { error, message, reason } = closed
    const check = isHealthCheck(connection)
    if (!check) {
      yield* Metrics.recordClosed({ bytesIn: received, bytesOut: sent, durationMillis: now - startedAt, error })
    }
    const annotations: Record<string, unknown> = {
      reason,
      bytesIn: received,
      bytesOut: sent,
      durationMs: now - startedAt
    }
    if (error !== undefined) annotations.error = error
    if (message !== undefined) annotations.errorMessage = message
    // a client's connection that an error ended is a warning; a health check stays at debug whatever ended it
    const level = !check && reason === "error" ? "Warn" : levelOf(connection)
    yield* Effect.annotateLogs(Effect.logWithLevel(level)("Connection closed"), annotations)
    if (onClosed !== undefined) yield* onClosed({ ...closed, bytesIn: received, bytesOut: sent, exit })
  })

/** `closed` has logged how the echo failed: its errors end here; a defect or an interruption goes on. */
const loggedErrors = (exit: Exit.Exit<void, OSError.ReadError | OSError.WriteError>): Effect.Effect<void> =>
  // (a cause without fails holds no error of type E)
  Exit.isFailure(exit) && !Cause.hasFails(exit.cause) ? Effect.failCause(exit.cause as Cause.Cause<never>) : Effect.void

/**
 * The handler the server runs for each connection: logs it opened (with the
 * socket's options), echoes, then logs it closed with the byte counts,
 * duration and reason, and adds the bytes to the metrics. A socket error ends
 * this connection only; it is logged here, not raised. (The server's own log
 * annotations name the connection and the peer.)
 *
 * Lean on purpose: an idle connection keeps its suspended handler, and
 * thousands of them add up. No generator; what stays suspended while the
 * bytes flow is the echo and its exit handling only (`opened` has run); the
 * errors end in `Effect.exit` and one shared function, not in the closures
 * `Effect.ignore` makes per connection.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = (connection: Connection.Connection): Effect.Effect<void> => observed(connection, undefined)

/**
 * `handler`, and then `onClosed` told how the connection ended: what a
 * connection's span is made of. `handler` itself passes nothing, and makes
 * nothing more per connection.
 *
 * @since 0.2.0
 * @category handlers
 */
export const observed = (connection: Connection.Connection, onClosed: OnClosed | undefined): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (startedAt) =>
    Effect.andThen(
      opened(connection),
      Effect.onExit(echo(connection), (exit) => closed(connection, startedAt, exit, onClosed)).pipe(
        Effect.exit,
        Effect.flatMap(loggedErrors)
      )
    ))
