/**
 * The exit codes of the apps, one per kind of failure a user can meet,
 * documented in the README.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category codes
 */
export const codes = {
  ok: 0,
  /** Any failure without a code of its own (an address already in use, ...). */
  failure: 1,
  /** A bad flag or value: nothing was started. */
  usage: 2,
  connectionRefused: 3,
  timeout: 4,
  /** The connection was lost: reset, broken pipe, aborted. */
  connectionLost: 5,
  addressResolution: 6,
  /** The echo differed from what was sent. */
  echoMismatch: 7,
  permission: 8,
  /** Stopped by a signal before finishing (or a second signal: at once). */
  interrupted: 130
} as const

const byTag: Record<string, number> = {
  ConnectionRefusedError: codes.connectionRefused,
  TimeoutError: codes.timeout,
  ConnectionResetError: codes.connectionLost,
  BrokenPipeError: codes.connectionLost,
  ConnectionAbortedError: codes.connectionLost,
  AddressResolutionError: codes.addressResolution,
  EchoMismatchError: codes.echoMismatch,
  PermissionError: codes.permission
}

/**
 * The exit code for a failure, by its tag.
 *
 * @since 0.1.0
 * @category codes
 */
export const of = (error: unknown): number =>
  Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)
    ? byTag[error._tag] ?? codes.failure
    : codes.failure
