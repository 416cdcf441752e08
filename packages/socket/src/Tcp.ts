/**
 * The TCP service: `connect` and `listen`, behind an Effect service so that
 * programs depend on it and not on Node. `layer` runs it on `node:net`,
 * `layerTest` on an in-memory network (see `FakeNetwork`). Both connect and
 * listen over IPv4 and IPv6, and on Unix domain sockets (`path`), with the
 * same `Connection`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Address, InetAddress, UnixAddress } from "./Address.ts"
import type { Connection } from "./Connection.ts"
import { FakeNetwork } from "./FakeNetwork.ts"
import * as FakeTcp from "./internal/fake/index.ts"
import * as NodeTcp from "./internal/node/index.ts"
import type { AcceptError, ConnectError, HandshakeError, ListenError } from "./OSError.ts"
import type { ProxyHeaderError, ProxyProtocolOptions } from "./ProxyProtocol.ts"
import type { StartTlsOptions, TlsConnectOptions, TlsListenOptions } from "./Tls.ts"

/**
 * Options that apply to every connection, made by `connect` or accepted by a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketSettings {
  /**
   * TCP_NODELAY. Default `true`, as in asyncio. A Unix socket has no Nagle's algorithm (every write goes
   * to the peer at once, as `noDelay: true` asks of TCP): there it is accepted and has no effect.
   */
  readonly noDelay?: boolean | undefined
  /**
   * TCP keepalive (SO_KEEPALIVE), so that a peer whose host or network is gone is noticed on a connection
   * that sends nothing: after `idle` without a packet from the peer the kernel probes it every `interval`,
   * and once `count` probes go unanswered the connection fails: reads with `TimeoutError` (ETIMEDOUT), and
   * a waiting write too. (A peer whose process hangs but whose kernel runs answers the probes: see
   * `userTimeout`.)
   *
   * `true` turns it on with the system's times; a duration is the `idle` time (whole seconds);
   * `KeepAliveOptions` set each of the three. Default off; no effect on a Unix socket. Out of range fails `connect` and `listen` with `OSError` (EINVAL) naming the
   * option. `interval` and `count` are set with setsockopt through the FFI package koffi, with the failures
   * of `receiveBufferSize` (ENOTSUP without it); `idle` needs no FFI.
   */
  readonly keepAlive?: boolean | Duration.Input | KeepAliveOptions | undefined
  /**
   * TCP_USER_TIMEOUT: how long what was sent may stay unacknowledged before the connection fails: reads and a
   * waiting write with `TimeoutError` (ETIMEDOUT). Counts while data is in flight to a peer that does not
   * answer, and while a peer that takes nothing (a stopped process, or one that does not read) holds a write
   * back: it also ends connections to peers that stop reading for that long. With `keepAlive`, it also
   * bounds how long unanswered probes go on (Linux's rule: the first probe past it ends the connection).
   *
   * Whole milliseconds from 1 to 2^31 - 1 (else EINVAL). Default: none (Linux gives up on unacknowledged
   * data after about 15 minutes). Linux only: elsewhere `connect` and `listen` fail with `OSError` ENOTSUP
   * before they touch the OS, on both layers. Set with setsockopt through koffi, as `receiveBufferSize`.
   */
  readonly userTimeout?: Duration.Input | undefined
  /**
   * The most bytes read ahead of the consumer: reading pauses there (asyncio's `limit`), and no batch of
   * `stream` is larger. A whole number from 1; anything else fails with `OSError` (EINVAL). Default 64 KiB.
   */
  readonly readLimit?: number | undefined
  /**
   * SO_RCVBUF to ask the kernel for, in bytes (1 to 2^30; else EINVAL). Default: the kernel's.
   *
   * Node has no API for it: the Node layer calls setsockopt through the FFI package koffi, an optional
   * dependency, on each connection once it is established. Where koffi is not installed or cannot load (or the
   * platform is neither Linux nor macOS), `connect` and `listen` fail before they touch the OS with `OSError`
   * ENOTSUP whose detail names the option and the reason; a setsockopt that fails fails the connect (or the
   * accept: `serve` logs it and goes on) with the errno it reported. `layerTest` simulates the size with no FFI
   * (reported doubled on Linux, as the kernel does), so tests that ask for one pass there either way.
   */
  readonly receiveBufferSize?: number | undefined
  /** SO_SNDBUF to ask the kernel for, in bytes. Default: the kernel's. Set as `receiveBufferSize` is, with its failures. */
  readonly sendBufferSize?: number | undefined
  /**
   * How long closing the connection (its scope) waits for what was written to leave the process
   * when the peer does not read. Past it the connection is reset (RST), so the peer sees
   * `ConnectionResetError`, never a clean end after bytes it did not get; an interrupted close
   * does not wait. Default 5 seconds.
   */
  readonly closeTimeout?: Duration.Input | undefined
}

