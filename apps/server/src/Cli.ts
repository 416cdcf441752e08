/**
 * The command line of the echo server: flags (each also from an `ECHO_*`
 * environment variable), validated before anything binds, turned into
 * `EchoServer.Options`, then the program: one server, or `--workers N`.
 *
 * @since 0.1.0
 */
import { Flags, Logging, TlsFiles } from "@effect-tcp/runtime"
import { Address, ProxyProtocol, Tcp } from "@effect-tcp/socket"
import type { OSError } from "@effect-tcp/socket"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Config from "effect/Config"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { readFileSync } from "node:fs"
import * as EchoServer from "./EchoServer.ts"
import * as Tracing from "./Tracing.ts"
import * as WorkerMetrics from "./WorkerMetrics.ts"
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
 * Where `--metrics-port` listens without `--metrics-host`: this host only.
 *
 * @since 0.2.0
 * @category constants
 */
export const metricsHostDefault = "127.0.0.1"

/**
 * Who may send a PROXY header without `--trusted-proxies`: this host only, where a local balancer runs.
 *
 * @since 0.2.0
 * @category constants
 */
export const trustedProxiesDefault = "127.0.0.1/32,::1/128"

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
  tlsCert: TlsFiles.flag(
    "tls-cert",
    "Serve TLS with this certificate (and its chain), PEM; needs --tls-key",
    "certificate"
  ),
  tlsKey: TlsFiles.flag("tls-key", "The private key of --tls-cert, PEM", "key"),
  tlsCa: TlsFiles.flag(
    "tls-ca",
    "Ask every client for a certificate and verify it against these CAs, PEM (with --tls-cert)",
    "ca"
  ),
  tlsHandshakeTimeout: Flags.duration(
    "tls-handshake-timeout",
    "Time a TLS handshake may take before the connection is closed",
    { default: "10" }
  ),
  proxyProtocol: Flags.boolean(
    "proxy-protocol",
    "Read a PROXY protocol header (v1 or v2) first on every connection: the client a load balancer relayed"
  ),
  trustedProxies: Flags.string(
    "trusted-proxies",
    `Comma-separated CIDR ranges that may send a PROXY header, with --proxy-protocol (default ${trustedProxiesDefault})`,
    { metavar: "cidrs" }
  ),
  proxyHeaderTimeout: Flags.duration(
    "proxy-header-timeout",
    "Time a PROXY header may take before the connection is reset",
    { default: "5" }
  ),
  unix: Flags.string("unix", "Listen on this Unix domain socket instead of --host and --port", { metavar: "path" }),
  metricsPort: Flags.int("metrics-port", "Serve /metrics (Prometheus text format) on this port; 0 picks a free one", {
    minimum: 0,
    maximum: 65535
  }).pipe(Flag.optional),
  metricsHost: Flags.string(
    "metrics-host",
    `Address the metrics endpoint binds, with --metrics-port (default ${metricsHostDefault})`,
    { metavar: "host" }
  ),
  otlpEndpoint: Tracing.flag,
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
 * The server's TLS options from the flags, once `validate` has passed:
 * `undefined` without `--tls-cert`. `--tls-ca` asks every client for a
 * certificate and refuses those without one that verifies.
 *
 * @since 0.2.0
 * @category models
 */
export const toTls = (flags: Flags): Tcp.TcpListenOptions["tls"] => {
  if (Option.isNone(flags.tlsCert) || Option.isNone(flags.tlsKey)) return undefined
  return {
    cert: flags.tlsCert.value.pem,
    key: flags.tlsKey.value.pem,
    handshakeTimeout: flags.tlsHandshakeTimeout,
    ...(Option.isSome(flags.tlsCa) ? { ca: flags.tlsCa.value.pem, clientCertificates: "require" as const } : {})
  }
}

/**
 * The server's PROXY protocol options from the flags, once `validate` has passed: `undefined` without
 * `--proxy-protocol`.
 *
 * @since 0.2.0
 * @category models
 */
export const toProxyProtocol = (flags: Flags): Tcp.TcpListenOptions["proxyProtocol"] =>
  flags.proxyProtocol
    ? { trusted: trustedProxies(flags), headerTimeout: flags.proxyHeaderTimeout }
    : undefined

const trustedProxies = (flags: Flags): Array<string> =>
  Option.getOrElse(flags.trustedProxies, () => trustedProxiesDefault).split(",").map((range) => range.trim())

// How the PROXY protocol reads on the "Serving on" line.
const proxyAnnotations = (flags: Flags): Record<string, unknown> =>
  flags.proxyProtocol
    ? {
      proxyProtocol: true,
      trustedProxies: trustedProxies(flags).join(","),
      proxyHeaderTimeoutSeconds: Duration.toSeconds(flags.proxyHeaderTimeout)
    }
    : { proxyProtocol: false }

