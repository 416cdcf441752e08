import type { Tcp } from "@effect-tcp/socket"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import { Command } from "effect/cli"
import * as Fs from "node:fs"
import * as Cli from "../src/Cli.ts"
import { certificateFiles } from "./certificates.ts"

/** The server's options for this command line, in an empty environment. */
const optionsFor = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let flags: Option.Option<Cli.Flags> = Option.none()
    const command = Command.make(Cli.name, Cli.flags, (parsed) => Effect.sync(() => (flags = Option.some(parsed))))
    yield* Command.runWith(command, { version: Cli.version })(args)
    return Cli.toOptions(Option.getOrThrow(flags))
  }).pipe(
    Effect.provide(NodeServices.layer),
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
  )

describe("Cli.toOptions", () => {
  it.effect("the defaults: the seed's address, with the security defaults on", () =>
    Effect.gen(function*() {
      const { listen, settings, statsInterval } = yield* optionsFor([])
      assert.deepStrictEqual(listen, {
        host: "127.0.0.1",
        port: 8888,
        backlog: 100,
        reusePort: false,
        noDelay: true,
        readLimit: 65536,
        receiveBufferSize: undefined,
        sendBufferSize: undefined,
        maxConnections: 10_000,
        idleTimeout: Duration.seconds(300),
        shutdownGrace: Duration.seconds(10),
        closeTimeout: Duration.seconds(5)
      })
      assert.isUndefined(statsInterval)
      assert.deepStrictEqual(settings, {
        host: "127.0.0.1",
        port: 8888,
        backlog: 100,
        reusePort: false,
        noDelay: true,
        recvBufferSize: "default",
        sendBufferSize: "default",
        readLimit: 65536,
        maxConnections: 10_000,
        idleTimeoutSeconds: 300,
        shutdownTimeoutSeconds: 10,
        closeTimeoutSeconds: 5,
        statsIntervalSeconds: "off",
        tls: false,
        proxyProtocol: false
      })
    }))

  it.effect("0 turns a limit off, for Tcp and in the log alike", () =>
    Effect.gen(function*() {
      const { listen, settings } = yield* optionsFor(["--max-connections", "0", "--idle-timeout", "0"])
      assert.isUndefined(listen.maxConnections)
      assert.isUndefined(listen.idleTimeout)
      assert.strictEqual(settings?.maxConnections, "off")
      assert.strictEqual(settings?.idleTimeoutSeconds, "off")
    }))

  it.effect("every other flag reaches Tcp.listen, under Tcp's names", () =>
    Effect.gen(function*() {
      const { listen, settings, statsInterval } = yield* optionsFor([
        "--host=::1",
        "--port=0",
        "--backlog=7",
        "--reuse-port",
        "--no-delay=false",
        "--recv-buffer-size=4096",
        "--send-buffer-size=8192",
        "--read-limit=1024",
        "--max-connections=3",
        "--idle-timeout=500 millis",
        "--shutdown-timeout=2",
        "--close-timeout=0.25",
        "--stats-interval=60"
      ])
      assert.deepStrictEqual(listen, {
        host: "::1",
        port: 0,
        backlog: 7,
        reusePort: true,
        noDelay: false,
        readLimit: 1024,
        receiveBufferSize: 4096,
        sendBufferSize: 8192,
        maxConnections: 3,
        idleTimeout: Duration.millis(500),
        shutdownGrace: Duration.seconds(2),
        closeTimeout: Duration.millis(250)
      })
      assert.deepStrictEqual(statsInterval, Duration.seconds(60))
      assert.strictEqual(settings?.recvBufferSize, 4096)
      assert.strictEqual(settings?.idleTimeoutSeconds, 0.5)
      assert.strictEqual(settings?.statsIntervalSeconds, 60)
    }))

  it.effect("--workers, --log-format and the metrics flags are the process's, not the server's", () =>
    Effect.gen(function*() {
      const { listen, settings } = yield* optionsFor([
        "--workers=2",
        "--log-format=json",
        "--metrics-port=9100",
        "--metrics-host=::1"
      ])
      for (const name of ["workers", "logFormat", "metricsPort", "metricsHost"]) {
        assert.notProperty(listen, name)
        assert.notProperty(settings, name)
      }
    }))

  it.effect("--unix: Tcp.listen on the path, without host, port or SO_REUSEPORT", () =>
    Effect.gen(function*() {
      const { listen, settings } = yield* optionsFor(["--unix", "/tmp/echo.sock", "--backlog", "7"])
      assert.deepStrictEqual(listen, {
        path: "/tmp/echo.sock",
        backlog: 7,
        noDelay: true,
        readLimit: 65536,
        receiveBufferSize: undefined,
        sendBufferSize: undefined,
        maxConnections: 10_000,
        idleTimeout: Duration.seconds(300),
        shutdownGrace: Duration.seconds(10),
        closeTimeout: Duration.seconds(5)
      })
      for (const name of ["host", "port", "reusePort", "unix", "tls"]) assert.notProperty(settings, name)
      assert.strictEqual(settings?.backlog, 7)
    }))
})

