/**
 * The live options of a socket, as the seed server prints them: SO_REUSEADDR,
 * SO_REUSEPORT, SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, SO_KEEPALIVE, and what
 * notices a dead peer: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
 * TCP_USER_TIMEOUT. Each is read from the kernel; where a platform cannot read
 * one it is `undefined` (unavailable), never an invented number.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * A socket's options as read from the kernel; `undefined` where the platform
 * cannot read one, or where it does not apply: a Unix socket reports its
 * buffer sizes only (it has no TCP_NODELAY, keepalive or address reuse).
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketOptions {
  readonly reuseAddress: boolean | undefined
  readonly reusePort: boolean | undefined
  /** SO_RCVBUF in bytes as the kernel reports it (Linux reports double the value set). */
  readonly receiveBufferSize: number | undefined
  /** SO_SNDBUF in bytes as the kernel reports it. */
  readonly sendBufferSize: number | undefined
  readonly noDelay: boolean | undefined
  readonly keepAlive: boolean | undefined
  /**
   * TCP_KEEPIDLE (TCP_KEEPALIVE on macOS): the peer's silence before the first keepalive probe. The kernel
   * keeps it whether or not keepalive is on.
   *
   * @since 0.2.0
   */
  readonly keepAliveIdle: Duration.Duration | undefined
  /**
   * TCP_KEEPINTVL: the time between unanswered keepalive probes.
   *
   * @since 0.2.0
   */
  readonly keepAliveInterval: Duration.Duration | undefined
  /**
   * TCP_KEEPCNT: the unanswered keepalive probes after which the connection fails.
   *
   * @since 0.2.0
   */
  readonly keepAliveCount: number | undefined
  /**
   * TCP_USER_TIMEOUT: how long sent data may stay unacknowledged; zero when none is set (the kernel's own
   * retries apply). `undefined` where the platform has no such option (all but Linux).
   *
   * @since 0.2.0
   */
  readonly userTimeout: Duration.Duration | undefined
}

/**
 * Options whose value no platform reports.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unavailable: SocketOptions = {
  reuseAddress: undefined,
  reusePort: undefined,
  receiveBufferSize: undefined,
  sendBufferSize: undefined,
  noDelay: undefined,
  keepAlive: undefined,
  keepAliveIdle: undefined,
  keepAliveInterval: undefined,
  keepAliveCount: undefined,
  userTimeout: undefined
}

const show = (value: boolean | number | undefined): string =>
  value === undefined ? "unavailable" : typeof value === "boolean" ? (value ? "1" : "0") : String(value)

/** A time in the unit the kernel counts it in (seconds for keepalive, milliseconds for TCP_USER_TIMEOUT). */
const inSeconds = (value: Duration.Duration | undefined): number | undefined =>
  value === undefined ? undefined : Duration.toSeconds(value)
const inMillis = (value: Duration.Duration | undefined): number | undefined =>
  value === undefined ? undefined : Duration.toMillis(value)

/**
 * The options under their socket names, for logs: `{ SO_REUSEADDR: "1", SO_RCVBUF: "131072", ... }`; times in
 * the kernel's units (TCP_KEEPIDLE and TCP_KEEPINTVL in seconds, TCP_USER_TIMEOUT in milliseconds).
 *
 * @since 0.1.0
 * @category formatting
 */
export const toRecord = (options: SocketOptions): Record<string, string> => ({
  SO_REUSEADDR: show(options.reuseAddress),
  SO_REUSEPORT: show(options.reusePort),
  SO_RCVBUF: show(options.receiveBufferSize),
  SO_SNDBUF: show(options.sendBufferSize),
  TCP_NODELAY: show(options.noDelay),
  SO_KEEPALIVE: show(options.keepAlive),
  TCP_KEEPIDLE: show(inSeconds(options.keepAliveIdle)),
  TCP_KEEPINTVL: show(inSeconds(options.keepAliveInterval)),
  TCP_KEEPCNT: show(options.keepAliveCount),
  TCP_USER_TIMEOUT: show(inMillis(options.userTimeout))
})

/**
 * `SO_REUSEADDR=1 SO_REUSEPORT=0 SO_RCVBUF=131072 ...`
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (options: SocketOptions): string =>
  Object.entries(toRecord(options)).map(([name, value]) => `${name}=${value}`).join(" ")
