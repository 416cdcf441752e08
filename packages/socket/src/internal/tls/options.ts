// The TLS options of `connect`, `listen` and `startTls`, resolved once for both
// layers: the defaults, the secure context (made here, so that a certificate or
// key that cannot be used fails before anything binds or connects), and what a
// bad value fails with.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as NodeTls from "node:tls"
import type { Address } from "../../Address.ts"
import * as OSError from "../../OSError.ts"
import type { Pem, StartTlsOptions, TlsCommonOptions, TlsConnectOptions, TlsListenOptions } from "../../Tls.ts"
import * as TlsErrors from "./errors.ts"

const defaultHandshakeTimeout = Duration.seconds(10)
/** The longest delay a Node timer holds. */
const maxTimerMillis = 2 ** 31 - 1

interface Common {
  readonly context: NodeTls.SecureContext
  readonly alpnProtocols: Array<string> | undefined
  readonly handshakeTimeoutMillis: number
}

/** A client's resolved options. */
export interface Client extends Common {
  readonly role: "client"
  readonly verify: boolean
  /** The name the server's certificate must carry: `serverName`, or the host connected to. */
  readonly identity: string
  /** SNI: the identity, when it is a host name (RFC 6066 has none for IP addresses). */
  readonly servername: string | undefined
}

/** A server's resolved options. */
export interface Server extends Common {
  readonly role: "server"
  readonly clientCertificates: "none" | "request" | "require"
}

/** Where an option error is reported: the operation, and the address it was for. */
interface Where {
  readonly syscall: "connect" | "listen" | "handshake"
  readonly host?: string | undefined
  readonly port?: number | undefined
  /** A Unix socket's (STARTTLS over one): there is no host name to verify but `serverName`. */
  readonly path?: string | undefined
}

type Failure = OSError.SSLError | OSError.OSError

const invalid = (where: Where, detail: string): OSError.OSError =>
  new OSError.OSError({ errno: OSError.errnoOf("EINVAL") ?? 22, code: "EINVAL", ...where, detail })

const asArray = (pem: Pem | ReadonlyArray<Pem>): ReadonlyArray<Pem> =>
  typeof pem === "string" || pem instanceof Uint8Array ? [pem] : pem

const text = (pem: Pem): string => typeof pem === "string" ? pem : Buffer.from(pem).toString("utf8")

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** node:tls ignores a CA it cannot read: each must hold certificates that parse, as `cert` and `key` must. */
const checkCa = (ca: ReadonlyArray<Pem>, where: Where): OSError.SSLError | undefined => {
  for (const pem of ca) {
    const blocks = text(pem).match(pemBlock)
    if (blocks === null) return TlsErrors.ssl("PEM", "NO_START_LINE", where, "ca holds no PEM certificate")
    for (const block of blocks) {
      try {
        void new Crypto.X509Certificate(block)
      } catch (cause) {
        return TlsErrors.fromNode(cause, where, ["SSLError"]) as OSError.SSLError
      }
    }
  }
  return undefined
}

const checkCommon = (options: TlsCommonOptions, where: Where): string | undefined => {
  const { alpnProtocols, maxVersion, minVersion } = options
  const versions = ["TLSv1.2", "TLSv1.3"]
  if (minVersion !== undefined && !versions.includes(minVersion)) return `tls.minVersion must be TLSv1.2 or TLSv1.3`
  if (maxVersion !== undefined && !versions.includes(maxVersion)) return `tls.maxVersion must be TLSv1.2 or TLSv1.3`
  if (minVersion === "TLSv1.3" && maxVersion === "TLSv1.2") return "tls.minVersion TLSv1.3 is above tls.maxVersion"
  for (const protocol of alpnProtocols ?? []) {
    const length = Buffer.byteLength(protocol)
    if (length < 1 || length > 255) return `tls.alpnProtocols: "${protocol}" must be 1 to 255 bytes`
  }
  const timeout = options.handshakeTimeout
  if (timeout !== undefined && !(Duration.toMillis(timeout) > 0)) return "tls.handshakeTimeout must be above zero"
  return void where
}