/**
 * TCP keepalive's three times, for `SocketSettings.keepAlive`. Each left out is the system's: Linux's are 2
 * hours, 75 seconds and 9 probes, except that Node sets an interval of 1 second and 10 probes whenever an
 * `idle` time is given. The kernel counts whole seconds.
 *
 * @since 0.2.0
 * @category models
 */
export interface KeepAliveOptions {
  /** TCP_KEEPIDLE: how long the peer may be silent before the first probe. Whole seconds from 1 to 32767. */
  readonly idle?: Duration.Input | undefined
  /** TCP_KEEPINTVL: the time between unanswered probes. Whole seconds from 1 to 32767. */
  readonly interval?: Duration.Input | undefined
  /** TCP_KEEPCNT: the unanswered probes after which the connection fails. A whole number from 1 to 127. */
  readonly count?: number | undefined
}

/**
 * What every `connect` takes, to a host and port or to a Unix socket: an optional connect timeout, and the
 * `SocketSettings` of the connection.
 *
 * @since 0.2.0
 * @category models
 */
export interface CommonConnectOptions extends SocketSettings {
  /** Fails with `TimeoutError` when the connection is not established in time. Default: none. */
  readonly timeout?: Duration.Input | undefined
  /**
   * As `listen`'s: a connection with no traffic either way for this long fails its reads with `TimeoutError`
   * (ETIMEDOUT, "idle for 30s"), and a write waiting for a peer that does not read, and is closed. Time spent
   * waiting for our own consumer, with the peer's bytes buffered, does not count. Default: none.
   */
  readonly idleTimeout?: Duration.Input | undefined
}

/**
 * Where a TCP `connect` goes: host and port, and the local address to connect from.
 *
 * @since 0.2.0
 * @category models
 */
export interface TcpConnectOptions {
  /** Default `127.0.0.1`. An IPv6 address is written bare (`::1`) or in brackets (`[::1]`). */
  readonly host?: string | undefined
  readonly port: number
  /** The local address to connect from. */
  readonly localAddress?: string | undefined
  /**
   * TLS: `true` verifies the server against Node's default CAs and the host's name; options say more (see
   * `Tls.TlsConnectOptions`). The connection is handed out once the handshake is done; a failed one fails
   * the connect with an SSL error (`SSLCertVerificationError`, `SSLError`, `SSLEOFError`) or `TimeoutError`.
   * Default: plain TCP. (Not over a Unix socket.)
   *
   * @since 0.2.0
   */
  readonly tls?: TlsConnectOptions | true | undefined
  readonly path?: undefined
}

/**
 * Where a Unix domain socket `connect` goes: the socket's path, or on Linux an abstract name (`"\0name"`).
 * A path with no socket file fails with `FileNotFoundError`, a socket file nobody listens on with
 * `ConnectionRefusedError`, one the process may not write to with `PermissionError`.
 *
 * @since 0.2.0
 * @category models
 */
export interface UnixConnectOptions {
  readonly path: string
  readonly host?: undefined
  readonly port?: undefined
  readonly localAddress?: undefined
  readonly tls?: undefined
}

/**
 * What `connect` takes: where to connect (a host and port, or a Unix socket's `path`), an optional
 * connect timeout, and the `SocketSettings` of the connection.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectOptions = (TcpConnectOptions | UnixConnectOptions) & CommonConnectOptions

/**
 * What every `listen` takes, on a port or on a Unix socket: the backlog, `maxConnections`, `idleTimeout`,
 * `shutdownGrace`, and the `SocketSettings` of every accepted connection.
 *
 * @since 0.2.0
 * @category models
 */
