/**
 * Every failure a socket can meet, as a typed value mirroring Python's OSError
 * hierarchy (PEP 3151): one `Schema.TaggedError` per leaf, each carrying the
 * errno of the running OS, its code, the syscall and the address involved, with
 * a message in Python's form: `[Errno 111] Connection refused (127.0.0.1:8888)`.
 *
 * TLS failures are Python's `ssl` errors, which are `OSError`s too:
 * `SSLError` (OpenSSL's `library` and `reason`), `SSLCertVerificationError`
 * (`reason`, `verifyCode`, `verifyMessage`), `SSLEOFError`, `SSLZeroReturnError`,
 * their `errno` OpenSSL's `SSL_ERROR_*` as Python has it:
 * `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (127.0.0.1:8443)`.
 *
 * Families are unions with guards (`isConnectionError`, `isSSLError`, `isOSError`), and each
 * operation's error type lists only what can happen there (`ConnectError`,
 * `ListenError`, `ReadError`, `WriteError`, `AcceptError`, `HandshakeError`).
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import { errnoMessage, where } from "./internal/errorMessage.ts"

const fields = {
  /** The OS errno (positive, as in Python), or Node's own number where the OS has none (DNS). */
  errno: Schema.Number,
  /** The symbolic code: `"ECONNREFUSED"`. */
  code: Schema.String,
  /** The operation that failed: `connect`, `read`, `write`, `listen`, `accept`, `getaddrinfo`. */
  syscall: Schema.String,
  /** The address involved, where there is one. */
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  /** The Unix socket path involved, for a Unix domain socket (an abstract name starts with `"\0"`). */
  path: Schema.optional(Schema.String),
  /** What our own code adds, such as which timeout ran out. */
  detail: Schema.optional(Schema.String)
}

type Fields = Schema.Struct.Type<typeof fields>

/**
 * The brand every socket error carries, so guards recognise our classes and not
 * look-alikes that share a `_tag` (Effect's own `Cause.TimeoutError` is one).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: TypeId = "~@effect-tcp/socket/OSError"

/**
 * The type of `TypeId`, the brand every socket error carries.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = "~@effect-tcp/socket/OSError"

/**
 * `BrokenPipeError`: writing to a connection whose other end is gone (EPIPE, ESHUTDOWN).
 *
 * @since 0.1.0
 * @category errors
 */
