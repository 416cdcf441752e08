/**
 * The command line of the echo server: flags (each also from an `ECHO_*`
 * environment variable), validated before anything binds, turned into
 * `EchoServer.Options`, then the program: one server, or `--workers N`.
 *
 * @since 0.1.0
 */
import { Durations, Logging } from "@effect-tcp/runtime"
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

const env = (name: string) => `ECHO_${name.toUpperCase().replaceAll("-", "_")}`

const int = (name: string, description: string, fallback: number | undefined, minimum: number, maximum: number) =>
  Flag.Int(name).pipe(
    Flag.withDescription(`${description} [default ${fallback ?? "the kernel's"}, env ${env(name)}]`),
    Flag.withFallbackConfig(Config.Int(env(name))),
    Flag.withSchema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))
  )

const duration = (name: string, description: string, fallback: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(`${description}, in seconds or as "500 millis" [default ${fallback}, env ${env(name)}]`),
    Flag.withFallbackConfig(Config.String(env(name))),
    Flag.withDefault(fallback),
    Flag.filterMap(Durations.parse, Durations.invalid)
  )

const boolean = (name: string, description: string, fallback: boolean) =>
  Flag.Boolean(name).pipe(
    Flag.withDescription(`${description} [default ${fallback}, env ${env(name)}]`),
    Flag.withFallbackConfig(Config.Boolean(env(name))),
    Flag.withDefault(fallback)
  )

const maxInt = 2 ** 31 - 1
const d = EchoServer.defaults

/**
 * @since 0.1.0
 * @category flags
 */
export const flags = {
  host: Flag.String("host").pipe(
    Flag.withDescription(`Address to bind; 0.0.0.0 or :: for all interfaces [default ${d.host}, env ECHO_HOST]`),
    Flag.withFallbackConfig(Config.String("ECHO_HOST")),
    Flag.withSchema(Schema.NonEmptyString),
    Flag.withDefault(d.host)
  ),
  port: int("port", "Port to listen on; 0 picks a free one", d.port, 0, 65535).pipe(Flag.withDefault(d.port)),
  backlog: int("backlog", "Pending connections the kernel queues", d.backlog, 1, maxInt).pipe(
    Flag.withDefault(d.backlog)
  ),
  reusePort: boolean("reuse-port", "Set SO_REUSEPORT, to share the port with other processes", d.reusePort),
  noDelay: boolean("no-delay", "Set TCP_NODELAY on connections (--no-delay=false for Nagle)", d.noDelay),
  recvBufferSize: int("recv-buffer-size", "SO_RCVBUF to ask for", undefined, 1, maxInt).pipe(Flag.optional),
  sendBufferSize: int("send-buffer-size", "SO_SNDBUF to ask for", undefined, 1, maxInt).pipe(Flag.optional),
  readLimit: int("read-limit", "Bytes read ahead of the echo before reading pauses", d.readLimit, 1, maxInt).pipe(
    Flag.withDefault(d.readLimit)
  ),
  maxConnections: int(
    "max-connections",
    "Connections beyond this are closed at once; 0 for no limit",
    d.maxConnections,
    0,
    maxInt
  ).pipe(Flag.withDefault(d.maxConnections)),
  idleTimeout: duration(
    "idle-timeout",
    "Time without traffic before a connection is closed (0: never)",
    String(Duration.toSeconds(d.idleTimeout))
  ),
  shutdownTimeout: duration(
    "shutdown-timeout",
    "Time open connections may finish after a signal",
    String(Duration.toSeconds(d.shutdownTimeout))
  ),
  workers: int("workers", "Server processes sharing the port with SO_REUSEPORT", 1, 1, 1024).pipe(
    Flag.withDefault(1)
  ),
  statsInterval: duration("stats-interval", "Time between stats log lines (0: on shutdown only)", "0"),
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