export interface CommonListenOptions extends SocketSettings {
  /** Default 100, as the seed. */
  readonly backlog?: number | undefined
  /**
   * Connections beyond this are reset at once (the client sees `ConnectionResetError`) and counted as
   * rejected. A whole number from 1. Default: no limit but the process's file descriptors: on Linux the
   * Node layer also caps connections at what the open-files limit leaves room for, and logs what it turns
   * away as `TooManyOpenFilesError`. (A Unix socket has no reset: there the extra connection is closed, and
   * its client reads the end of the stream.)
   */
  readonly maxConnections?: number | undefined
  /** A connection with no traffic either way for this long fails its reads with `TimeoutError`. Default: none. */
  readonly idleTimeout?: Duration.Input | undefined
  /** How long running handlers may finish when the server's scope closes. Default 10 seconds. */
  readonly shutdownGrace?: Duration.Input | undefined
}

/**
 * Where a TCP `listen` binds: host and port, SO_REUSEPORT, IPV6_V6ONLY.
 *
 * @since 0.2.0
 * @category models
 */
export interface TcpListenOptions {
  /**
   * Default `127.0.0.1`: never all interfaces unless asked. `::` listens on every interface of both families
   * (dual stack) unless `ipv6Only`; `::1` is the IPv6 loopback. An IPv6 address may be written in brackets.
   */
  readonly host?: string | undefined
  /** Default 0: a free port, then in `Server.address`. */
  readonly port?: number | undefined
  /** SO_REUSEPORT, so several processes can share the port. Default `false`. */
  readonly reusePort?: boolean | undefined
  /**
   * IPV6_V6ONLY: a listener on `::` takes IPv6 connections only, so another can bind the same port on
   * `0.0.0.0`. Default `false`: on `::` IPv4 clients connect too, their addresses in IPv4 form.
   */
  readonly ipv6Only?: boolean | undefined
  /**
   * TLS: every connection is handed out (to `accept` or to `serve`'s handler) once its handshake is done. A
   * failed handshake, or one slower than `handshakeTimeout`, is that connection's typed error: `accept`
   * fails with it, `serve` logs it (with the connection's id and peer) and goes on. A certificate or key
   * that cannot be used fails `listen` with `SSLError` before anything binds. Default: plain TCP.
   *
   * @since 0.2.0
   */
  readonly tls?: TlsListenOptions | undefined
  /**
   * The PROXY protocol (versions 1 and 2, see `ProxyProtocol`): each connection, from one of the `trusted`
   * ranges only, starts with a header that names the client a load balancer relayed. The header is read
   * before the connection is handed out (to `accept` or to `serve`'s handler), whose `remoteAddress` is then
   * the client's, and `proxy` the proxy's. A connection from elsewhere, a malformed or missing header, or
   * one slower than `headerTimeout` is that connection's error (`ProxyProtocol.ProxyHeaderError`, or
   * `TimeoutError`): `accept` fails with it, `serve` logs it and goes on; the connection is reset. With
   * `tls`, the header comes first on the wire, then the TLS handshake. Default: no header is read.
   * (Not over a Unix socket.)
   *
   * @since 0.2.0
   */
  readonly proxyProtocol?: ProxyProtocolOptions | undefined
  readonly path?: undefined
  readonly permissions?: undefined
}

/**
 * Where a Unix domain socket `listen` binds: a path (its socket file is created, given `permissions`, and
 * removed when the server's scope closes), or on Linux an abstract name (`"\0name"`: no file).
 *
 * A socket file left behind by a process that died is replaced: `listen` connects to it first, and only a
 * refused connection (nobody listens) lets it remove the file and bind. A live listener there fails with
 * `AddressInUseError`, and so does a path that is not a socket, which is never removed. A missing directory
 * fails with `FileNotFoundError`, one the process may not write to with `PermissionError`.
 *
 * @since 0.2.0
 * @category models
 */
export interface UnixListenOptions {
  readonly path: string
  /**
   * The socket file's mode (`0o660`: owner and group may connect), set before `listen` returns the server
   * and before it accepts any connection. Connecting needs write permission on the file. Default: what the
   * process's umask leaves of `0o777`. Not for an abstract name, which has no file (EINVAL).
   *
   * Set with chmod right after bind, in the same turn of the event loop: for those microseconds the file
   * has the umask's mode (with the usual `022`, only the owner may connect).
   */
  readonly permissions?: number | undefined
  readonly host?: undefined
  readonly port?: undefined
  readonly reusePort?: undefined
  readonly ipv6Only?: undefined
  readonly tls?: undefined
  readonly proxyProtocol?: undefined
}

