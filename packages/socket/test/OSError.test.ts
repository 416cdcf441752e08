// The error classes: messages in Python's form, guards that know our classes only,
// and operation types that keep what an operation cannot produce out.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import * as Os from "node:os"
import * as OSError from "../src/OSError.ts"

const errno = Os.constants.errno

// a socket read under Effect.timeout: both TimeoutErrors can come out of it
const read = (ours: boolean): Effect.Effect<string, OSError.TimeoutError | Cause.TimeoutError> =>
  ours
    ? Effect.fail(new OSError.TimeoutError({ errno: errno.ETIMEDOUT, code: "ETIMEDOUT", syscall: "read" }))
    : Effect.timeout(Effect.never, "1 millis")

// what a program does under catchTag: isOSError tells the two apart
const tell = (ours: boolean) =>
  read(ours).pipe(
    Effect.catchTag("TimeoutError", (error) => Effect.succeed(OSError.isOSError(error) ? "socket" : "effect"))
  )

describe("OSError", () => {
  it("a message in Python's form, with the running OS's errno and the address", () => {
    const error = OSError.fromCode("ECONNREFUSED", { syscall: "connect", host: "127.0.0.1", port: 8888 })
    assert.instanceOf(error, OSError.ConnectionRefusedError)
    assert.strictEqual(error.errno, errno.ECONNREFUSED)
    assert.strictEqual(error.message, `[Errno ${errno.ECONNREFUSED}] Connection refused (127.0.0.1:8888)`)
    const v6 = OSError.fromCode("ECONNRESET", { syscall: "read", host: "::1", port: 1, detail: "why" })
    assert.strictEqual(v6.message, `[Errno ${errno.ECONNRESET}] Connection reset by peer: why ([::1]:1)`)
  })

  it("a Unix socket's errors name its path (an abstract name as @name); ENOENT is FileNotFoundError", () => {
    const error = OSError.fromCode("ENOENT", { syscall: "connect", path: "/run/app.sock" })
    assert.instanceOf(error, OSError.FileNotFoundError)
    assert.isTrue(OSError.isOSError(error))
    assert.strictEqual(error.path, "/run/app.sock")
    assert.strictEqual(error.message, `[Errno ${errno.ENOENT}] No such file or directory (/run/app.sock)`)
    const abstract = OSError.fromCode("ECONNREFUSED", { syscall: "connect", path: "\0app" })
    assert.strictEqual(abstract.message, `[Errno ${errno.ECONNREFUSED}] Connection refused (@app)`)
    // only where an operation can meet it: not on a read
    assert.strictEqual(
      OSError.fromCode("ENOENT", { syscall: "read" }, { allowed: OSError.tagsOf.read })._tag,
      "OSError"
    )
  })

  it("a code an operation cannot produce becomes an OSError that keeps the errno", () => {
    const error = OSError.fromCode("EADDRINUSE", { syscall: "read" }, { allowed: OSError.tagsOf.read })
    assert.strictEqual(error._tag, "OSError")
    assert.strictEqual(error.code, "EADDRINUSE")
    assert.strictEqual(error.errno, errno.EADDRINUSE)
  })

  it("Node's system errors keep their code and errno; an error without a code is EIO", () => {
    const error = OSError.fromSystemError(
      Object.assign(new Error("x"), { code: "EPIPE", errno: -errno.EPIPE }),
      { syscall: "write" },
      OSError.tagsOf.write
    )
    assert.strictEqual(error._tag, "BrokenPipeError")
    assert.strictEqual(error.errno, errno.EPIPE)
    assert.strictEqual(OSError.fromSystemError(new Error("bug"), { syscall: "read" }).code, "EIO")
  })

  it("guards recognise our classes, not look-alikes that share a _tag", () => {
    const ours = OSError.fromCode("ETIMEDOUT", { syscall: "read" })
    assert.isTrue(OSError.isOSError(ours))
    assert.isFalse(OSError.isConnectionError(ours))
    // Effect's own TimeoutError (from Effect.timeout) has the same _tag and no errno
    const effects = new Cause.TimeoutError()
    assert.strictEqual(effects._tag, "TimeoutError")
    assert.isFalse(OSError.isOSError(effects))
    assert.isFalse(OSError.isOSError({ _tag: "ConnectionResetError", errno: 104 }))
    assert.isFalse(OSError.isConnectionError(Object.assign(new Error("x"), { _tag: "ConnectionResetError" })))
    assert.isTrue(OSError.isConnectionError(OSError.fromCode("ECONNRESET", { syscall: "read" })))
  })

  it.live("under catchTag(\"TimeoutError\"), isOSError tells ours from Effect's", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* tell(true), "socket")
      assert.strictEqual(yield* tell(false), "effect")
    }))

  it("SSL errors: Python's classes and messages, OSErrors all, told apart from the others by isSSLError", () => {
    const where = { syscall: "handshake", host: "127.0.0.1", port: 8443, library: "SSL" } as const
    const ssl = new OSError.SSLError({ ...where, errno: 1, code: "SSL_ERROR_SSL", reason: "WRONG_VERSION_NUMBER" })
    assert.strictEqual(ssl.message, "[SSL: WRONG_VERSION_NUMBER] wrong version number (127.0.0.1:8443)")
    const certificate = new OSError.SSLCertVerificationError({
      ...where,
      errno: 1,
      code: "SSL_ERROR_SSL",
      reason: "self-signed",
      verifyCode: "DEPTH_ZERO_SELF_SIGNED_CERT",
      verifyMessage: "self-signed certificate"
    })
    assert.strictEqual(
      certificate.message,
      "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (127.0.0.1:8443)"
    )
    const eof = new OSError.SSLEOFError({ ...where, errno: 8, code: "SSL_ERROR_EOF" })
    assert.strictEqual(
      eof.message,
      "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (127.0.0.1:8443)"
    )
    const zero = new OSError.SSLZeroReturnError({ ...where, errno: 6, code: "SSL_ERROR_ZERO_RETURN" })
    assert.strictEqual(zero.message, "TLS/SSL connection has been closed (EOF) (127.0.0.1:8443)")
    for (const error of [ssl, certificate, eof, zero]) {
      assert.isTrue(OSError.isOSError(error), error._tag)
      assert.isTrue(OSError.isSSLError(error), error._tag)
      assert.isFalse(OSError.isConnectionError(error), error._tag)
    }
    assert.isFalse(OSError.isSSLError(OSError.fromCode("ECONNRESET", { syscall: "read" })))
    assert.isFalse(OSError.isSSLError({ _tag: "SSLError", errno: 1 }))
  })

  it("no errno maps to an SSL error: they come from TLS only", () => {
    for (const code of ["ECONNRESET", "EPROTO", "EIO"]) {
      assert.isFalse(OSError.isSSLError(OSError.fromCode(code, { syscall: "read" })), code)
    }
  })
})
