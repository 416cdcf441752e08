/**
 * Socket addresses: where a connection or listener is bound. An `Address` is an IP endpoint
 * (`InetAddress`: host, port, family) or a Unix domain socket (`UnixAddress`: a path, or on Linux an
 * abstract name that starts with `"\0"`).
 *
 * Addresses are plain data, not Effect's `effect/net` `NetAddress` values. A connection holds two of them
 * for its whole life, so they cost what an idle connection costs (the Node layer builds a peer's address
 * from what Node already caches, a Unix listener shares one object among all its connections), they
 * serialise as they are (logs, JSON, a worker's message to its parent), and `deepStrictEqual` compares them.
 * `NetAddress` brings `Equal`/`Hash`, parsing and scope ids where a program needs them: `toNetAddress` and
 * `fromNetAddress` convert both ways.
 *
 * @since 0.1.0
 */
import * as NetAddress from "effect/net/NetAddress"
import * as Result from "effect/Result"

/**
 * An IP endpoint: host (numeric for bound sockets), port and IP family.
 *
 * An IPv4 peer of a dual-stack listener (one on `::`) is reported in its IPv4 form (`127.0.0.1`, family
 * `"IPv4"`), not as the IPv4-mapped IPv6 address the kernel gives (`::ffff:127.0.0.1`): the same address the
 * client sees as its own, which IPv4 allow-lists and logs expect.
 *
 * @since 0.2.0
 * @category models
 */
export interface InetAddress {
  readonly family: "IPv4" | "IPv6"
  readonly host: string
  readonly port: number
}

/**
 * A Unix domain socket: the path of its socket file, or a Linux abstract name (starting with `"\0"`, no
 * file). The path is empty for an unnamed socket: the client end of a connection, as seen by its server.
 *
 * @since 0.2.0
 * @category models
 */
export interface UnixAddress {
  readonly family: "Unix"
  readonly path: string
}

/**
 * Where a socket is: an IP endpoint or a Unix domain socket.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = InetAddress | UnixAddress

/**
 * Is this an IP endpoint (it has a port)?
 *
 * @since 0.2.0
 * @category predicates
 */
export const isInet = (address: Address): address is InetAddress => address.family !== "Unix"

/**
 * Is this a Unix domain socket?
 *
 * @since 0.2.0
 * @category predicates
 */
export const isUnix = (address: Address): address is UnixAddress => address.family === "Unix"

/**
 * Is this path a Linux abstract socket name (`"\0name"`: no file, gone when its socket closes)?
 *
 * @since 0.2.0
 * @category predicates
 */
export const isAbstract = (path: string): boolean => path.charCodeAt(0) === 0

/**
 * A Unix socket path as `ss` shows it: the path itself, an abstract name as `@name`, an unnamed socket as
 * `(unnamed)`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const formatPath = (path: string): string =>
  path === "" ? "(unnamed)" : isAbstract(path) ? `@${path.slice(1)}` : path

/**
 * `127.0.0.1:8888`, `[::1]:8888`, `/tmp/echo.sock`, `@name` (an abstract name, as `ss` shows it).
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: Address | Omit<InetAddress, "family">): string =>
  "path" in address
    ? formatPath(address.path)
    : address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`

/**
 * Does this host name every interface (`0.0.0.0`, `::`)?
 *
 * @since 0.1.0
 * @category predicates
 */
export const isUnspecified = (host: string): boolean => host === "0.0.0.0" || host === "::" || host === "[::]"

/**
 * The same address as Effect's `NetAddress.SocketAddress` (`InetAddressV4`, `InetAddressV6` or
 * `UnixPathAddress`), with its `Equal`/`Hash`. Fails with `NetAddressError` for a host that is not a numeric
 * IP (an address Node could not read is reported with host `unknown`).
 *
 * @since 0.2.0
 * @category conversions
 */
export const toNetAddress = (address: Address): Result.Result<NetAddress.SocketAddress, NetAddress.NetAddressError> =>
  address.family === "Unix"
    ? Result.succeed(NetAddress.unixPathAddress(address.path))
    : NetAddress.inetAddressFromIpString(address.host, address.port)

/**
 * Effect's `NetAddress.SocketAddress` as an `Address`: a nonzero IPv6 scope id stays in the host as a
 * numeric `%` suffix (`fe80::1%2`).
 *
 * @since 0.2.0
 * @category conversions
 */
export const fromNetAddress = (address: NetAddress.SocketAddress): Address =>
  NetAddress.isUnixPathAddress(address)
    ? { family: "Unix", path: address.path }
    : {
      family: NetAddress.isInetAddressV4(address) ? "IPv4" : "IPv6",
      host: NetAddress.formatHost(address),
      port: address.port
    }
