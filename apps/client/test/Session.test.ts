import { assert, describe, it } from "@effect/vitest"
import { InFlight } from "../src/Session.ts"

const bytes = (text: string) => Buffer.from(text, "latin1")

describe("InFlight: the echo check", () => {
  it("accepts an echo cut anywhere, across the writes", () => {
    const inFlight = new InFlight()
    inFlight.push(bytes("Hello "))
    inFlight.push(bytes("World!"))
    for (const chunk of ["He", "llo W", "orld", "!"]) assert.isUndefined(inFlight.check(bytes(chunk), "peer"))
    assert.strictEqual(inFlight.echoed, 12)
    assert.strictEqual(inFlight.sent, 12)
  })

  it("reports the first differing byte, counted from the start of the connection", () => {
    const inFlight = new InFlight()
    inFlight.push(bytes("Hello World!"))
    assert.isUndefined(inFlight.check(bytes("Hello"), "peer"))
    const error = inFlight.check(bytes(" Wxrld!"), "127.0.0.1:8888")
    assert.strictEqual(error?.offset, 7)
    assert.strictEqual(
      error?.message,
      "the echo differs at byte 7: sent \"orld!\", received \"xrld!\" (127.0.0.1:8888)"
    )
  })

  it("reports bytes beyond what was sent", () => {
    const inFlight = new InFlight()
    inFlight.push(bytes("ab"))
    const error = inFlight.check(bytes("abc"), "peer")
    assert.strictEqual(error?.offset, 2)
    assert.include(error?.message, "more bytes than were sent: \"c\"")
  })

  it("keeps memory to what is in flight", () => {
    const inFlight = new InFlight()
    const chunk = Buffer.alloc(10, 1)
    for (let i = 0; i < 5000; i++) {
      inFlight.push(chunk)
      assert.isUndefined(inFlight.check(chunk, "peer"))
    }
    assert.strictEqual(inFlight.echoed, 50_000)
  })
})