// How TLS reads on the "Serving on" line: the files by their paths, never their contents.
const tlsAnnotations = (flags: Flags): Record<string, unknown> =>
  Option.isNone(flags.tlsCert) || Option.isNone(flags.tlsKey)
    ? { tls: false }
    : {
      tls: true,
      tlsCert: flags.tlsCert.value.path,
      tlsKey: flags.tlsKey.value.path,
      clientCertificates: Option.isSome(flags.tlsCa) ? "require" : "none",
      ...(Option.isSome(flags.tlsCa) ? { tlsCa: flags.tlsCa.value.path } : {}),
      tlsHandshakeTimeoutSeconds: Duration.toSeconds(flags.tlsHandshakeTimeout)
    }

/**
 * The server's options from the flags. Every flag but `--workers` and
 * `--log-format` is a setting of the server, logged by its name; a flag named
 * like its `Tcp.ListenOptions` field (`--read-limit`) reaches `Tcp.listen` as
 * it is, so only the flags that Tcp names or reads otherwise are listed here.
 * With `--unix` the server listens on that path, and `--host`, `--port` and
 * `--reuse-port` play no part.
 *
 * @since 0.1.0
 * @category models
 */
export const toOptions = (flags: Flags): EchoServer.Options => {
  const {
    logFormat: _logFormat,
    metricsHost: _metricsHost,
    metricsPort: _metricsPort,
    otlpEndpoint: _otlpEndpoint,
    proxyHeaderTimeout: _proxyHeaderTimeout,
    proxyProtocol: _proxyProtocol,
    tlsCa: _tlsCa,
    tlsCert: _tlsCert,
    tlsHandshakeTimeout: _tlsHandshakeTimeout,
    tlsKey: _tlsKey,
    trustedProxies: _trustedProxies,
    unix,
    workers: _workers,
    ...settings
  } = flags
  const { idleTimeout, maxConnections, recvBufferSize, sendBufferSize, shutdownTimeout, statsInterval, ...listen } =
    settings
  const { host, port, reusePort, ...common } = listen
  const every = {
    ...common,
    receiveBufferSize: Option.getOrUndefined(recvBufferSize),
    sendBufferSize: Option.getOrUndefined(sendBufferSize),
    maxConnections: maxConnections === 0 ? undefined : maxConnections,
    idleTimeout: Duration.isZero(idleTimeout) ? undefined : idleTimeout,
    shutdownGrace: shutdownTimeout
  }
  const tls = toTls(flags)
  const proxyProtocol = toProxyProtocol(flags)
  const logged = Option.isSome(unix)
    ? Object.entries(settings).filter(([name]) => !["host", "port", "reusePort"].includes(name))
    : Object.entries(settings)
  return {
    listen: Option.isSome(unix)
      ? { path: unix.value, ...every }
      : {
        host,
        port,
        reusePort,
        ...every,
        ...(tls === undefined ? {} : { tls }),
        ...(proxyProtocol === undefined ? {} : { proxyProtocol })
      },
    statsInterval: Duration.isZero(statsInterval) ? undefined : statsInterval,
    settings: {
      ...Object.fromEntries(logged.map(annotation)),
      ...(Option.isSome(unix) ? {} : { ...tlsAnnotations(flags), ...proxyAnnotations(flags) })
    }
  }
}

const invalid = (message: string) => Effect.fail(new CliError.ValidationError({ message }))

/** Would the metrics endpoint bind the echo port (the same port, on the same host or on all of them)? */
const sharesEchoPort = (flags: Flags, metricsPort: number): boolean => {
  if (Option.isSome(flags.unix) || metricsPort === 0 || metricsPort !== flags.port) return false
  const metricsHost = Option.getOrElse(flags.metricsHost, () => metricsHostDefault)
  return metricsHost === flags.host || Address.isUnspecified(metricsHost) || Address.isUnspecified(flags.host)
}

/**
 * What no single flag can say: the TLS flags that go together, a key that
 * does not match its certificate, trusted proxies that are not CIDR ranges or
 * without the PROXY protocol, what a Unix socket cannot do, and a metrics
 * endpoint without a port or on the echo port. A usage error (one line,
 * exit 2) before anything binds.
 *
 * @since 0.2.0
 * @category validation
 */
