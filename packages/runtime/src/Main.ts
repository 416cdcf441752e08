/**
 * Runs an app's command as the process: the first SIGINT or SIGTERM
 * interrupts the program so that its finalizers shut it down gracefully, a
 * second one exits at once with 130. Whatever the program fails with becomes
 * one line on stderr (in the log format) and an exit code from `ExitCode`,
 * never a stack trace (set `ECHO_DEBUG=1` for the full cause).
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import * as Errors from "./Errors.ts"
import * as ExitCode from "./ExitCode.ts"
import * as Heap from "./Heap.ts"
import * as Logging from "./Logging.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The program's name, first on its error lines. */
  readonly name: string
  readonly version: string
  /** The exit code after a graceful shutdown on the first signal (the server: 0, the client: 130). */
  readonly signalExitCode: number
  /** Exit codes for the app's own errors, by tag, beside the shared ones of `ExitCode`. */
  readonly exitCodes?: ExitCode.ByTag | undefined
}

let signal: NodeJS.Signals | undefined

/**
 * The signal that started the shutdown, if one did.
 *
 * @since 0.1.0
 * @category signals
 */
export const receivedSignal = (): NodeJS.Signals | undefined => signal

/**
 * One line for a failure: `ConnectionRefusedError: [Errno 111] Connection refused (127.0.0.1:8888)`.
 *
 * @since 0.1.0
 * @category errors
 */
export const describe = (error: unknown): string => {
  if (error instanceof Error) return `${Errors.tagOf(error) ?? error.name}: ${error.message}`
  return `Unexpected failure: ${String(error)}`
}

const errorFields = (error: unknown): Record<string, unknown> => {
  const fields: Record<string, unknown> = {}
  const tag = Errors.tagOf(error)
  if (tag !== undefined) fields.error = tag
  for (const key of ["errno", "code", "syscall", "host", "port"]) {
    if (Predicate.hasProperty(error, key) && error[key] !== undefined) fields[key] = error[key]
  }
  return fields
}

const logfmtValue = (value: unknown): string => {
  const text = String(value)
  return /^[\w.:/@-]+$/.test(text) ? text : JSON.stringify(text)
}

/**
 * Writes the one line for a failure in the process's log format.
 *
 * @since 0.1.0
 * @category errors
 */
export const report = (name: string, error: unknown): void => {
  const message = describe(error)
  const timestamp = new Date().toISOString()
  switch (Logging.currentFormat()) {
    case "json":
      process.stderr.write(
        JSON.stringify({ message, level: "ERROR", timestamp, annotations: { program: name, ...errorFields(error) } }) +
          "\n"
      )
      return
    case "logfmt": {
      const fields = { timestamp, level: "ERROR", message, program: name, ...errorFields(error) }
      process.stderr.write(Object.entries(fields).map(([k, v]) => `${k}=${logfmtValue(v)}`).join(" ") + "\n")
      return
    }
    case "pretty":
      process.stderr.write(`${name}: ${message}\n`)
  }
}

const usageMessage = (error: CliError.CliError): string =>
  error._tag === "MissingOption" || error._tag === "MissingArgument" || error._tag === "InvalidValue" ||
    error._tag === "UnrecognizedOption" || error._tag === "DuplicateOption"
    ? error.message
    : String(error.message)

// Usage errors are one line naming the problem, not the whole help page.
const presenter = (name: string) =>
  CliOutput.layerPresenter({
    present: (event) =>
      event._tag === "InvalidInvocation"
        ? Effect.sync(() => {
          const first = event.errors[0]
          const text = first === undefined ? "invalid invocation" : usageMessage(first).replaceAll("\n", " ")
          process.stderr.write(`${name}: ${text} (see ${name} --help)\n`)
        })
        : CliOutput.defaultPresenter.present(event)
  })

const isUsageError = (error: unknown): boolean => CliError.isCliError(error)

const teardown = (options: Options): Runtime.Teardown => (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(ExitCode.codes.ok)
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) {
    return onExit(signal !== undefined ? options.signalExitCode : ExitCode.codes.interrupted)
  }
  const error = Cause.squash(cause)
  if (isUsageError(error)) return onExit(ExitCode.codes.usage)
  if (process.env.ECHO_DEBUG === "1") process.stderr.write(Cause.pretty(cause) + "\n")
  report(options.name, error)
  onExit(ExitCode.of(error, options.exitCodes))
}

/** How long an exit waits for stdout and stderr to drain into a reader that does not read. */
const flushMillis = 10_000

/**
 * Exits once stdout and stderr are flushed: writes to a pipe are asynchronous
 * in Node, and `process.exit` drops whatever is still queued (all but the
 * first 64 KiB of a large echo, when the reader is slow).
 */
const exitFlushed = (code: number): void => {
  const streams = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0)
  if (streams.length === 0) return process.exit(code)
  let pending = streams.length
  const done = () => {
    if (--pending === 0) process.exit(code)
  }
  setTimeout(() => process.exit(code), flushMillis).unref()
  // a write's callback runs once everything written before it is flushed
  for (const stream of streams) stream.write("", done)
}

const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  const onSignal = (received: NodeJS.Signals) => {
    if (signal !== undefined) {
      // the second signal: no more waiting
      process.exit(ExitCode.codes.interrupted)
    }
    signal = received
    fiber.interruptUnsafe(fiber.id)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    teardown(exit, exitFlushed)
  })
})

/**
 * Runs the command with the process's arguments, as described above, with the
 * heap tuned for moving socket buffers (`Heap.tuneForSockets`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = <Name extends string, Input, E, ContextInput>(
  command: Command.Command<Name, Input, ContextInput, E, Command.Environment>,
  options: Options
): void => {
  Heap.tuneForSockets()
  command.pipe(
    Command.run({ version: options.version }),
    Effect.provide(Layer.merge(NodeServices.layer, presenter(options.name))),
    (program) => runMain(program, { disableErrorReporting: true, teardown: teardown(options) })
  )
}
