// What a server logs about failures that are not the server's: one place, so the
// Node layer and the fakes log alike. A typed socket error is an expected event:
// its tag, errno and message as annotations, no stack. Anything else is a bug in
// a handler: its whole cause.
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as OSError from "../OSError.ts"

const errorTag = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (Option.isNone(error)) return "Defect"
  return Predicate.hasProperty(error.value, "_tag") && Predicate.isString(error.value._tag)
    ? error.value._tag
    : "UnknownError"
}

const annotationsOf = (error: OSError.SocketError) => ({
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

/** A TLS handshake that failed on a server: that connection's error, with its id and peer; the server goes on. */
export const handshakeFailure = (
  error: OSError.SocketError,
  connection: { readonly connectionId: number; readonly peer: string }
): Effect.Effect<void> =>
  Effect.logWarning("TLS handshake failed").pipe(Effect.annotateLogs({ ...annotationsOf(error), ...connection }))
