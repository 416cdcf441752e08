/**
 * The command line: `echo` (the default) and `bench`, every flag also from
 * the environment (`ECHO_HOST`, `ECHO_PORT`, ...).
 *
 * @since 0.1.0
 */
import { Flags, Logging, TlsFiles } from "@effect-tcp/runtime"
import { Tcp } from "@effect-tcp/socket"
import * as Argument from "effect/cli/Argument"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as BenchRun from "./BenchRun.ts"
import * as Echo from "./Echo.ts"
import type * as Target from "./Target.ts"
import * as Workers from "./Workers.ts"

type Input<Config> = {
  readonly [K in keyof Config]: Config[K] extends Flag.Flag<infer A> ? A
    : Config[K] extends Argument.Argument<infer A> ? A
    : never
}

const secondsOf = (duration: Duration.Duration): string => String(Duration.toMillis(duration) / 1000)

// Bench-only flags read ECHO_BENCH_*, so that ECHO_WORKERS set for the server does not reshape the load.
const benchOnly = { prefix: "ECHO_BENCH" }

const target = {
  host: Flag.String("host").pipe(
    Flag.withDescription(`Server host [default 127.0.0.1, env ${Flags.env("host")}]`),
    Flag.withFallbackConfig(Config.String(Flags.env("host"))),
    Flag.withDefault("127.0.0.1")
  ),
  port: Flags.int("port", "Server port", { default: 8888, minimum: 1, maximum: 65535 }),
  connectTimeout: Flags.duration("connect-timeout", "How long a connect may take", { default: "10" }),
  readLimit: Flags.int("read-limit", "Bytes read ahead before reading pauses (asyncio's limit)", {
    default: 65536,
    minimum: 1
  }),
  retries: Flags.int(
    "retries",
    "Retries of a refused or timed-out connect, and of a connection lost mid-message (echo), with exponential backoff and jitter",
    {
      default: 0,
      minimum: 0
    }
  ),
  tls: Flags.boolean("tls", "Connect with TLS, verifying the server's certificate and its name"),
  tlsCa: TlsFiles.flag(
    "tls-ca",
    "Trust these CAs for the server's certificate instead of Node's, PEM (with --tls)",
    "ca"
  ),
  tlsCert: TlsFiles.flag(
    "tls-cert",
    "A client certificate for servers that ask for one, PEM (with --tls and --tls-key)",
    "certificate"
  ),
  tlsKey: TlsFiles.flag("tls-key", "The private key of --tls-cert, PEM", "key"),
  servername: Flags.string(
    "servername",
    "The name the server's certificate must carry, also sent as SNI (with --tls)",
    {
      metavar: "name"
    }
  ),
  unix: Flags.string("unix", "Connect to this Unix domain socket instead of --host and --port", { metavar: "path" }),
  logFormat: Logging.formatFlag("ECHO")
}

type TargetInput = Input<typeof target>

/** The `Target` fields of the command line's flags. */
const toTarget = (input: TargetInput): Target.Target => ({
  host: input.host,
  port: input.port,
  connectTimeout: input.connectTimeout,
  readLimit: input.readLimit,
  retries: input.retries,
  unix: Option.getOrUndefined(input.unix),
  tls: input.tls
    ? {
      ca: Option.getOrUndefined(Option.map(input.tlsCa, (file) => file.pem)),
      cert: Option.getOrUndefined(Option.map(input.tlsCert, (file) => file.pem)),
      key: Option.getOrUndefined(Option.map(input.tlsKey, (file) => file.pem)),
      serverName: Option.getOrUndefined(input.servername)
    }
    : undefined
})

/** The target's flags again, for a bench worker (it reads the files itself, before it connects). */
const targetArgs = (input: TargetInput): ReadonlyArray<string> => [
  "--host",
  input.host,
  "--port",
  String(input.port),
  "--connect-timeout",
  secondsOf(input.connectTimeout),
  "--read-limit",
  String(input.readLimit),
  "--retries",
  String(input.retries),
  ...(input.tls ? ["--tls"] : []),
  ...Option.match(input.tlsCa, { onNone: () => [], onSome: (file) => ["--tls-ca", file.path] }),
  ...Option.match(input.tlsCert, { onNone: () => [], onSome: (file) => ["--tls-cert", file.path] }),
  ...Option.match(input.tlsKey, { onNone: () => [], onSome: (file) => ["--tls-key", file.path] }),
  ...Option.match(input.servername, { onNone: () => [], onSome: (name) => ["--servername", name] }),
  ...Option.match(input.unix, { onNone: () => [], onSome: (path) => ["--unix", path] })
]

const invalid = (message: string) => Effect.fail(new CliError.ValidationError({ message }))

/**
 * What no single flag can say: the TLS flags need `--tls`, a client
 * certificate needs its key (and must match it), and TLS is over TCP only.
 * A usage error (one line, exit 2) before anything connects.
 *
 * @since 0.2.0
 * @category validation
 */
