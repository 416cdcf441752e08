/**
 * TLS on the same `Connection`: a TLS client (`Tcp.connect({ ..., tls })`), a TLS server
 * (`Tcp.listen({ ..., tls })`) and STARTTLS (`startTls`, as asyncio's `start_tls`), on `node:tls` on
 * both layers (on `Tcp.layer` over the socket's own handle, at `node:tls` speed; on `Tcp.layerTest`
 * over the fake wire, so real certificates and real verification errors show up in tests). A TLS
 * connection is handed out only once its handshake is done, and `connection.tls` says what was agreed.
 *
 * Failures are Python's `ssl` errors, which are `OSError`s (`OSError.isOSError` holds):
 * `SSLCertVerificationError` for a certificate that does not verify (`reason`: `"expired"`,
 * `"self-signed"`, `"hostname-mismatch"`, ...), `SSLError` for the rest (an alert, a peer that does not
 * speak TLS, a bad certificate or key in the options: `reason` such as `WRONG_VERSION_NUMBER`),
 * `SSLEOFError` for a TCP connection that ended during the handshake, and `TimeoutError` for a
 * handshake that took longer than `handshakeTimeout` (10 seconds unless given).
 *
 * Ending: `end` sends close_notify then FIN, and so does closing the connection's scope. The peer's
 * close_notify ends `stream`; so does a FIN without close_notify, as in asyncio and in Python's `ssl` with
 * its default `suppress_ragged_eofs=True` (and in `node:tls`): a protocol that must know its peer
 * finished says so itself (a length, a last frame), as HTTP does.
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Connection } from "./Connection.ts"
import type { HandshakeError } from "./OSError.ts"
import { Tcp } from "./Tcp.ts"

/**
 * PEM text, as a string or its bytes. Several certificates (a chain, a CA bundle) may follow one another.
 *
 * @since 0.2.0
 * @category models
 */
export type Pem = string | Uint8Array

/**
 * The TLS versions this library speaks. TLS 1.0 and 1.1 are not offered.
 *
 * @since 0.2.0
 * @category models
 */
export type TlsVersion = "TLSv1.2" | "TLSv1.3"

/**
 * What both ends of a TLS connection may set.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsCommonOptions {
  /** The protocols to offer (a client) or accept (a server) with ALPN, in order of preference: `["h2", "http/1.1"]`. */
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  /** Default `"TLSv1.2"`. */
  readonly minVersion?: TlsVersion | undefined
  /** Default `"TLSv1.3"`. */
  readonly maxVersion?: TlsVersion | undefined
  /**
   * How long the handshake may take before it fails with `TimeoutError` (and the TCP connection closes).
   * It starts once the TCP connection is established (a connect's `timeout` covers the TCP connect only).
   * Default 10 seconds.
   */
  readonly handshakeTimeout?: Duration.Input | undefined
}

/**
 * A TLS client's options (`Tcp.connect({ tls })`, `startTls({ role: "client" })`). The server's
 * certificate is verified unless `verify: false` says otherwise, and its names are checked against
 * `serverName`.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsConnectOptions extends TlsCommonOptions {
  /**
   * The certificate authorities to trust, instead of Node's default ones (Mozilla's, plus the system's
   * when Node runs with `--use-system-ca`, plus `NODE_EXTRA_CA_CERTS`).
   */
  readonly ca?: Pem | ReadonlyArray<Pem> | undefined
  /** A client certificate (and its chain), for servers that ask for one. Needs `key`. */
  readonly cert?: Pem | undefined
  /** The private key of `cert`. */
  readonly key?: Pem | undefined
  /**
   * The name the server's certificate must carry, also sent as SNI when it is a host name (RFC 6066 has no
   * SNI for IP addresses). Default: the host connected to, a name or an IP address.
   */
  readonly serverName?: string | undefined
  /**
   * `false` accepts any certificate, whoever signed it and whatever it names: the connection is encrypted
   * but the peer is not authenticated (`connection.tls.authorized` says whether it would have verified).
   * Default `true`.
   */
  readonly verify?: boolean | undefined
}

