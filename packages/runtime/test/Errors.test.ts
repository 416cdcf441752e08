import { OSError } from "@effect-tcp/socket"
import { assert, describe, it } from "@effect/vitest"
import * as Errors from "../src/Errors.ts"

describe("Errors.tagOf", () => {
  it("reads the tag of a tagged error", () => {
    const error = OSError.fromCode("ECONNREFUSED", { syscall: "connect", host: "127.0.0.1", port: 1 })
    assert.strictEqual(Errors.tagOf(error), "ConnectionRefusedError")
    assert.strictEqual(Errors.tagOf({ _tag: "Custom" }), "Custom")
  })

  it.each([null, undefined, 42, "text", new Error("plain"), { _tag: 7 }, { tag: "x" }])(
    "has none for %s",
    (value) => assert.isUndefined(Errors.tagOf(value))
  )
})
