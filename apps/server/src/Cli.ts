/**
 * The command line of the echo server: flags (each also from an `ECHO_*`
 * environment variable), validated before anything binds, turned into
 * `EchoServer.Options`, then the program: one server, or `--workers N`.
 *
 * @since 0.1.0
 */
import { Flags, Logging } from "@effect-tcp/runtime"
import { Tcp } from "@effect-tcp/socket"
import type { OSError } from "@effect-tcp/socket"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import * as EchoServer from "./EchoServer.ts"
import * as Workers from "./Workers.ts"

/**
 * @since 0.1.0
 * @category constants
 */
export const name = "echo-server"

/**
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"

const d = EchoServer.defaults

/**
 * @since 0.1.0
 * @category flags
 */
export const flags = {
  host: Flag.String("host").pipe(
    Flag.withDescription(
      `Address to bind; 0.0.0.0 or :: for all interfaces [default ${d.host}, env ${Flags.env("host")}]`
    ),
    Flag.withFallbackConfig(Config.String(Flags.env("host"))),
    Flag.withSchema(Schema.NonEmptyString),
    Flag.withDefault(d.host)
  ),
  port: Flags.int("port", "Port to listen on; 0 picks a free one", { default: d.port, minimum: 0, maximum: 65535 }),
  backlog: Flags.int("backlog", "Pending connections the kernel queues", { default: d.backlog, minimum: 1 }),
  reusePort: Flags.boolean("reuse-port", "Set SO_REUSEPORT, to share the port with other processes", {
    default: d.reusePort
  }),
  noDelay: Flags.boolean("no-delay", "Set TCP_NODELAY on connections (--no-delay=false for Nagle)", {
    default: d.noDelay
  }),
  recvBufferSize: Flags.int("recv-buffer-size", "SO_RCVBUF to ask for, else the kernel's", { minimum: 1 }).pipe(
    Flag.optional
  ),
  sendBufferSize: Flags.int("send-buffer-size", "SO_SNDBUF to ask for, else the kernel's", { minimum: 1 }).pipe(
    Flag.optional
  ),
  readLimit: Flags.int("read-limit", "Bytes read ahead of the echo before reading pauses", {
    default: d.readLimit,
    minimum: 1
  }),
  maxConnections: Flags.int("max-connections", "Connections beyond this are closed at once; 0 for no limit", {
    default: d.maxConnections,
    minimum: 0
  }),
  idleTimeout: Flags.duration("idle-timeout", "Time without traffic before a connection is closed (0: never)", {
    default: String(Duration.toSeconds(d.idleTimeout))
  }),
  shutdownTimeout: Flags.duration("shutdown-timeout", "Time open connections may finish after a signal", {
    default: String(Duration.toSeconds(d.shutdownTimeout))
  }),
  workers: Flags.int("workers", "Server processes sharing the port with SO_REUSEPORT", {
    default: 1,
    minimum: 1,
    maximum: 1024
  }),
  statsInterval: Flags.duration("stats-interval", "Time between stats log lines (0: on shutdown only)", {
    default: "0"
  }),
  logFormat: Logging.formatFlag("ECHO")
}

/**
 * What the flags parse to.
 *
 * @since 0.1.0
 * @category models
 */
export type Flags = Command.Command.Config.Infer<typeof flags>

/**
 * The server's options from the flags.
 *
 * @since 0.1.0
 * @category models
 */
export const toOptions = (flags: Flags): EchoServer.Options => ({
  host: flags.host,
  port: flags.port,
  backlog: flags.backlog,
  reusePort: flags.reusePort || flags.workers > 1,
  noDelay: flags.noDelay,
  readLimit: flags.readLimit,
  receiveBufferSize: Option.getOrUndefined(flags.recvBufferSize),
  sendBufferSize: Option.getOrUndefined(flags.sendBufferSize),
  maxConnections: flags.maxConnections === 0 ? undefined : flags.maxConnections,
  idleTimeout: Duration.isZero(flags.idleTimeout) ? undefined : flags.idleTimeout,
  shutdownTimeout: flags.shutdownTimeout,
  statsInterval: Duration.isZero(flags.statsInterval) ? undefined : flags.statsInterval
})

