/**
 * The command line of the echo server: flags (each also from an `ECHO_*`
 * environment variable), validated before anything binds, turned into
 * `EchoServer.Options`, then the program: one server, or `--workers N`.
 *
 * @since 0.1.0
 */
import { Logging } from "@effect-tcp/runtime"
import { Tcp } from "@effect-tcp/socket"
import type { OSError } from "@effect-tcp/socket"
import { Config, Duration, Effect, Option, References, Schema } from "effect"
import type { LogLevel } from "effect"
import { CliError, Command, Flag, GlobalFlag } from "effect/cli"
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

const env = (variable: string) => `[env ECHO_${variable}]`

const Port = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
const Positive = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegative = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Seconds = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

const int = (flag: string, variable: string, schema: typeof Port, description: string) =>
  Flag.Int(flag).pipe(
    Flag.withDescription(`${description} ${env(variable)}`),
    Flag.withFallbackConfig(Config.Int(`ECHO_${variable}`)),
    Flag.withSchema(schema)
  )

const seconds = (flag: string, variable: string, description: string) =>
  Flag.Finite(flag).pipe(
    Flag.withDescription(`${description} ${env(variable)}`),
    Flag.withFallbackConfig(Config.Finite(`ECHO_${variable}`)),
    Flag.withSchema(Seconds)
  )

const boolean = (flag: string, variable: string, description: string) =>
  Flag.Boolean(flag).pipe(
    Flag.withDescription(`${description} ${env(variable)}`),
    Flag.withFallbackConfig(Config.Boolean(`ECHO_${variable}`))
  )

const d = EchoServer.defaults

/**
 * @since 0.1.0
 * @category flags
 */
export const flags = {
  host: Flag.String("host").pipe(
    Flag.withDescription(`Address to bind; 0.0.0.0 or :: for all interfaces ${env("HOST")}`),
    Flag.withFallbackConfig(Config.String("ECHO_HOST")),
    Flag.withSchema(Schema.NonEmptyString),
    Flag.withDefault(d.host)
  ),
  port: int("port", "PORT", Port, "Port to listen on; 0 picks a free one").pipe(Flag.withDefault(d.port)),
  backlog: int("backlog", "BACKLOG", Positive, "Pending connections the kernel queues").pipe(
    Flag.withDefault(d.backlog)
  ),
  reusePort: boolean("reuse-port", "REUSE_PORT", "Set SO_REUSEPORT, to share the port with other processes").pipe(
    Flag.withDefault(d.reusePort)
  ),
  noDelay: boolean("no-delay", "NO_DELAY", "Set TCP_NODELAY on connections (--no-delay=false for Nagle)").pipe(
    Flag.withDefault(d.noDelay)
  ),
  recvBufferSize: int("recv-buffer-size", "RECV_BUFFER_SIZE", Positive, "SO_RCVBUF to ask for (default: the kernel's)")
    .pipe(Flag.optional),
  sendBufferSize: int("send-buffer-size", "SEND_BUFFER_SIZE", Positive, "SO_SNDBUF to ask for (default: the kernel's)")
    .pipe(Flag.optional),
  readLimit: int("read-limit", "READ_LIMIT", Positive, "Bytes read ahead of the echo before reading pauses").pipe(
    Flag.withDefault(d.readLimit)
  ),
  maxConnections: int(
    "max-connections",
    "MAX_CONNECTIONS",
    NonNegative,
    "Connections beyond this are closed at once; 0 for no limit"
  ).pipe(Flag.withDefault(d.maxConnections)),
  idleTimeout: seconds(
    "idle-timeout",
    "IDLE_TIMEOUT",
    "Seconds without traffic before a connection is closed; 0 for never"
  )
    .pipe(Flag.withDefault(Duration.toSeconds(d.idleTimeout))),
  shutdownTimeout: seconds(
    "shutdown-timeout",
    "SHUTDOWN_TIMEOUT",
    "Seconds open connections may finish after a signal"
  ).pipe(Flag.withDefault(Duration.toSeconds(d.shutdownTimeout))),
  workers: int("workers", "WORKERS", Positive, "Server processes sharing the port with SO_REUSEPORT").pipe(
    Flag.withDefault(1)
  ),
  statsInterval: seconds("stats-interval", "STATS_INTERVAL", "Seconds between stats log lines; 0 for on shutdown only")
    .pipe(Flag.withDefault(0)),
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
  idleTimeout: flags.idleTimeout === 0 ? undefined : Duration.seconds(flags.idleTimeout),
  shutdownTimeout: Duration.seconds(flags.shutdownTimeout),
  statsInterval: flags.statsInterval === 0 ? undefined : Duration.seconds(flags.statsInterval)
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
  `--idle-timeout=${flags.idleTimeout}`,
  `--shutdown-timeout=${flags.shutdownTimeout}`,
  `--stats-interval=${flags.statsInterval}`,
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
    const program: Effect.Effect<never, OSError.ListenError | Workers.WorkerExitError, Tcp.Tcp> =
      flags.workers > 1 && !Workers.isWorker()
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
