// The options of `connect` and `listen`, resolved once for both layers: the
// defaults, what a bad value fails with, and the rules both apply alike. A
// setting's meaning lives here, so the Node layer and the fakes cannot drift.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as OSError from "../OSError.ts"
import type { ConnectOptions, ListenOptions, SocketSettings } from "../Tcp.ts"
import * as DeadPeers from "./deadPeers.ts"
import * as Errors from "./errors.ts"
import * as ProxyOptions from "./proxy/options.ts"
import * as UnixPath from "./unixPath.ts"

const defaults = {
  host: "127.0.0.1",
  /** asyncio's `limit` */
  readLimit: 64 * 1024,
  /** the seed's */
  backlog: 100,
  shutdownGrace: Duration.seconds(10),
  closeTimeout: Duration.seconds(5)
} as const

/** The longest delay a Node timer holds (about 24.8 days); a longer one would fire after 1 ms. */
const maxTimerMillis = 2 ** 31 - 1

/** A duration as a timer's milliseconds: at least 1, at most what a timer holds. */
const timerMillis = (duration: Duration.Input): number =>
  Math.min(maxTimerMillis, Math.max(1, Math.round(Duration.toMillis(duration))))

/** A duration that may be zero (a grace period or a flush that need not wait). */
const waitMillis = (duration: Duration.Input): number =>
  Math.min(maxTimerMillis, Math.max(0, Math.round(Duration.toMillis(duration))))

export interface Settings extends DeadPeers.DeadPeerSettings {
  readonly noDelay: boolean
  /** Bytes read ahead of the consumer, at most: reading pauses there. */
  readonly readLimit: number
  /**
   * Bytes a write may leave waiting in the process before the writer suspends (Node's writable
   * highWaterMark). Node's default (16 KiB) is below one read (64 KiB), so every large chunk would
   * pause and resume the reader even when the kernel took it at once; twice the read limit (at
   * least 128 KiB) lets a read's worth through, and stays bounded.
   */
  readonly writeBufferSize: number
  readonly receiveBufferSize: number | undefined
  readonly sendBufferSize: number | undefined
  /** How long closing waits for written bytes to leave the process before it resets the connection. */
  readonly closeTimeoutMillis: number
}

export interface Connect {
  /** As asked, for errors: Node's name the host as asked too. */
  readonly host: string
  readonly port: number
  /** A Unix socket's path, instead of host and port. */
  readonly path: string | undefined
  /** What errors name: the host and port as asked, or the path. */
  readonly where: Errors.Where
  readonly timeoutMillis: number | undefined
  readonly localAddress: string | undefined
  readonly idleTimeoutMillis: number | undefined
  readonly settings: Settings
}

export interface Listen {
  readonly host: string
  readonly port: number
  /** A Unix socket's path, instead of host and port. */
  readonly path: string | undefined
  /** The socket file's mode, for a path. */
  readonly permissions: number | undefined
  readonly ipv6Only: boolean
  /** What errors name: the host and port as asked, or the path. */
  readonly where: Errors.Where
  readonly backlog: number
  readonly reusePort: boolean
  readonly maxConnections: number | undefined
  readonly idleTimeoutMillis: number | undefined
  readonly graceMillis: number
  readonly settings: Settings
  /** The PROXY protocol: who may send a header, and how long it may take (TCP only). */
  readonly proxy: ProxyOptions.Resolved | undefined
}

/** `[::1]` as `::1`: the brackets of an IPv6 address are the notation of host and port together, not its own. */
const unbracketed = (host: string): string =>
  host.length > 2 && host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host

const isWhole = (n: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER): boolean =>
  Number.isInteger(n) && n >= minimum && n <= maximum

/** The first setting that is out of range, as the detail of an EINVAL. */
const invalidSetting = (settings: SocketSettings): string | undefined => {
  const { readLimit, receiveBufferSize, sendBufferSize } = settings
  if (readLimit !== undefined && !isWhole(readLimit, 1)) {
    return `readLimit must be a whole number of bytes from 1, not ${readLimit}`
  }
  if (receiveBufferSize !== undefined && !isWhole(receiveBufferSize, 1, 2 ** 30)) {
    return `receiveBufferSize must be a whole number of bytes from 1, not ${receiveBufferSize}`
  }
  if (sendBufferSize !== undefined && !isWhole(sendBufferSize, 1, 2 ** 30)) {
    return `sendBufferSize must be a whole number of bytes from 1, not ${sendBufferSize}`
  }
  return DeadPeers.invalid(settings)
}