export class BrokenPipeError extends Schema.TaggedError<BrokenPipeError>()("BrokenPipeError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `ConnectionAbortedError`: the connection was aborted by this host (ECONNABORTED).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionAbortedError
  extends Schema.TaggedError<ConnectionAbortedError>()("ConnectionAbortedError", fields)
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `ConnectionRefusedError`: nothing listens at the address (ECONNREFUSED).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionRefusedError
  extends Schema.TaggedError<ConnectionRefusedError>()("ConnectionRefusedError", fields)
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `ConnectionResetError`: the peer reset the connection (ECONNRESET).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionResetError extends Schema.TaggedError<ConnectionResetError>()("ConnectionResetError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `TimeoutError`: ETIMEDOUT from the OS, and our own connect and idle timeouts.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `PermissionError`: the OS denied the operation, such as binding a privileged port (EACCES, EPERM).
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionError extends Schema.TaggedError<PermissionError>()("PermissionError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `socket.gaierror`: a host name that does not resolve (ENOTFOUND, EAI_AGAIN, EAI_FAIL, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressResolutionError
  extends Schema.TaggedError<AddressResolutionError>()("AddressResolutionError", fields)
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `FileNotFoundError`: no such file or directory (ENOENT), such as a Unix socket path that does not exist or
 * whose directory does not.
 *
 * @since 0.2.0
 * @category errors
 */
export class FileNotFoundError extends Schema.TaggedError<FileNotFoundError>()("FileNotFoundError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `OSError(EADDRINUSE)`: another socket is bound to the address.
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressInUseError extends Schema.TaggedError<AddressInUseError>()("AddressInUseError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `OSError(EADDRNOTAVAIL)`: the address is not one of this host's.
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressNotAvailableError
  extends Schema.TaggedError<AddressNotAvailableError>()("AddressNotAvailableError", fields)
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `OSError(ENETUNREACH)`: no route to the network (ENETUNREACH, ENETDOWN).
 *
 * @since 0.1.0
 * @category errors
 */
export class NetworkUnreachableError
  extends Schema.TaggedError<NetworkUnreachableError>()("NetworkUnreachableError", fields)
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `OSError(EHOSTUNREACH)`: no route to the host (EHOSTUNREACH, EHOSTDOWN).
 *
 * @since 0.1.0
 * @category errors
 */
export class HostUnreachableError extends Schema.TaggedError<HostUnreachableError>()("HostUnreachableError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `OSError(EMFILE)`: the process or the system ran out of file descriptors (EMFILE, ENFILE).
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyOpenFilesError
  extends Schema.TaggedError<TooManyOpenFilesError>()("TooManyOpenFilesError", fields)
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

/**
 * `OSError`: any other errno, kept as the OS reported it.
 *
 * @since 0.1.0
 * @category errors
 */
export class OSError extends Schema.TaggedError<OSError>()("OSError", fields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return errnoMessage(this)
  }
}

const sslFields = {
  /** OpenSSL's `SSL_ERROR_*` number, as Python's `ssl` module has it: 1 (`SSL_ERROR_SSL`), 6, 8. */
  errno: Schema.Number,
  /** The name of that number: `"SSL_ERROR_SSL"`, `"SSL_ERROR_ZERO_RETURN"`, `"SSL_ERROR_EOF"`. */
  code: Schema.String,
  /** Where it happened: `handshake`, `read`, `write`, or `connect`/`listen` for bad options. */
  syscall: Schema.String,
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  /** A Unix socket's path, for STARTTLS over one. */
  path: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  /** The OpenSSL library that reported it, as Python names it: `"SSL"`, `"X509"`, `"PEM"`. */
  library: Schema.String
}

type SSLFields = Schema.Struct.Type<typeof sslFields>

/** `[SSL: WRONG_VERSION_NUMBER] wrong version number (127.0.0.1:8443)`, as Python words it. */
const formatSSLMessage = (self: SSLFields, reason: string, text: string): string =>
  `[${self.library}: ${reason}] ${text}${self.detail !== undefined ? `: ${self.detail}` : ""}${where(self)}`

/**
 * `ssl.SSLError`: TLS failed (a protocol error, an alert from the peer, a bad certificate or key in the
 * options). `reason` is OpenSSL's, as Python has it: `WRONG_VERSION_NUMBER`, `TLSV1_ALERT_UNKNOWN_CA`,
 * `KEY_VALUES_MISMATCH`. Like Python's, it is an `OSError`: `isOSError` holds.
 *
 * @since 0.2.0
 * @category errors
 */
export class SSLError extends Schema.TaggedError<SSLError>()("SSLError", {
  ...sslFields,
  /** OpenSSL's reason: `"WRONG_VERSION_NUMBER"`. */
  reason: Schema.String
}) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return formatSSLMessage(this, this.reason, this.reason.toLowerCase().replaceAll("_", " "))
  }
}

/**
 * `ssl.SSLCertVerificationError`: the peer's certificate did not verify. `verifyCode` is OpenSSL's
 * (`CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `HOSTNAME_MISMATCH`, ...), `verifyMessage` its words,
 * and `reason` what kind of failure it is, for programs that decide on it. The message is Python's:
 * `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (127.0.0.1:8443)`.
 *
 * @since 0.2.0
 * @category errors
 */
export class SSLCertVerificationError
  extends Schema.TaggedError<SSLCertVerificationError>()("SSLCertVerificationError", {
    ...sslFields,
    /** What kind of failure: the certificate's dates, its issuer, its names, or anything else. */
    reason: Schema.Literals([
      "expired",
      "not-yet-valid",
      "self-signed",
      "unknown-issuer",
      "hostname-mismatch",
      "revoked",
      "other"
    ]),
    /** OpenSSL's verify code, without `X509_V_ERR_`: `"CERT_HAS_EXPIRED"`. */
    verifyCode: Schema.String,
    /** OpenSSL's words for it: `"certificate has expired"`. */
    verifyMessage: Schema.String
  })
{
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return formatSSLMessage(
      this,
      "CERTIFICATE_VERIFY_FAILED",
      `certificate verify failed: ${this.verifyMessage}`
    )
  }
}

/**
 * `ssl.SSLZeroReturnError`: the peer closed TLS (its close_notify) where more was expected. Neither layer
 * raises it for now: a close_notify after the handshake is the clean end of `stream`, as in asyncio, and
 * node:tls reports one during the handshake as it does a bare FIN (`SSLEOFError`). It is here so that code
 * written against Python's hierarchy finds it.
 *
 * @since 0.2.0
 * @category errors
 */
export class SSLZeroReturnError extends Schema.TaggedError<SSLZeroReturnError>()("SSLZeroReturnError", sslFields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return `TLS/SSL connection has been closed (EOF)${this.detail !== undefined ? `: ${this.detail}` : ""}${
      where(this)
    }`
  }
}

/**
 * `ssl.SSLEOFError`: the TCP connection ended (a FIN, no close_notify) in the middle of the handshake:
 * `[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (127.0.0.1:8443)`. After the
 * handshake a FIN without close_notify ends `stream` cleanly, as in asyncio and in Python's `ssl` with its
 * default `suppress_ragged_eofs=True` (and as node:tls reads it): a protocol that must know its peer
 * finished says so itself (a length, a last frame).
 *
 * @since 0.2.0
 * @category errors
 */
export class SSLEOFError extends Schema.TaggedError<SSLEOFError>()("SSLEOFError", sslFields) {
  /** The brand the guards check, so a look-alike with the same `_tag` is not taken for this class. */
  declare readonly [TypeId]: TypeId
  override get message() {
    return formatSSLMessage(this, "UNEXPECTED_EOF_WHILE_READING", "EOF occurred in violation of protocol")
  }
}

const classes = {
  BrokenPipeError,
  ConnectionAbortedError,
  ConnectionRefusedError,
  ConnectionResetError,
  TimeoutError,
  PermissionError,
  FileNotFoundError,
  AddressResolutionError,
  AddressInUseError,
  AddressNotAvailableError,
  NetworkUnreachableError,
  HostUnreachableError,
  TooManyOpenFilesError,
  OSError,
  SSLError,
  SSLCertVerificationError,
  SSLZeroReturnError,
  SSLEOFError
} as const

for (const Class of Object.values(classes)) {
  Object.defineProperty(Class.prototype, TypeId, { value: TypeId })
}

/**
 * The tag of any socket error.
 *
 * @since 0.1.0
 * @category families
 */
export type Tag = keyof typeof classes

type Instance<T extends Tag> = InstanceType<(typeof classes)[T]>

/**
 * The tags each operation can produce: the one table the operations' error
 * types below are derived from, and what `fromCode` and `fromSystemError` keep.
 *
 * @since 0.1.0
 * @category operations
 */
export const tagsOf = {
  connect: [
    "ConnectionRefusedError",
    "ConnectionResetError",
    "TimeoutError",
    "AddressResolutionError",
    "AddressNotAvailableError",
    "NetworkUnreachableError",
    "HostUnreachableError",
    "PermissionError",
    "TooManyOpenFilesError",
    "FileNotFoundError",
    "OSError",
    "SSLError",
    "SSLCertVerificationError",
    "SSLEOFError"
  ],
  listen: [
    "AddressInUseError",
    "AddressNotAvailableError",
    "AddressResolutionError",
    "PermissionError",
    "TooManyOpenFilesError",
    "FileNotFoundError",
    "OSError",
    "SSLError"
  ],
  accept: [
    "TooManyOpenFilesError",
    "ConnectionAbortedError",
    "OSError",
    "ConnectionResetError",
    "TimeoutError",
    "SSLError",
    "SSLCertVerificationError",
    "SSLEOFError"
  ],
  read: ["ConnectionResetError", "ConnectionAbortedError", "TimeoutError", "OSError", "SSLError"],
  write: ["BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError", "TimeoutError", "OSError", "SSLError"],
  handshake: [
    "ConnectionResetError",
    "ConnectionAbortedError",
    "BrokenPipeError",
    "TimeoutError",
    "OSError",
    "SSLError",
    "SSLCertVerificationError",
    "SSLEOFError"
  ]
} as const satisfies Record<string, ReadonlyArray<Tag>>

/**
 * The tags of Python's `ConnectionError` family.
 *
 * @since 0.1.0
 * @category families
 */
export const connectionTags = [
  "BrokenPipeError",
  "ConnectionAbortedError",
  "ConnectionRefusedError",
  "ConnectionResetError"
] as const satisfies ReadonlyArray<Tag>

/**
 * The tags of Python's `ssl.SSLError` family.
 *
 * @since 0.2.0
 * @category families
 */
export const sslTags = [
  "SSLError",
  "SSLCertVerificationError",
  "SSLZeroReturnError",
  "SSLEOFError"
] as const satisfies ReadonlyArray<Tag>

/**
 * Python's `ssl.SSLError` family: every TLS failure.
 *
 * @since 0.2.0
 * @category families
 */
export type SSLErrorFamily = Instance<(typeof sslTags)[number]>

/**
 * Python's `ConnectionError` family.
 *
 * @since 0.1.0
 * @category families
 */
export type ConnectionError = Instance<(typeof connectionTags)[number]>

/**
 * Every socket error: Python's `OSError` and all its subclasses.
 *
 * @since 0.1.0
 * @category families
 */
export type SocketError = Instance<Tag>

/**
 * What opening a connection can fail with; a TLS one, also with what its handshake can (SSL errors,
 * `TimeoutError` for `handshakeTimeout`).
 *
 * @since 0.1.0
 * @category operations
 */
export type ConnectError = Instance<(typeof tagsOf.connect)[number]>

/**
 * What binding a listener can fail with; a TLS one, also with `SSLError` for a certificate or key it
 * cannot use.
 *
 * @since 0.1.0
 * @category operations
 */
export type ListenError = Instance<(typeof tagsOf.listen)[number]>

/**
 * What accepting a connection can fail with (the server logs it and keeps serving); on a TLS server,
 * also with what the connection's handshake failed with.
 *
 * @since 0.1.0
 * @category operations
 */
export type AcceptError = Instance<(typeof tagsOf.accept)[number]>

/**
 * What reading from a connection can fail with. A clean end of stream is not an error. On a TLS
 * connection, `SSLError` for the peer's alert or a record that does not decrypt.
 *
 * @since 0.1.0
 * @category operations
 */
export type ReadError = Instance<(typeof tagsOf.read)[number]>

/**
 * What a TLS handshake can fail with (`Tls.startTls`; `connect` and `accept` of TLS connections include
 * these): the peer's certificate, its alerts, its FIN (`SSLEOFError`) or reset, the handshake timeout
 * (`TimeoutError`), or a connection already closed.
 *
 * @since 0.2.0
 * @category operations
 */
export type HandshakeError = Instance<(typeof tagsOf.handshake)[number]>

/**
 * What writing to a connection can fail with. `TimeoutError`: the idle timeout
 * closed a connection whose peer stopped reading while a write waited.
 *
 * @since 0.1.0
 * @category operations
 */
export type WriteError = Instance<(typeof tagsOf.write)[number]>

/** The tags an errno maps to: every one but the SSL family's, which carry more than an errno. */
type ErrnoTag = Exclude<Tag, (typeof sslTags)[number]>

const tagOfCode: Record<string, ErrnoTag> = {
  EPIPE: "BrokenPipeError",
  ESHUTDOWN: "BrokenPipeError",
  ECONNABORTED: "ConnectionAbortedError",
  ECONNREFUSED: "ConnectionRefusedError",
  ECONNRESET: "ConnectionResetError",
  ETIMEDOUT: "TimeoutError",
  EACCES: "PermissionError",
  EPERM: "PermissionError",
  ENOENT: "FileNotFoundError",
  ENOTFOUND: "AddressResolutionError",
  EAI_AGAIN: "AddressResolutionError",
  EAI_FAIL: "AddressResolutionError",
  EAI_NONAME: "AddressResolutionError",
  EAI_NODATA: "AddressResolutionError",
  EAI_FAMILY: "AddressResolutionError",
  EAI_SERVICE: "AddressResolutionError",
  EADDRINUSE: "AddressInUseError",
  EADDRNOTAVAIL: "AddressNotAvailableError",
  ENETUNREACH: "NetworkUnreachableError",
  ENETDOWN: "NetworkUnreachableError",
  EHOSTUNREACH: "HostUnreachableError",
  EHOSTDOWN: "HostUnreachableError",
  EMFILE: "TooManyOpenFilesError",
  ENFILE: "TooManyOpenFilesError"
}

/**
 * The running OS's errno for a code (`errnoOf("ECONNREFUSED")` is 111 on Linux, 61 on macOS),
 * or `undefined` where the OS has no such errno (DNS codes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const errnoOf = (code: string): number | undefined =>
  (Os.constants.errno as Record<string, number | undefined>)[code]

/**
 * Where an error happened: the syscall and the address involved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly syscall: string
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
  readonly detail?: string | undefined
}

const props = (code: string, errno: number, context: Context): Fields => ({
  errno,
  code,
  syscall: context.syscall,
  ...(context.host !== undefined ? { host: context.host } : {}),
  ...(context.port !== undefined ? { port: context.port } : {}),
  ...(context.path !== undefined ? { path: context.path } : {}),
  ...(context.detail !== undefined ? { detail: context.detail } : {})
})

/**
 * Builds the error for a code as the running OS numbers it, keeping only the
 * tags an operation can produce: any other code becomes an `OSError` that keeps
 * the errno, so an operation's error type stays honest.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromCode = <const T extends Tag = Tag>(
  code: string,
  context: Context,
  options?: { readonly errno?: number | undefined; readonly allowed?: ReadonlyArray<T> | undefined }
): Instance<T> | OSError => {
  const errno = errnoOf(code) ?? options?.errno ?? 0
  const tag: ErrnoTag = tagOfCode[code] ?? "OSError"
  const allowed = options?.allowed
  const Class = allowed === undefined || (allowed as ReadonlyArray<Tag>).includes(tag) ? classes[tag] : OSError
  return new Class(props(code, errno, context)) as Instance<T> | OSError
}

/**
 * Maps a Node.js system error (`{ code, errno, syscall }`) to its typed error.
 * Errors without a code (a bug, not the network) are kept as `OSError` with code `EIO`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSystemError = <const T extends Tag = Tag>(
  cause: unknown,
  context: Context,
  allowed?: ReadonlyArray<T>
): Instance<T> | OSError => {
  const code = Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : "EIO"
  const errno = Predicate.hasProperty(cause, "errno") && Predicate.isNumber(cause.errno)
    ? Math.abs(cause.errno)
    : undefined
  return fromCode(code, context, { errno, allowed })
}

/**
 * Is this any socket error (Python's `isinstance(e, OSError)`)?
 *
 * @since 0.1.0
 * @category guards
 */
export const isOSError = (u: unknown): u is SocketError => Predicate.hasProperty(u, TypeId)

const connectionTagSet: ReadonlySet<Tag> = new Set(connectionTags)

/**
 * Is this a `ConnectionError` (Python's `isinstance(e, ConnectionError)`)?
 *
 * @since 0.1.0
 * @category guards
 */
export const isConnectionError = (u: unknown): u is ConnectionError => isOSError(u) && connectionTagSet.has(u._tag)

const sslTagSet: ReadonlySet<Tag> = new Set(sslTags)

/**
 * Is this a TLS failure (Python's `isinstance(e, ssl.SSLError)`)?
 *
 * @since 0.2.0
 * @category guards
 */
export const isSSLError = (u: unknown): u is SSLErrorFamily => isOSError(u) && sslTagSet.has(u._tag)