describe("Cli.toOptions behind a PROXY protocol balancer", () => {
  it.effect("--proxy-protocol: this host is trusted unless --trusted-proxies names others", () =>
    Effect.gen(function*() {
      const plain = yield* optionsFor([])
      assert.notProperty(plain.listen, "proxyProtocol")
      assert.strictEqual(plain.settings?.proxyProtocol, false)
      const local = yield* optionsFor(["--proxy-protocol"])
      assert.deepStrictEqual((local.listen as Tcp.TcpListenOptions).proxyProtocol, {
        trusted: ["127.0.0.1/32", "::1/128"],
        headerTimeout: Duration.seconds(5)
      })
      const named = yield* optionsFor([
        "--proxy-protocol",
        "--trusted-proxies",
        "10.0.0.0/8, fd00::/8",
        "--proxy-header-timeout",
        "0.5"
      ])
      assert.deepStrictEqual((named.listen as Tcp.TcpListenOptions).proxyProtocol, {
        trusted: ["10.0.0.0/8", "fd00::/8"],
        headerTimeout: Duration.millis(500)
      })
      assert.strictEqual(named.settings?.trustedProxies, "10.0.0.0/8,fd00::/8")
      assert.strictEqual(named.settings?.proxyHeaderTimeoutSeconds, 0.5)
      assert.notProperty(named.settings, "proxyHeaderTimeout")
    }))
})

describe("Cli.toOptions over TLS", () => {
  it.effect("--tls-cert and --tls-key: the PEM text reaches Tcp.listen, the paths reach the log", () =>
    Effect.gen(function*() {
      const files = certificateFiles()
      const { listen, settings } = yield* optionsFor([
        "--tls-cert",
        files.server.cert,
        "--tls-key",
        files.server.key,
        "--tls-handshake-timeout",
        "2"
      ])
      assert.deepStrictEqual(listen.tls, {
        cert: Fs.readFileSync(files.server.cert, "utf8"),
        key: Fs.readFileSync(files.server.key, "utf8"),
        handshakeTimeout: Duration.seconds(2)
      })
      assert.deepStrictEqual(settings, {
        ...settings,
        tls: true,
        tlsCert: files.server.cert,
        tlsKey: files.server.key,
        clientCertificates: "none",
        tlsHandshakeTimeoutSeconds: 2
      })
      for (const name of ["tlsCa", "unix", "tlsHandshakeTimeout"]) assert.notProperty(settings, name)
    }))

  it.effect("--tls-ca requires a client certificate the CA signed", () =>
    Effect.gen(function*() {
      const files = certificateFiles()
      const { listen, settings } = yield* optionsFor([
        "--tls-cert",
        files.server.cert,
        "--tls-key",
        files.server.key,
        "--tls-ca",
        files.ca
      ])
      assert.strictEqual(listen.tls?.clientCertificates, "require")
      assert.strictEqual(listen.tls?.ca, Fs.readFileSync(files.ca, "utf8"))
      assert.strictEqual(settings?.clientCertificates, "require")
      assert.strictEqual(settings?.tlsCa, files.ca)
    }))
})
