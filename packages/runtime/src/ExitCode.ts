/**
 * The exit codes the apps share, one per kind of failure a user can meet,
 * documented in the README. An app adds codes for its own errors (the client:
 * `EchoMismatchError`) through `Main.run`'s `exitCodes`.
 *
 * @since 0.1.0
 */
import * as Errors from "./Errors.ts"

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
  permission: 8,
  /** The peer's TLS certificate did not verify (`SSLCertVerificationError`). */
  certificateVerification: 9,
  /** Any other TLS failure: `SSLError`, `SSLEOFError`, `SSLZeroReturnError`. */
  tls: 10,
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
  PermissionError: codes.permission,
  SSLCertVerificationError: codes.certificateVerification,
  SSLError: codes.tls,
  SSLEOFError: codes.tls,
  SSLZeroReturnError: codes.tls
}

/**
 * An app's own exit codes, by the tag of its errors.
 *
 * @since 0.1.0
 * @category models
 */
export type ByTag = Readonly<Record<string, number>>

/**
 * The exit code for a failure, by its tag: the app's own codes first, then
 * the OS-error families, else `failure`.
 *
 * @since 0.1.0
 * @category codes
 */
export const of = (error: unknown, appCodes: ByTag = {}): number => {
  const tag = Errors.tagOf(error)
  return tag === undefined ? codes.failure : appCodes[tag] ?? byTag[tag] ?? codes.failure
}
