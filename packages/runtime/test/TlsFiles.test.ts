import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { CliError, Command } from "effect/cli"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as TlsFiles from "../src/TlsFiles.ts"
import { certificateFiles } from "./certificates.ts"

const files = certificateFiles()

/** The message `read` throws with. */
const readError = (path: string, kind: TlsFiles.Kind): string => {
  try {
    TlsFiles.read(path, kind)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error(`${path} read as a ${kind} file`)
}

const parse = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    let value: Option.Option<TlsFiles.PemFile> = Option.none()
    const flag = TlsFiles.flag("tls-cert", "A certificate", "certificate")
    const command = Command.make("app", { flag }, (input) => Effect.sync(() => (value = input.flag)))
    yield* Command.runWith(command, { version: "0.0.0", renderErrors: false })(args)
    return value
  }).pipe(
    Effect.provide(NodeServices.layer),
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  )

describe("TlsFiles", () => {
  it("read: each kind of file, as it is", () => {
    assert.deepStrictEqual(TlsFiles.read(files.server.cert, "certificate"), {
      path: files.server.cert,
      pem: Fs.readFileSync(files.server.cert, "utf8")
    })
    assert.strictEqual(TlsFiles.read(files.server.key, "key").path, files.server.key)
    assert.strictEqual(TlsFiles.read(files.ca, "ca").path, files.ca)
  })

  it("read: a file that cannot be read, or holds the wrong thing, is one line saying so", () => {
    assert.match(readError("/no/such.pem", "certificate"), /^Expected a PEM certificate file: cannot read it \(ENOENT/)
    assert.match(readError(files.dir, "ca"), /^Expected a PEM file of CA certificates: cannot read it \(EISDIR/)
    assert.match(readError(files.server.key, "certificate"), /it holds no PEM certificate/)
    assert.match(readError(files.server.cert, "key"), /it holds no PEM private key/)
    const broken = Path.join(files.dir, "broken.pem")
    Fs.writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert.match(readError(broken, "certificate"), /a certificate in it does not parse/)
    const brokenKey = Path.join(files.dir, "broken.key")
    Fs.writeFileSync(brokenKey, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert.match(readError(brokenKey, "key"), /it holds no usable private key/)
    for (const message of [readError(files.server.key, "certificate"), readError(files.server.cert, "key")]) {
      assert.notInclude(message, "\n")
    }
  })

  it("mismatch: none for a certificate and its key; the paths when the key is another's", () => {
    const cert = TlsFiles.read(files.server.cert, "certificate")
    assert.isUndefined(TlsFiles.mismatch(cert, TlsFiles.read(files.server.key, "key")))
    assert.strictEqual(
      TlsFiles.mismatch(cert, TlsFiles.read(files.client.key, "key")),
      `the key in ${files.client.key} does not match the certificate in ${files.server.cert}`
    )
  })

  it.effect("flag: from the flag or its variable, read as it is parsed; a bad file is the flag's usage error", () =>
    Effect.gen(function*() {
      assert.strictEqual(Option.getOrThrow(yield* parse(["--tls-cert", files.server.cert])).path, files.server.cert)
      assert.strictEqual(
        Option.getOrThrow(yield* parse([], { ECHO_TLS_CERT: files.client.cert })).path,
        files.client.cert
      )
      assert.isTrue(Option.isNone(yield* parse([])))
      for (
        const [args, env] of [[["--tls-cert", "/no/such.pem"], {}], [[], {
          ECHO_TLS_CERT: files.ca + ".missing"
        }]] as const
      ) {
        const error = yield* Effect.flip(parse(args, env))
        const first = CliError.isCliError(error) && error._tag === "ShowHelp" ? error.errors[0] : error
        assert.strictEqual(first?._tag, "InvalidValue")
        assert.match(String(first?.message), /--tls-cert.*cannot read it/)
      }
    }))
})