/**
 * A TLS server's options (`Tcp.listen({ tls })`, `startTls({ role: "server" })`): its certificate and key,
 * and whether it asks clients for theirs.
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsListenOptions extends TlsCommonOptions {
  /** The server's certificate, followed by its chain. */
  readonly cert: Pem
  /** The private key of `cert`. */
  readonly key: Pem
  /** The certificate authorities client certificates are verified against. Default: Node's default ones. */
  readonly ca?: Pem | ReadonlyArray<Pem> | undefined
  /**
   * `"none"` (the default) asks for no client certificate. `"request"` asks for one: a client may send none
   * (`connection.tls.peerCertificate` is then `undefined`), but one that does not verify fails the
   * handshake. `"require"` fails the handshake of a client that sends none, or one that does not verify
   * (Python's `CERT_NONE`, `CERT_OPTIONAL`, `CERT_REQUIRED`).
   *
   * With TLS 1.3 the client has finished its handshake before the server checks its certificate: there
   * the client's `connect` succeeds and its first read fails (`SSLError` with reason
   * `TLSV13_ALERT_CERTIFICATE_REQUIRED` for a missing certificate, `ConnectionResetError` for one the
   * server rejected), while the server's `accept` fails (and `serve` logs it) with the typed error.
   */
  readonly clientCertificates?: "none" | "request" | "require" | undefined
}

/**
 * What `startTls` takes: which side of the handshake this end plays, and that side's options.
 *
 * @since 0.2.0
 * @category models
 */
export type StartTlsOptions =
  | ({ readonly role: "client" } & TlsConnectOptions)
  | ({ readonly role: "server" } & TlsListenOptions)

/**
 * The peer's certificate, in short.
 *
 * @since 0.2.0
 * @category models
 */
export interface PeerCertificate {
  /** `"CN=localhost"`; several parts are joined with `", "`. */
  readonly subject: string
  readonly issuer: string
  /** `"DNS:localhost, IP Address:127.0.0.1"`, or `undefined` when it names none. */
  readonly subjectAltName: string | undefined
  readonly validFrom: Date
  readonly validTo: Date
  /** SHA-256 of the certificate, as colon-separated hex: `"AB:CD:..."`. */
  readonly fingerprint256: string
  readonly serialNumber: string
}

/**
 * What a TLS connection agreed on in its handshake (`connection.tls`).
 *
 * @since 0.2.0
 * @category models
 */
export interface TlsInfo {
  /** `"TLSv1.3"`, `"TLSv1.2"`. */
  readonly protocol: string
  /** The cipher suite, as OpenSSL names it: `"TLS_AES_256_GCM_SHA384"`. */
  readonly cipher: string
  /** The protocol agreed with ALPN, or `undefined` when none was. */
  readonly alpnProtocol: string | undefined
  /** The peer's certificate; `undefined` when it sent none (a client a server did not ask). */
  readonly peerCertificate: PeerCertificate | undefined
  /**
   * Whether the peer's certificate verified: on a client, against the CAs and `serverName` (always `true`
   * unless `verify: false`); on a server, whether the client sent a certificate that verified.
   */
  readonly authorized: boolean
}

/**
 * STARTTLS, as asyncio's `start_tls`: upgrades an open plain connection to TLS, from either side, and
 * succeeds once the handshake is done, with the TLS connection (owned by the current scope, and closed
 * with the plain one's scope too). It keeps the plain connection's `id`.
 *
 * From then on the plain connection must not be used: reading or writing it is a defect, as is starting
 * while a fiber reads it. Bytes it received but did not deliver yet are handed to TLS as the start of the
 * handshake. Bytes it did deliver are not: a `Reader` or codec that read ahead past the plaintext holds
 * them, and the handshake fails (`SSLError`, or `TimeoutError` when a whole message went missing). So a
 * protocol upgrades where the peer waits for it (SMTP's
 * `220 Ready to start TLS`, the client's next bytes being its ClientHello), and reads the plaintext
 * exactly, up to that point.
 *
 * @since 0.2.0
 * @category STARTTLS
 */
export const startTls = (
  connection: Connection,
  options: StartTlsOptions
): Effect.Effect<Connection, HandshakeError, Tcp | Scope.Scope> =>
  Effect.flatMap(Tcp, (tcp) => tcp.startTls(connection, options))
