/**
 * What the echo apps share as processes: flags, log formats, exit codes, signals.
 *
 * @since 0.1.0
 */
export * as Durations from "./Durations.ts"
export * as Errors from "./Errors.ts"
export * as ExitCode from "./ExitCode.ts"
export * as Flags from "./Flags.ts"
export * as Heap from "./Heap.ts"
export * as Logging from "./Logging.ts"
export * as Main from "./Main.ts"
export * as TlsFiles from "./TlsFiles.ts"
