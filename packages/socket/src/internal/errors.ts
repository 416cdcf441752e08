// The errors both layers raise, built in one place: each operation's error keeps
// only the tags that operation can produce, and the same situation reads the
// same on `layer` and `layerTest` (code, syscall, detail, address).
import * as OSError from "../OSError.ts"
import * as TlsErrors from "./tls/errors.ts"

/**
 * The address an error names: the peer for a connection, the listener's own for a server; for a Unix
 * socket its path (an `Address` is one).
 */
export interface Where {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly path?: string | undefined
}

type Operation = keyof typeof OSError.tagsOf

/** `1.5s`: how our timeouts name their duration. */
const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))}s`

const context = (syscall: string, where: Where, detail: string | undefined): OSError.Context => ({
  syscall,
  host: where.host,
  port: where.port,
  path: where.path,
  detail
})

export const read = (code: string, where: Where, detail?: string): OSError.ReadError =>
  OSError.fromCode(code, context("read", where, detail), { allowed: OSError.tagsOf.read })

export const write = (code: string, where: Where, detail?: string): OSError.WriteError =>
  OSError.fromCode(code, context("write", where, detail), { allowed: OSError.tagsOf.write })

export const connect = (code: string, where: Where, detail?: string): OSError.ConnectError =>
  OSError.fromCode(code, context("connect", where, detail), { allowed: OSError.tagsOf.connect })

export const listen = (code: string, syscall: string, where: Where, detail?: string): OSError.ListenError =>
  OSError.fromCode(code, context(syscall, where, detail), { allowed: OSError.tagsOf.listen })

export const accept = (code: string, where: Where, detail?: string): OSError.AcceptError =>
  OSError.fromCode(code, context("accept", where, detail), { allowed: OSError.tagsOf.accept })

/**
 * ETIMEDOUT on an open connection: the kernel gave up on a peer that stopped acknowledging (keepalive probes,
 * TCP_USER_TIMEOUT, or its own retries).
 */
const deadPeerDetail = "the peer stopped answering"

/** An error Node raised, typed for the operation it came from (Node's own syscall where it names one). */
export const fromNode = <const Op extends Operation>(
  operation: Op,
  cause: unknown,
  where: Where
): OSError.SocketError & { readonly _tag: (typeof OSError.tagsOf)[Op][number] } => {
  const { code, syscall } = (cause ?? {}) as { readonly code?: unknown; readonly syscall?: unknown }
  // one of ours, which the fakes hand node:tls (fake/tls.ts): kept, with its detail, where the operation has it
  const typed = (cause as { readonly cause?: unknown } | null)?.cause
  if (OSError.isOSError(typed) && (OSError.tagsOf[operation] as ReadonlyArray<OSError.Tag>).includes(typed._tag)) {
    return typed as never
  }
  if (TlsErrors.isTlsError(cause)) {
    // node:tls's own (an alert, a record that does not decrypt): Python's ssl errors
    return TlsErrors.fromNode(cause, { syscall: operation, ...where }, OSError.tagsOf[operation]) as never
  }
  const deadPeer = code === "ETIMEDOUT" && (operation === "read" || operation === "write")
  return OSError.fromSystemError(
    cause,
    context(typeof syscall === "string" ? syscall : operation, where, deadPeer ? deadPeerDetail : undefined),
    OSError.tagsOf[operation]
  ) as never
}

/** A setting out of range: the operation fails before it touches the OS. */
/** An error that is an `OSError` whatever its code: the operation fails before it touches the OS. */
const plain = (code: string, errno: number, syscall: string, where: Where, detail: string): OSError.OSError =>
  OSError.fromCode(code, context(syscall, where, detail), { errno, allowed: [] })

export const invalid = (syscall: "connect" | "listen", where: Where, detail: string): OSError.OSError =>
  plain("EINVAL", 22, syscall, where, detail)

/** What this platform or process cannot do (a buffer size without the FFI): the operation fails before it starts. */
export const unsupported = (syscall: "connect" | "listen", where: Where, detail: string): OSError.OSError =>
  plain("ENOTSUP", 95, syscall, where, detail)

/** A Unix socket path longer than the platform's `sun_path` holds: Python's "AF_UNIX path too long". */
export const pathTooLong = (syscall: "connect" | "listen", path: string, maximum: number): OSError.OSError =>
  plain("ENAMETOOLONG", 36, syscall, { path }, `AF_UNIX path too long: ${byteLength(path)} bytes, at most ${maximum}`)

export const byteLength = (path: string): number => Buffer.byteLength(path)

export const connectTimedOut = (where: Where, millis: number): OSError.ConnectError =>
  connect("ETIMEDOUT", where, `connect timed out after ${seconds(millis)}`)

/** A TLS handshake that took longer than its timeout. */
export const handshakeTimedOut = (peer: Where, millis: number): OSError.TimeoutError =>
  OSError.fromCode("ETIMEDOUT", context("handshake", peer, `TLS handshake timed out after ${seconds(millis)}`), {
    allowed: ["TimeoutError"]
  }) as OSError.TimeoutError

/** What `accept` fails with once the server stopped accepting. */
export const serverClosed = (address: Where): OSError.AcceptError => accept("EBADF", address, "server closed")

/** A read cut short because this end closed its socket before the peer's FIN. */
export const closedLocally = (peer: Where): OSError.ReadError => read("ECONNABORTED", peer, "connection closed locally")

/** Writing to a socket that is closed, or after our own end. */
export const brokenPipe = (peer: Where, detail: "connection closed" | "write after end"): OSError.WriteError =>
  write("EPIPE", peer, detail)

/** The idle timeout closed the connection: what its reads and a waiting write fail with. */
export const idle = (
  peer: Where,
  millis: number
): { readonly read: OSError.ReadError; readonly write: OSError.WriteError } => {
  const detail = `idle for ${seconds(millis)}`
  return { read: read("ETIMEDOUT", peer, detail), write: write("ETIMEDOUT", peer, detail) }
}

/** The kernel gave up on a peer that stopped answering (keepalive, TCP_USER_TIMEOUT): what reads and a waiting write fail with. */
export const deadPeer = (peer: Where): { readonly read: OSError.ReadError; readonly write: OSError.WriteError } => ({
  read: read("ETIMEDOUT", peer, deadPeerDetail),
  write: write("ETIMEDOUT", peer, deadPeerDetail)
})
