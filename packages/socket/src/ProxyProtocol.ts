/**
 * The PROXY protocol (HAProxy's, versions 1 and 2) on a TCP server: behind a load balancer that speaks
 * it (HAProxy's `send-proxy`/`send-proxy-v2`, AWS NLB, nginx's `proxy_protocol on`, Envoy), every
 * connection starts with a header that names the client the balancer relayed. With
 * `Tcp.listen({ proxyProtocol: { trusted } })` the header is read before the connection is handed to
 * `accept` or `serve`'s handler: its `remoteAddress` is then the real client's, and `connection.proxy`
 * says who relayed it.
 *
 * Only connections from the `trusted` ranges are taken; anything wrong is that connection's typed error,
 * never the server's: `ProxyHeaderError` (`reason`: `"untrusted"`, `"malformed"`, `"incomplete"`), or
 * `TimeoutError` (ETIMEDOUT) when the header does not arrive within `headerTimeout`. `accept` fails with
 * it; `serve` logs it (`PROXY header rejected`, with the connection's id and peer) and goes on. The
 * connection is reset (the proxy sees `ConnectionResetError`).
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { InetAddress } from "./Address.ts"
import { errnoMessage } from "./internal/errorMessage.ts"
import * as Trusted from "./internal/proxy/trusted.ts"

/**
 * `Tcp.listen`'s `proxyProtocol`: which peers may send a header, and how long one may take.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProxyProtocolOptions {
  /**
   * The proxies allowed to connect, as CIDR ranges (`"10.0.0.0/8"`, `"::1/128"`) or single addresses
   * (`"10.0.0.7"`, as `/32`; `"::1"`, as `/128`). A connection from anywhere else is reset at once, before
   * anything is read from it (`ProxyHeaderError`, reason `"untrusted"`): a client that could reach the port
   * directly could otherwise claim any address. An IPv4 peer of a dual-stack listener is matched in its IPv4
   * form (`10.0.0.5`, not `::ffff:10.0.0.5`). A range that does not parse, or has host bits set
   * (`10.0.0.1/8`), or an empty list fails `listen` with `OSError` (EINVAL) naming it, before anything binds.
   */
  readonly trusted: ReadonlyArray<string>
  /**
   * How long a trusted peer may take to send its whole header, from the moment its connection was accepted:
   * past it the connection fails with `TimeoutError` (ETIMEDOUT) and is reset. Default 5 seconds.
   */
  readonly headerTimeout?: Duration.Input | undefined
}

/**
 * What the PROXY header of a connection said (`connection.proxy`); `undefined` on a connection whose
 * server does not read one.
 *
 * @since 0.2.0
 * @category models
 */
export interface ProxyInfo {
  /** The proxy's own address: the TCP peer that sent the header. */
  readonly address: InetAddress
  /** `1`: the text header (`PROXY TCP4 ...\r\n`); `2`: the binary one. */
  readonly version: 1 | 2
  /**
   * `"PROXY"`: a connection relayed for a client. `"LOCAL"` (version 2 only): one the proxy opened itself,
   * such as a health check; its `remoteAddress` is the proxy's.
   */
  readonly command: "PROXY" | "LOCAL"
  /**
   * The client the proxy relayed, which is the connection's `remoteAddress`. `undefined` where the header
   * names none: `LOCAL`, version 1's `UNKNOWN`, version 2's `UNSPEC`, and what this library does not take
   * over TCP (version 2's Unix and UDP addresses); `remoteAddress` is then the proxy's, as the protocol asks.
   */
  readonly source: InetAddress | undefined
  /** The address the client connected to, on the proxy; `undefined` where the header names none. */
  readonly destination: InetAddress | undefined
}

/**
 * The brand this module's errors carry, so the guard recognises our classes and not look-alikes that share a
 * `_tag`.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: TypeId = "~@effect-tcp/socket/ProxyProtocol"

/**
 * The type of `TypeId`.
 *
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = "~@effect-tcp/socket/ProxyProtocol"

/**
 * Why a connection's PROXY header was rejected:
 *
 * - `"untrusted"`: the peer is not in `trusted` (nothing was read from it); code `EACCES`;
 * - `"malformed"`: what it sent is not a header this library takes (no signature, a bad address or port, an
 *   unknown version, command or family, a version 1 header without its CRLF within 107 bytes, a version 2
 *   header over 16 KiB); code `EPROTO`;
 * - `"incomplete"`: the peer ended its side (FIN) before its header was whole; code `EPROTO`.
 *
 * @since 0.2.0
 * @category models
 */
export type ProxyHeaderErrorReason = "untrusted" | "malformed" | "incomplete"

/**
 * A connection whose PROXY header was rejected: `accept` fails with it, `serve` logs it. It has the fields of
 * the `OSError` classes (an `errno` of the running OS, `code`, `syscall` `"accept"`, the peer's `host` and
 * `port`, the proxy's or whoever connected, and a `detail`) and a `reason`; its message is in their form:
 * `[Errno 71] Protocol error: malformed PROXY protocol header: no signature at the start: "GET / HTTP/1.1\r\n" (10.0.0.7:40312)`.
 * It is not an `OSError` (`OSError.isOSError` does not hold): `isProxyHeaderError` recognises it.
 *
 * @since 0.2.0
 * @category errors
 */
export class ProxyHeaderError extends Schema.TaggedError<ProxyHeaderError>()("ProxyHeaderError", {
  reason: Schema.Literals(["untrusted", "malformed", "incomplete"]),
  /** The OS errno of `code` (positive, as in Python). */
  errno: Schema.Number,
  /** `"EACCES"` for an untrusted peer, `"EPROTO"` for the rest. */
  code: Schema.String,
  syscall: Schema.String,
  host: Schema.String,
  port: Schema.Number,
  detail: Schema.String
}) {
  /** The brand the guard checks. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

Object.defineProperty(ProxyHeaderError.prototype, TypeId, { value: TypeId })

/**
 * Whether a value is one of this module's errors (by its brand, not its `_tag`).
 *
 * @since 0.2.0
 * @category guards
 */
export const isProxyHeaderError = (u: unknown): u is ProxyHeaderError => Predicate.hasProperty(u, TypeId)

/**
 * Why `listen` would refuse these `trusted` ranges (the detail of its EINVAL, naming the first one wrong), or
 * `undefined` when every one is a CIDR range or an address: for a program that reads them from its command line
 * or its config and reports a bad one before it listens.
 *
 * @example
 * import { ProxyProtocol } from "@effect-tcp/socket"
 *
 * ProxyProtocol.checkTrusted(["10.0.0.0/8", "::1"]) // undefined
 * ProxyProtocol.checkTrusted(["10.0.0.1/8"]) // a message naming "10.0.0.1/8"
 *
 * @since 0.2.0
 * @category validation
 */
export const checkTrusted = (trusted: ReadonlyArray<string>): string | undefined => {
  const parsed = Trusted.parse(trusted)
  return typeof parsed === "string" ? parsed : undefined
}