export const validate = (input: TargetInput): Effect.Effect<void, CliError.CliError> => {
  if (!input.tls) {
    const given = [
      Option.isSome(input.tlsCa) ? "--tls-ca" : undefined,
      Option.isSome(input.tlsCert) ? "--tls-cert" : undefined,
      Option.isSome(input.tlsKey) ? "--tls-key" : undefined,
      Option.isSome(input.servername) ? "--servername" : undefined
    ].filter((name) => name !== undefined)
    if (given.length > 0) return invalid(`${given.join(" and ")} ${given.length > 1 ? "are" : "is"} for TLS: add --tls`)
    return Effect.void
  }
  if (Option.isSome(input.tlsCert) !== Option.isSome(input.tlsKey)) {
    return invalid(
      `--tls-cert and --tls-key go together: ${Option.isSome(input.tlsCert) ? "--tls-key" : "--tls-cert"} is missing`
    )
  }
  if (Option.isSome(input.tlsCert) && Option.isSome(input.tlsKey)) {
    const problem = TlsFiles.mismatch(input.tlsCert.value, input.tlsKey.value)
    if (problem !== undefined) return invalid(`--tls-key: ${problem}`)
  }
  if (Option.isSome(input.unix)) return invalid("--unix connects in plain: TLS (--tls) is over TCP only")
  return Effect.void
}

const echoConfig = {
  ...target,
  message: Argument.String("message").pipe(
    Argument.withDescription("The message to send [default \"Hello World!\", env ECHO_MESSAGE]"),
    Argument.withFallbackConfig(Config.String("ECHO_MESSAGE")),
    Argument.withDefault("Hello World!")
  ),
  stdin: Flags.boolean("stdin", "Stream standard input to the server and the echo to standard output"),
  count: Flags.int("count", "How many times to send the message", { default: 1, minimum: 1 }),
  interval: Flags.duration("interval", "The pause between two messages", { default: "0" })
}

const benchConfig = {
  ...target,
  connections: Flags.int("connections", "Connections, each with one message in flight", {
    ...benchOnly,
    default: 10,
    minimum: 1
  }),
  size: Flags.int("size", "Bytes a message", { ...benchOnly, default: 1024, minimum: 1 }),
  duration: Flags.duration("duration", "The measured period", { ...benchOnly, default: "10" }),
  warmup: Flags.duration("warmup", "Load before the measured period, not counted", { ...benchOnly, default: "1" }),
  workers: Flags.int("workers", "Processes to spread the connections over", {
    ...benchOnly,
    default: 1,
    minimum: 1,
    maximum: 1024
  }),
  json: Flags.boolean("json", "Print the summary as one JSON object on stdout", benchOnly),
  worker: Flag.Boolean("worker").pipe(Flag.withHidden, Flag.withDefault(false))
}

const provide = (logFormat: Logging.Format) => Effect.provide(Layer.merge(Tcp.layer, Logging.layer(logFormat)))

const grace = Duration.seconds(2)

const echo = (input: Input<typeof echoConfig>) =>
  Echo.run({
    ...toTarget(input),
    message: input.message,
    stdin: input.stdin,
    count: input.count,
    interval: input.interval,
    grace
  }).pipe(provide(input.logFormat))

const bench = (input: Input<typeof benchConfig>) =>
  Effect.gen(function*() {
    const logLevel = yield* References.MinimumLogLevel
    if (input.worker) yield* Workers.watchParent
    yield* BenchRun.run({
      ...toTarget(input),
      connections: input.connections,
      size: input.size,
      duration: input.duration,
      warmup: input.warmup,
      grace,
      workers: input.workers,
      json: input.json,
      worker: input.worker,
      entry: process.argv[1]!,
      workerArgs: (connections) => [
        ...targetArgs(input),
        "--connections",
        String(connections),
        "--size",
        String(input.size),
        "--duration",
        secondsOf(input.duration),
        "--warmup",
        secondsOf(input.warmup),
        "--log-format",
        input.logFormat,
        "--log-level",
        logLevel.toLowerCase(),
        "--worker"
      ]
    })
  }).pipe(provide(input.logFormat))

/**
 * `echo [message]`: send a message (or standard input) and check its echo.
 *
 * @since 0.1.0
 * @category commands
 */
export const echoCommand = Command.make("echo", echoConfig, echo).pipe(
  Command.validate((input) => validate(input)),
  Command.withDescription("Send a message (or standard input) to an echo server and check the echo (the default)")
)

/**
 * `bench`: a closed-loop load generator.
 *
 * @since 0.1.0
 * @category commands
 */
export const benchCommand = Command.make("bench", benchConfig, bench).pipe(
  Command.validate((input) => validate(input)),
  Command.withDescription("Load an echo server: closed-loop connections, requests/s, MiB/s, latency percentiles")
)

/**
 * The program: `echo` when no command is named.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("echo-client", echoConfig, echo).pipe(
  Command.validate((input) => validate(input)),
  Command.withDescription("Echo client (RFC 862) and load generator: `echo` (the default) and `bench`"),
  Command.withSubcommands([echoCommand, benchCommand])
)