/** TLS and the PROXY protocol are offered over TCP only: the types say so, and a caller that gets past them is told. */
const tcpOnly = (options: { readonly tls?: unknown; readonly proxyProtocol?: unknown }): string | undefined =>
  options.tls !== undefined
    ? "tls is not offered over a Unix socket (TCP only)"
    : options.proxyProtocol !== undefined
    ? "proxyProtocol is not offered over a Unix socket (TCP only)"
    : undefined

const resolveSettings = (settings: SocketSettings): Settings => {
  const readLimit = settings.readLimit ?? defaults.readLimit
  return {
    ...DeadPeers.resolve(settings),
    noDelay: settings.noDelay ?? true,
    readLimit,
    writeBufferSize: 2 * Math.max(readLimit, defaults.readLimit),
    receiveBufferSize: settings.receiveBufferSize,
    sendBufferSize: settings.sendBufferSize,
    closeTimeoutMillis: waitMillis(settings.closeTimeout ?? defaults.closeTimeout)
  }
}

/** `connect`'s options with their defaults, or an EINVAL naming what is out of range. */
export const connect = (options: ConnectOptions): Effect.Effect<Connect, OSError.ConnectError> =>
  Effect.suspend(() => {
    const path = options.path
    const host = unbracketed(options.host ?? defaults.host)
    const port = options.port ?? 0
    if (path !== undefined) {
      const failed = UnixPath.check("connect", path, options, invalidSetting(options) ?? tcpOnly(options))
      if (failed !== undefined) return Effect.fail(failed)
    } else {
      const invalid = !isWhole(port, 0, 65535) ? `port must be from 0 to 65535, not ${port}` : invalidSetting(options)
      if (invalid !== undefined) return Effect.fail(Errors.invalid("connect", { host, port }, invalid))
      const unsupported = DeadPeers.unsupported(options)
      if (unsupported !== undefined) return Effect.fail(Errors.unsupported("connect", { host, port }, unsupported))
    }
    return Effect.succeed({
      host,
      port,
      path,
      where: path !== undefined ? { path } : { host, port },
      timeoutMillis: options.timeout === undefined ? undefined : timerMillis(options.timeout),
      localAddress: options.localAddress,
      idleTimeoutMillis: options.idleTimeout === undefined ? undefined : timerMillis(options.idleTimeout),
      settings: resolveSettings(options)
    })
  })

/** `listen`'s options with their defaults, or an EINVAL naming what is out of range. */
export const listen = (options: ListenOptions = {}): Effect.Effect<Listen, OSError.ListenError> =>
  Effect.suspend(() => {
    const path = options.path
    const host = unbracketed(options.host ?? defaults.host)
    const port = options.port ?? 0
    const { backlog = defaults.backlog, maxConnections } = options
    const proxy = path === undefined && options.proxyProtocol !== undefined
      ? ProxyOptions.resolve(options.proxyProtocol)
      : undefined
    const invalid = path === undefined && !isWhole(port, 0, 65535)
      ? `port must be from 0 to 65535, not ${port}`
      : !isWhole(backlog, 0)
      ? `backlog must be a whole number from 0, not ${backlog}`
      : maxConnections !== undefined && !isWhole(maxConnections, 1)
      ? `maxConnections must be a whole number from 1, not ${maxConnections}`
      : invalidSetting(options) ?? (typeof proxy === "string" ? proxy : undefined)
    if (path !== undefined) {
      const failed = UnixPath.check("listen", path, options, invalid ?? tcpOnly(options))
      if (failed !== undefined) return Effect.fail(failed)
    } else if (invalid !== undefined) {
      return Effect.fail(Errors.invalid("listen", { host, port }, invalid))
    } else {
      const unsupported = DeadPeers.unsupported(options)
      if (unsupported !== undefined) return Effect.fail(Errors.unsupported("listen", { host, port }, unsupported))
    }
    return Effect.succeed({
      host,
      port,
      path,
      permissions: options.permissions,
      ipv6Only: options.ipv6Only ?? false,
      where: path !== undefined ? { path } : { host, port },
      backlog,
      reusePort: options.reusePort ?? false,
      maxConnections,
      idleTimeoutMillis: options.idleTimeout === undefined ? undefined : timerMillis(options.idleTimeout),
      graceMillis: waitMillis(options.shutdownGrace ?? defaults.shutdownGrace),
      settings: resolveSettings(options),
      proxy: typeof proxy === "string" ? undefined : proxy
    })
  })