/** The secure context for these options; a certificate, key or CA that cannot be used is an `SSLError`. */
const makeContext = (
  options: {
    readonly ca?: Pem | ReadonlyArray<Pem> | undefined
    readonly cert?: Pem | undefined
    readonly key?: Pem | undefined
  } & TlsCommonOptions,
  where: Where
): NodeTls.SecureContext | Failure => {
  const ca = options.ca === undefined ? undefined : asArray(options.ca)
  const badCa = ca === undefined ? undefined : checkCa(ca, where)
  if (badCa !== undefined) return badCa
  if ((options.cert === undefined) !== (options.key === undefined)) {
    return invalid(where, options.cert === undefined ? "tls.key needs tls.cert" : "tls.cert needs tls.key")
  }
  try {
    return NodeTls.createSecureContext({
      minVersion: options.minVersion ?? "TLSv1.2",
      maxVersion: options.maxVersion ?? "TLSv1.3",
      ...(ca !== undefined ? { ca: ca.map(text) } : {}),
      ...(options.cert !== undefined ? { cert: text(options.cert) } : {}),
      ...(options.key !== undefined ? { key: text(options.key) } : {})
    })
  } catch (cause) {
    return TlsErrors.isTlsError(cause)
      ? TlsErrors.fromNode(cause, where, ["SSLError"]) as OSError.SSLError
      : invalid(where, `tls: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

const common = (options: TlsCommonOptions, context: NodeTls.SecureContext): Common => ({
  context,
  alpnProtocols: options.alpnProtocols === undefined ? undefined : [...options.alpnProtocols],
  handshakeTimeoutMillis: Math.min(
    maxTimerMillis,
    Math.max(1, Math.round(Duration.toMillis(options.handshakeTimeout ?? defaultHandshakeTimeout)))
  )
})

const resolveClient = (options: TlsConnectOptions | true, where: Where): Client | Failure => {
  const given: TlsConnectOptions = options === true ? {} : options
  const bad = checkCommon(given, where)
  if (bad !== undefined) return invalid(where, bad)
  if (given.serverName === "") return invalid(where, "tls.serverName must not be empty")
  const context = makeContext(given, where)
  if (OSError.isOSError(context)) return context
  const named = given.serverName ?? where.host
  if (named === undefined) return invalid(where, "tls.serverName is needed over a Unix socket: there is no host name")
  const identity = named.replace(/^\[(.*)\]$/, "$1")
  return {
    role: "client",
    ...common(given, context),
    verify: given.verify ?? true,
    identity,
    servername: Net.isIP(identity) === 0 ? identity : undefined
  }
}

const resolveServer = (options: TlsListenOptions, where: Where): Server | Failure => {
  const bad = checkCommon(options, where)
  if (bad !== undefined) return invalid(where, bad)
  if (options.cert === undefined || options.key === undefined) return invalid(where, "tls needs cert and key")
  const clientCertificates = options.clientCertificates ?? "none"
  if (!["none", "request", "require"].includes(clientCertificates)) {
    return invalid(where, `tls.clientCertificates must be "none", "request" or "require"`)
  }
  const context = makeContext(options, where)
  if (OSError.isOSError(context)) return context
  return { role: "server", ...common(options, context), clientCertificates }
}

const settle = <A>(result: A | Failure): Effect.Effect<A, Failure> =>
  OSError.isOSError(result) ? Effect.fail(result as Failure) : Effect.succeed(result as A)

/** `connect`'s TLS options, for a connection to `host`. */
export const client = (options: TlsConnectOptions | true, host: string, port: number) =>
  Effect.suspend(() => settle(resolveClient(options, { syscall: "connect", host, port })))

/** `listen`'s TLS options. */
export const server = (options: TlsListenOptions, host: string, port: number) =>
  Effect.suspend(() => settle(resolveServer(options, { syscall: "listen", host, port })))

/** `startTls`'s options, for the connection to `peer` (a host and port, or a Unix socket's path). */
export const startTls = (options: StartTlsOptions, peer: Address) =>
  Effect.suspend(() => {
    const where: Where = peer.family === "Unix"
      ? { syscall: "handshake", path: peer.path }
      : { syscall: "handshake", host: peer.host, port: peer.port }
    if (options.role === "client") return settle<Client | Server>(resolveClient(options, where))
    if (options.role === "server") return settle<Client | Server>(resolveServer(options, where))
    return Effect.fail(invalid(where, `startTls's role must be "client" or "server"`))
  })
