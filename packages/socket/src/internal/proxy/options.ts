// `listen`'s `proxyProtocol`, resolved once for both layers: the trusted ranges
// (trusted.ts: a bad one fails `listen` before anything binds), the header timeout, and the errors a connection's header can meet.
import * as Duration from "effect/Duration"
import type * as IpNetwork from "effect/net/IpNetwork"
import * as Option from "effect/Option"
import type { InetAddress } from "../../Address.ts"
import * as OSError from "../../OSError.ts"
import { ProxyHeaderError, type ProxyHeaderErrorReason, type ProxyProtocolOptions } from "../../ProxyProtocol.ts"
import * as Trusted from "./trusted.ts"

const defaultHeaderTimeout = Duration.seconds(5)
/** The longest delay a Node timer holds. */
const maxTimerMillis = 2 ** 31 - 1

/** The resolved options: who may send a header, and how long it may take. */
export interface Resolved {
  readonly trusted: ReadonlyArray<IpNetwork.IpNetwork>
  readonly headerTimeoutMillis: number
}

/** The options, or the detail of the EINVAL that names what is wrong. */
export const resolve = (options: ProxyProtocolOptions): Resolved | string => {
  const trusted = Trusted.parse(options.trusted)
  if (typeof trusted === "string") return trusted
  const timeout = Duration.fromInput(options.headerTimeout ?? defaultHeaderTimeout)
  const millis = Option.isSome(timeout) ? Duration.toMillis(timeout.value) : Number.NaN
  if (!(millis > 0)) return `proxyProtocol.headerTimeout must be above zero, not ${String(options.headerTimeout)}`
  return { trusted, headerTimeoutMillis: Math.min(maxTimerMillis, Math.max(1, Math.round(millis))) }
}

/** Is the peer in a trusted range? */
export const isTrusted = (resolved: Resolved, peer: InetAddress): boolean => Trusted.contains(resolved.trusted, peer)

/** A connection's rejected header. */
const rejected = (reason: ProxyHeaderErrorReason, peer: InetAddress, detail: string): ProxyHeaderError => {
  const code = reason === "untrusted" ? "EACCES" : "EPROTO"
  const errno = OSError.errnoOf(code) ?? (code === "EACCES" ? 13 : 71)
  return new ProxyHeaderError({ reason, errno, code, syscall: "accept", host: peer.host, port: peer.port, detail })
}

/** A peer outside the trusted ranges. */
export const untrusted = (peer: InetAddress): ProxyHeaderError =>
  rejected("untrusted", peer, `${peer.host} is not a trusted proxy (in none of proxyProtocol.trusted)`)

/** Bytes that are not a header (`why`: the parser's detail). */
export const malformed = (peer: InetAddress, why: string): ProxyHeaderError =>
  rejected("malformed", peer, `malformed PROXY protocol header: ${why}`)

/** The peer's FIN before the header was whole. */
export const incomplete = (peer: InetAddress, received: number): ProxyHeaderError =>
  rejected(
    "incomplete",
    peer,
    `the peer ended the connection after ${received === 1 ? "1 byte" : `${received} bytes`}, ` +
      "before its PROXY protocol header was complete"
  )

/** `1.5s`: how our timeouts name their duration. */
const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))}s`

/** No whole header within the timeout. */
export const timedOut = (peer: InetAddress, millis: number): OSError.TimeoutError =>
  new OSError.TimeoutError({
    errno: OSError.errnoOf("ETIMEDOUT") ?? 110,
    code: "ETIMEDOUT",
    syscall: "accept",
    host: peer.host,
    port: peer.port,
    detail: `no PROXY protocol header within ${seconds(millis)}`
  })