export const validate = (flags: Flags): Effect.Effect<void, CliError.CliError> => {
  const { metricsHost, metricsPort, tlsCa, tlsCert, tlsKey, trustedProxies: trusted, unix } = flags
  if (Option.isSome(metricsHost) && Option.isNone(metricsPort)) {
    return invalid("--metrics-host is where the metrics endpoint binds: it needs --metrics-port")
  }
  if (Option.isSome(metricsPort) && sharesEchoPort(flags, metricsPort.value)) {
    return invalid(`--metrics-port ${metricsPort.value} is the echo server's --port: give it a port of its own`)
  }
  const otlpProblem = Tracing.problem(flags.otlpEndpoint)
  if (otlpProblem !== undefined) return invalid(otlpProblem)
  if (Option.isSome(tlsCert) !== Option.isSome(tlsKey)) {
    return invalid(
      `--tls-cert and --tls-key go together: ${Option.isSome(tlsCert) ? "--tls-key" : "--tls-cert"} is missing`
    )
  }
  if (Option.isSome(tlsCa) && Option.isNone(tlsCert)) {
    return invalid("--tls-ca asks TLS clients for certificates: it needs --tls-cert and --tls-key")
  }
  if (Option.isSome(tlsCert) && Option.isSome(tlsKey)) {
    const problem = TlsFiles.mismatch(tlsCert.value, tlsKey.value)
    if (problem !== undefined) return invalid(`--tls-key: ${problem}`)
  }
  if (Option.isSome(trusted)) {
    if (!flags.proxyProtocol) {
      return invalid("--trusted-proxies is who may send a PROXY header: it needs --proxy-protocol")
    }
    const problem = ProxyProtocol.checkTrusted(trustedProxies(flags))
    if (problem !== undefined) {
      return invalid(`--trusted-proxies: ${problem.replace(/^proxyProtocol\.trusted:? ?/, "")}`)
    }
  }
  if (Option.isSome(unix)) {
    if (flags.proxyProtocol) return invalid("--proxy-protocol reads a header on TCP connections: not with --unix")
    if (Option.isSome(tlsCert)) return invalid("--unix serves plain connections: TLS (--tls-cert) is over TCP only")
    if (flags.workers > 1) return invalid("--workers share a port with SO_REUSEPORT: not with --unix")
    if (flags.reusePort) return invalid("--reuse-port is for a TCP port: not with --unix")
  }
  return Effect.void
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

/** How long a scrape waits for a worker's metrics before serving without them. */
const workerMetricsTimeout = Duration.seconds(2)

/**
 * `--metrics-port`: serves the metrics for as long as the scope lasts (this
 * process's own, or what `collect` gathers); without it, nothing. The module
 * that serves them is loaded only then (see `MetricsServer`).
 */
const serveMetrics = (
  flags: Flags,
  collect?: Effect.Effect<Context.Context<never>>
): Effect.Effect<void, OSError.ListenError, Scope.Scope> =>
  Option.match(flags.metricsPort, {
    onNone: () => Effect.void,
    onSome: (port) =>
      Effect.promise(() => import("./MetricsServer.ts")).pipe(
        Effect.flatMap((MetricsServer) =>
          MetricsServer.serve({ host: Option.getOrElse(flags.metricsHost, () => metricsHostDefault), port, collect })
        ),
        Effect.asVoid
      )
  })

/**
 * What the process runs: a worker of `--workers` (its metrics go to the
 * parent), the parent of the workers (it serves their metrics), or the one
 * server. The metrics endpoint binds first: its port taken, nothing else starts.
 */
const program = (flags: Flags): Effect.Effect<never, OSError.ListenError | Workers.WorkerExitError, Tcp.Tcp> => {
  if (Workers.isWorker()) {
    // a worker reads its parent's command line and environment: only the port they share is the parent's to set
    return Effect.andThen(
      Option.isSome(flags.metricsPort) ? WorkerMetrics.answer : Effect.void,
      Tracing.run(
        (traced) =>
          EchoServer.run({ ...toOptions({ ...flags, port: Workers.port(), reusePort: true }), ...traced }, {
            onListening: Workers.onListening
          }),
        { endpoint: flags.otlpEndpoint, serviceVersion: version, worker: Workers.workerIndex() }
      )
    ).pipe(Effect.scoped, Effect.annotateLogs({ worker: Workers.workerIndex(), pid: process.pid }))
  }
  if (flags.workers > 1) {
    const pool = WorkerMetrics.makePool({ timeout: workerMetricsTimeout })
    return Effect.andThen(
      serveMetrics(flags, pool.collect),
      Workers.run({
        count: flags.workers,
        port: flags.port,
        script: process.argv[1]!,
        args: process.argv.slice(2),
        onSpawn: pool.add
      })
    ).pipe(Effect.scoped)
  }
  const traced = Tracing.run((traced) => EchoServer.run({ ...toOptions(flags), ...traced }), {
    endpoint: flags.otlpEndpoint,
    serviceVersion: version
  })
  return Effect.andThen(serveMetrics(flags), traced).pipe(Effect.scoped)
}

/**
 * The `echo-server` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(name, flags, (flags) =>
  Effect.gen(function*() {
    const level = yield* logLevel
    return yield* program(flags).pipe(
      Effect.provide(Tcp.layer),
      Effect.provide(Logging.layer(flags.logFormat)),
      Effect.provideService(References.MinimumLogLevel, level)
    )
  })).pipe(
    Command.validate(validate),
    Command.withDescription("An echo server (RFC 862) on 127.0.0.1:8888: every byte sent comes back, in order")
  )
