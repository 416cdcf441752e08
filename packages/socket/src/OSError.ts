/**
 * Every failure a socket can meet, as a typed value mirroring Python's OSError
 * hierarchy (PEP 3151): one `Schema.TaggedError` per leaf, each carrying the
 * errno of the running OS, its code, the syscall and the address involved, with
 * a message in Python's form: `[Errno 111] Connection refused (127.0.0.1:8888)`.
 *
 * Families are unions with guards (`isConnectionError`, `isOSError`), and each
 * operation's error type lists only what can happen there (`ConnectError`,
 * `ListenError`, `ReadError`, `WriteError`, `AcceptError`).
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import * as Util from "node:util"
import { formatPath } from "./Address.ts"

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

const strerror = (errno: number): string => {
  try {
    const text = Util.getSystemErrorMessage(-Math.abs(errno))
    return text.charAt(0).toUpperCase() + text.slice(1)
  } catch {
    return "Unknown error"
  }
}

const formatMessage = (self: Fields): string => {
  const address = self.path !== undefined
    ? ` (${formatPath(self.path)})`
    : self.host !== undefined && self.port !== undefined
    ? ` (${self.host.includes(":") ? `[${self.host}]` : self.host}:${self.port})`
    : self.host !== undefined
    ? ` (${self.host})`
    : ""
  const detail = self.detail !== undefined ? `: ${self.detail}` : ""
  return `[Errno ${self.errno}] ${strerror(self.errno)}${detail}${address}`
}

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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
    return formatMessage(this)
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
  OSError
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
    "OSError"
  ],
  listen: [
    "AddressInUseError",
    "AddressNotAvailableError",
    "AddressResolutionError",
    "PermissionError",
    "TooManyOpenFilesError",
    "FileNotFoundError",
    "OSError"
  ],
  accept: ["TooManyOpenFilesError", "ConnectionAbortedError", "OSError"],
  read: ["ConnectionResetError", "ConnectionAbortedError", "TimeoutError", "OSError"],
  write: ["BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError", "TimeoutError", "OSError"]
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
 * What opening a connection can fail with.
 *
 * @since 0.1.0
 * @category operations
 */
export type ConnectError = Instance<(typeof tagsOf.connect)[number]>

/**
 * What binding a listener can fail with.
 *
 * @since 0.1.0
 * @category operations
 */
export type ListenError = Instance<(typeof tagsOf.listen)[number]>

/**
 * What accepting a connection can fail with (the server logs it and keeps serving).
 *
 * @since 0.1.0
 * @category operations
 */
export type AcceptError = Instance<(typeof tagsOf.accept)[number]>

/**
 * What reading from a connection can fail with. A clean end of stream is not an error.
 *
 * @since 0.1.0
 * @category operations
 */
export type ReadError = Instance<(typeof tagsOf.read)[number]>

/**
 * What writing to a connection can fail with. `TimeoutError`: the idle timeout
 * closed a connection whose peer stopped reading while a write waited.
 *
 * @since 0.1.0
 * @category operations
 */
export type WriteError = Instance<(typeof tagsOf.write)[number]>

const tagOfCode: Record<string, Tag> = {
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
  const tag = tagOfCode[code] ?? "OSError"
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