/**
 * What `listen` takes: where to bind (a host and port, or a Unix socket's `path`), and the options of
 * `CommonListenOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export type ListenOptions = (TcpListenOptions | UnixListenOptions) & CommonListenOptions

/**
 * Counters of a server's connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerStats {
  /** Accepted connections open now, whether a handler, `accept`'s caller or nobody yet holds them. */
  readonly active: number
  /** Connections the server took since it started, for `accept` or `serve`; rejected ones are not among them. */
  readonly accepted: number
  /** Connections reset at once because `maxConnections` (or the descriptor budget) was reached. */
  readonly rejected: number
  /**
   * Accepted connections that failed before they were handed out: their TLS handshake or their PROXY header
   * (each one's error went to a waiting `accept`, or `serve` logged it). They are among `accepted` too.
   *
   * @since 0.2.0
   */
  readonly failed: number
}

/**
 * A listening socket, owned by the `Scope` that `listen` ran in. Closing that
 * scope stops accepting at once, lets running handlers finish within the
 * shutdown grace period, then interrupts the rest and closes every socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server<A extends Address = Address> {
  /** The bound address (with the real port when 0 was asked for; for a Unix socket, its path). */
  readonly address: A
  /**
   * Waits for the next connection; it is owned by the caller's scope. Fails with what the OS reports, or with
   * what one connection met before it could be handed out (its TLS handshake, its PROXY header): then the
   * next `accept` takes the next connection.
   */
  readonly accept: Effect.Effect<Connection, AcceptError | ProxyHeaderError, Scope.Scope>
  /**
   * Runs `handler` for every connection, each in its own fiber and scope (the
   * connection closes when its handler ends). A handler's failure ends that
   * connection only and is logged with its typed error; accept errors are
   * logged and the server keeps serving. Runs until interrupted; handlers
   * belong to the server, so interrupting `serve` closes the listening socket
   * at once (new connections are refused; a Unix socket's file is removed, so
   * they fail with `FileNotFoundError`) while running handlers get the
   * shutdown grace period when the server's scope closes.
   */
  readonly serve: <E, R>(
    handler: (connection: Connection) => Effect.Effect<unknown, E, R>
  ) => Effect.Effect<never, never, R>
  readonly stats: Effect.Effect<ServerStats>
}

/**
 * `listen`, overloaded on where it binds: a server on a port has an `InetAddress` (`server.address.port`),
 * one on a Unix socket a `UnixAddress` (`server.address.path`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Listen<R = never> {
  (options: UnixListenOptions & CommonListenOptions): Effect.Effect<Server<UnixAddress>, ListenError, Scope.Scope | R>
  (options?: TcpListenOptions & CommonListenOptions): Effect.Effect<Server<InetAddress>, ListenError, Scope.Scope | R>
  (options?: ListenOptions): Effect.Effect<Server, ListenError, Scope.Scope | R>
}

/**
 * The TCP service.
 *
 * @since 0.1.0
 * @category services
 */
export class Tcp extends Context.Service<Tcp, {
  readonly connect: (options: ConnectOptions) => Effect.Effect<Connection, ConnectError, Scope.Scope>
  readonly listen: Listen
  /** STARTTLS on an open connection of this layer: see `Tls.startTls`. */
  readonly startTls: (
    connection: Connection,
    options: StartTlsOptions
  ) => Effect.Effect<Connection, HandshakeError, Scope.Scope>
}>()("@effect-tcp/socket/Tcp") {}

/**
 * Opens a connection, owned by the current scope.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connect = (options: ConnectOptions): Effect.Effect<Connection, ConnectError, Tcp | Scope.Scope> =>
  Effect.flatMap(Tcp, (tcp) => tcp.connect(options))

/**
 * Binds a listener, owned by the current scope.
 *
 * @since 0.1.0
 * @category accessors
 */
export const listen: Listen<Tcp> =
  ((options?: ListenOptions) => Effect.flatMap(Tcp, (tcp) => tcp.listen(options))) as Listen<Tcp>

/**
 * The Node.js implementation, on `node:net`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Tcp> = Layer.effect(Tcp, NodeTcp.make)

/**
 * Fake sockets: the same service on an in-memory network, with `FakeNetwork`
 * to script faults and read the wire log. Nothing touches the OS.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest: Layer.Layer<Tcp | FakeNetwork> = Layer.effectContext(
  Effect.map(FakeTcp.make, ({ network, tcp }) => Context.make(Tcp, tcp).pipe(Context.add(FakeNetwork, network)))
)
