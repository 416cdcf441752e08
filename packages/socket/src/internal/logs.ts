// What a server logs about failures that are not the server's: one place, so the
// Node layer and the fakes log alike. A typed socket error is an expected event:
// its tag, errno and message as annotations, no stack. Anything else is a bug in
// a handler: its whole cause.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { format as formatAddress } from "../Address.ts"
import type { Connection } from "../Connection.ts"
import * as OSError from "../OSError.ts"
import { isProxyHeaderError, type ProxyHeaderError } from "../ProxyProtocol.ts"

const errorTag = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (Option.isNone(error)) return "Defect"
  return Predicate.hasProperty(error.value, "_tag") && Predicate.isString(error.value._tag)
    ? error.value._tag
    : "UnknownError"
}

const annotationsOf = (error: OSError.SocketError | ProxyHeaderError) => ({
  error: error._tag,
  errno: error.errno,
  code: error.code,
  errorMessage: error.message
})

/** A handler's failure (interruption is not one), logged with its typed error. */
export const handlerFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (!Cause.hasFails(cause) && !Cause.hasDies(cause)) return Effect.void
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error) && OSError.isOSError(error.value) && !Cause.hasDies(cause)) {
    return Effect.logWarning("Connection handler failed").pipe(Effect.annotateLogs(annotationsOf(error.value)))
  }
  return Effect.logWarning("Connection handler failed", cause).pipe(Effect.annotateLogs("error", errorTag(cause)))
}

/** An accept error: the server keeps serving. */
export const acceptFailure = (error: OSError.AcceptError, listener: string): Effect.Effect<void> =>
  Effect.logWarning("Accept failed").pipe(Effect.annotateLogs({ ...annotationsOf(error), listener }))

/** A connection that failed before it was handed out: its id, and its peer as text. */
export interface Failed {
  readonly connectionId: number
  readonly peer: string
}

/** A TLS handshake that failed on a server: that connection's error, with its id and peer; the server goes on. */
export const handshakeFailure = (error: OSError.SocketError, connection: Failed): Effect.Effect<void> =>
  Effect.logWarning("TLS handshake failed").pipe(Effect.annotateLogs({ ...annotationsOf(error), ...connection }))

/**
 * A PROXY protocol header rejected on a server (or one that did not come in time): that connection's error,
 * with its id and peer (the proxy, or whoever connected); the server goes on.
 */
export const proxyHeaderFailure = (
  error: ProxyHeaderError | OSError.SocketError,
  connection: Failed
): Effect.Effect<void> =>
  Effect.logWarning("PROXY header rejected").pipe(Effect.annotateLogs({
    ...annotationsOf(error),
    ...(isProxyHeaderError(error) ? { reason: error.reason } : {}),
    ...connection
  }))

/**
 * The annotations of a handler's logs: the connection's id and peer (the client, behind a PROXY protocol
 * proxy, whose own address is then `proxy`).
 */
export const connectionAnnotations = (connection: Connection): Record<string, unknown> => {
  const annotations: Record<string, unknown> = {
    connectionId: connection.id,
    peer: formatAddress(connection.remoteAddress)
  }
  if (connection.proxy !== undefined) annotations.proxy = formatAddress(connection.proxy.address)
  return annotations
}
