import { OSError } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import * as ExitCode from "../src/ExitCode.ts"

const error = (code: string) => OSError.fromCode(code, { syscall: "connect", host: "127.0.0.1", port: 1 })

describe("ExitCode.of", () => {
  it.each([
    ["ECONNREFUSED", ExitCode.codes.connectionRefused],
    ["ETIMEDOUT", ExitCode.codes.timeout],
    ["ECONNRESET", ExitCode.codes.connectionLost],
    ["EPIPE", ExitCode.codes.connectionLost],
    ["ENOTFOUND", ExitCode.codes.addressResolution],
    ["EACCES", ExitCode.codes.permission],
    ["EADDRINUSE", ExitCode.codes.failure]
  ])("an OS error %s: %i", (code, exit) => {
    assert.strictEqual(ExitCode.of(error(code)), exit)
  })

  it.each([
    ["SSLCertVerificationError", ExitCode.codes.certificateVerification],
    ["SSLError", ExitCode.codes.tls],
    ["SSLEOFError", ExitCode.codes.tls],
    ["SSLZeroReturnError", ExitCode.codes.tls]
  ])("the SSL family: %s is %i", (tag, exit) => {
    assert.strictEqual(ExitCode.of({ _tag: tag }), exit)
  })

  it("knows no app's errors by itself", () => {
    assert.strictEqual(ExitCode.of({ _tag: "EchoMismatchError" }), ExitCode.codes.failure)
  })

  it("takes an app's own codes, before the shared ones", () => {
    const appCodes = { EchoMismatchError: 7, TimeoutError: 9 }
    assert.strictEqual(ExitCode.of({ _tag: "EchoMismatchError" }, appCodes), 7)
    assert.strictEqual(ExitCode.of(error("ETIMEDOUT"), appCodes), 9)
    assert.strictEqual(ExitCode.of(error("ECONNREFUSED"), appCodes), ExitCode.codes.connectionRefused)
  })

  it("anything untagged is a failure", () => {
    assert.strictEqual(ExitCode.of(new Error("boom")), ExitCode.codes.failure)
    assert.strictEqual(ExitCode.of("boom", { boom: 3 }), ExitCode.codes.failure)
  })
})
