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
import { readFileSync } from "node:fs"
import * as EchoServer from "./EchoServer.ts"
import * as Workers from "./Workers.ts"

/**
 * @since 0.1.0
 * @category constants
 */
export const name = "echo-server"

/**
 * The package's version, from its package.json (beside `src/` and `dist/`
 * alike), so that `--version` follows a release's bump.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version

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
  maxConnections: Flags.int("max-connections", "Connections beyond this are reset at once; 0 for no limit", {
    default: d.maxConnections,
    minimum: 0
  }),
  idleTimeout: Flags.duration("idle-timeout", "Time without traffic before a connection is closed (0: never)", {
    default: String(Duration.toSeconds(d.idleTimeout))
  }),
  shutdownTimeout: Flags.duration("shutdown-timeout", "Time open connections may finish after a signal", {
    default: String(Duration.toSeconds(d.shutdownGrace))
  }),
  closeTimeout: Flags.duration(
    "close-timeout",
    "Time a closing connection may flush to a peer that does not read before it is reset",
    { default: "5" }
  ),
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

// How a setting reads on the "Serving on" line: durations in seconds, 0 as "off" (the flags' own
// convention), a size left to the kernel as "default".
const annotation = ([name, value]: [string, unknown]): [string, unknown] =>
  Duration.isDuration(value)
    ? [`${name}Seconds`, Duration.isZero(value) ? "off" : Duration.toSeconds(value)]
    : Option.isOption(value)
    ? [name, Option.getOrElse(value, () => "default")]
    : [name, value === 0 ? "off" : value]

/**
 * The server's options from the flags. Every flag but `--workers` and
 * `--log-format` is a setting of the server, logged by its name; a flag named
 * like its `Tcp.ListenOptions` field (`--read-limit`) reaches `Tcp.listen` as
 * it is, so only the flags that Tcp names or reads otherwise are listed here.
 *
 * @since 0.1.0
 * @category models
 */
export const toOptions = (flags: Flags): EchoServer.Options => {
  const { logFormat: _logFormat, workers: _workers, ...settings } = flags
  const { idleTimeout, maxConnections, recvBufferSize, sendBufferSize, shutdownTimeout, statsInterval, ...listen } =
    settings
  return {
    listen: {
      ...listen,
      receiveBufferSize: Option.getOrUndefined(recvBufferSize),
      sendBufferSize: Option.getOrUndefined(sendBufferSize),
      maxConnections: maxConnections === 0 ? undefined : maxConnections,
      idleTimeout: Duration.isZero(idleTimeout) ? undefined : idleTimeout,
      shutdownGrace: shutdownTimeout
    },
    statsInterval: Duration.isZero(statsInterval) ? undefined : statsInterval,
    settings: Object.fromEntries(Object.entries(settings).map(annotation))
  }
}

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
    const program: Effect.Effect<never, OSError.ListenError | Workers.WorkerExitError, Tcp.Tcp> = Workers.isWorker()
      // a worker reads its parent's command line and environment: only the port they share is the parent's to set
      ? EchoServer.run(toOptions({ ...flags, port: Workers.port(), reusePort: true }), {
        onListening: Workers.onListening
      }).pipe(Effect.annotateLogs({ worker: Workers.workerIndex(), pid: process.pid }))
      : flags.workers > 1
      ? Workers.run({ count: flags.workers, port: flags.port, script: process.argv[1]!, args: process.argv.slice(2) })
      : EchoServer.run(toOptions(flags))
    return yield* program.pipe(
      Effect.provide(Tcp.layer),
      Effect.provide(Logging.layer(flags.logFormat)),
      Effect.provideService(References.MinimumLogLevel, level)
    )
  })).pipe(
    Command.withDescription("An echo server (RFC 862) on 127.0.0.1:8888: every byte sent comes back, in order")
  )