const logLevelNames: Record<LogLevel.LogLevel, string> = {
  All: "all",
  Trace: "trace",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
  Fatal: "fatal",
  None: "none"
}

/**
 * A worker's full command line: every flag explicit (so nothing depends on
 * its environment), on the port the workers share, with SO_REUSEPORT.
 *
 * @since 0.1.0
 * @category workers
 */
export const workerArgs = (flags: Flags, port: number, logLevel: LogLevel.LogLevel): ReadonlyArray<string> => [
  `--host=${flags.host}`,
  `--port=${port}`,
  `--backlog=${flags.backlog}`,
  "--reuse-port=true",
  `--no-delay=${flags.noDelay}`,
  ...Option.match(flags.recvBufferSize, { onNone: () => [], onSome: (size) => [`--recv-buffer-size=${size}`] }),
  ...Option.match(flags.sendBufferSize, { onNone: () => [], onSome: (size) => [`--send-buffer-size=${size}`] }),
  `--read-limit=${flags.readLimit}`,
  `--max-connections=${flags.maxConnections}`,
  `--idle-timeout=${Duration.toSeconds(flags.idleTimeout)}`,
  `--shutdown-timeout=${Duration.toSeconds(flags.shutdownTimeout)}`,
  `--stats-interval=${Duration.toSeconds(flags.statsInterval)}`,
  `--workers=1`,
  `--log-format=${flags.logFormat}`,
  `--log-level=${logLevelNames[logLevel]}`
]

/**
 * `--log-level`, else `ECHO_LOG_LEVEL`, else the current minimum level.
 * A bad `ECHO_LOG_LEVEL` is a usage error like a bad flag.
 */
const logLevel: Effect.Effect<LogLevel.LogLevel, CliError.InvalidValue, GlobalFlag.Setting.Identifier<"log-level">> =
  Effect.gen(function*() {
    const flag = yield* GlobalFlag.LogLevel
    if (Option.isSome(flag)) return flag.value
    const fromEnv = yield* Config.option(Config.LogLevel("ECHO_LOG_LEVEL")).pipe(
      Effect.catch(() =>
        Effect.sync(() => process.stderr.write(`${name}: Invalid value for ECHO_LOG_LEVEL (see ${name} --help)\n`))
          .pipe(
            Effect.andThen(
              Effect.fail(
                new CliError.InvalidValue({
                  option: "ECHO_LOG_LEVEL",
                  value: process.env.ECHO_LOG_LEVEL ?? "",
                  expected: Object.values(logLevelNames).join(", "),
                  kind: "flag"
                })
              )
            )
          )
      )
    )
    return Option.isSome(fromEnv) ? fromEnv.value : yield* References.MinimumLogLevel
  })

/**
 * The `echo-server` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(name, flags, (flags) =>
  Effect.gen(function*() {
    const level = yield* logLevel
    const options = toOptions(flags)
    // a worker is started with --workers=1: it never starts workers of its own
    const program: Effect.Effect<never, OSError.ListenError | Workers.WorkerExitError, Tcp.Tcp> = flags.workers > 1
      ? Workers.run({
        count: flags.workers,
        port: flags.port,
        script: process.argv[1]!,
        args: (port) => workerArgs(flags, port, level)
      })
      : Workers.isWorker()
      ? EchoServer.run(options, { onListening: Workers.onListening }).pipe(
        Effect.annotateLogs({ worker: Workers.workerIndex(), pid: process.pid })
      )
      : EchoServer.run(options)
    return yield* program.pipe(
      Effect.provide(Tcp.layer),
      Effect.provide(Logging.layer(flags.logFormat)),
      Effect.provideService(References.MinimumLogLevel, level)
    )
  })).pipe(
    Command.withDescription("An echo server (RFC 862) on 127.0.0.1:8888: every byte sent comes back, in order")
  )
