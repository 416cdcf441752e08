/**
 * The live options of a socket, as the seed server prints them: SO_REUSEADDR,
 * SO_REUSEPORT, SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, SO_KEEPALIVE. Each is read
 * from the kernel; where a platform cannot read one it is `undefined`
 * (unavailable), never an invented number.
 *
 * @since 0.1.0
 */

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
  keepAlive: undefined
}

const show = (value: boolean | number | undefined): string =>
  value === undefined ? "unavailable" : typeof value === "boolean" ? (value ? "1" : "0") : String(value)

/**
 * The options under their socket names, for logs: `{ SO_REUSEADDR: "1", SO_RCVBUF: "131072", ... }`.
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
  SO_KEEPALIVE: show(options.keepAlive)
})

/**
 * `SO_REUSEADDR=1 SO_REUSEPORT=0 SO_RCVBUF=131072 ...`
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (options: SocketOptions): string =>
  Object.entries(toRecord(options)).map(([name, value]) => `${name}=${value}`).join(" ")
