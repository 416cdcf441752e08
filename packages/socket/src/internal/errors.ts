// The errors both layers raise, built in one place: each operation's error keeps
// only the tags that operation can produce, and the same situation reads the
// same on `layer` and `layerTest` (code, syscall, detail, address).
import type { Address } from "../Address.ts"
import * as OSError from "../OSError.ts"
import * as TlsErrors from "./tls/errors.ts"

/** The address an error names: the peer for a connection, the listener's own for a server. */
export type Where = Pick<Address, "host" | "port">

type Operation = keyof typeof OSError.tagsOf

/** `1.5s`: how our timeouts name their duration. */
const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(3))}s`

const context = (
  syscall: string,
  where: { readonly host?: string | undefined; readonly port?: number | undefined },
  detail: string | undefined
): OSError.Context => ({
  syscall,
  host: where.host,
  port: where.port,
  detail
})

export const read = (code: string, where: Where, detail?: string): OSError.ReadError =>
  OSError.fromCode(code, context("read", where, detail), { allowed: OSError.tagsOf.read })

export const write = (code: string, where: Where, detail?: string): OSError.WriteError =>
  OSError.fromCode(code, context("write", where, detail), { allowed: OSError.tagsOf.write })

export const connect = (code: string, host: string, port: number, detail?: string): OSError.ConnectError =>
  OSError.fromCode(code, context("connect", { host, port }, detail), { allowed: OSError.tagsOf.connect })

export const listen = (code: string, syscall: string, host: string, port?: number): OSError.ListenError =>
  OSError.fromCode(code, context(syscall, { host, port }, undefined), { allowed: OSError.tagsOf.listen })

export const accept = (code: string, where: Where, detail?: string): OSError.AcceptError =>
  OSError.fromCode(code, context("accept", where, detail), { allowed: OSError.tagsOf.accept })

/** An error Node raised, typed for the operation it came from (Node's own syscall where it names one). */
export const fromNode = <const Op extends Operation>(
  operation: Op,
  cause: unknown,
  where: Where
): OSError.SocketError & { readonly _tag: (typeof OSError.tagsOf)[Op][number] } => {
  const syscall = (cause as { readonly syscall?: unknown } | null)?.syscall
  // one of ours, which the fakes hand node:tls (fake/tls.ts): kept, with its detail, where the operation has it
  const typed = (cause as { readonly cause?: unknown } | null)?.cause
  if (OSError.isOSError(typed) && (OSError.tagsOf[operation] as ReadonlyArray<OSError.Tag>).includes(typed._tag)) {
    return typed as never
  }
  if (TlsErrors.isTlsError(cause)) {
    // node:tls's own (an alert, a record that does not decrypt): Python's ssl errors
    return TlsErrors.fromNode(cause, { syscall: operation, ...where }, OSError.tagsOf[operation]) as never
  }
  return OSError.fromSystemError(
    cause,
    context(typeof syscall === "string" ? syscall : operation, where, undefined),
    OSError.tagsOf[operation]
  ) as never
}

/** A setting out of range: the operation fails before it touches the OS. */
export const invalid = (syscall: "connect" | "listen", host: string, port: number, detail: string): OSError.OSError =>
  new OSError.OSError({ errno: OSError.errnoOf("EINVAL") ?? 22, code: "EINVAL", syscall, host, port, detail })

/** What this platform or process cannot do (a buffer size without the FFI): the operation fails before it starts. */
export const unsupported = (
  syscall: "connect" | "listen",
  host: string,
  port: number,
  detail: string
): OSError.OSError =>
  new OSError.OSError({ errno: OSError.errnoOf("ENOTSUP") ?? 95, code: "ENOTSUP", syscall, host, port, detail })

export const connectTimedOut = (host: string, port: number, millis: number): OSError.ConnectError =>
  connect("ETIMEDOUT", host, port, `connect timed out after ${seconds(millis)}`)

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
