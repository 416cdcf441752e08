import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import * as Durations from "../src/Durations.ts"

describe("Durations.parse", () => {
  it.each([
    ["10", 10_000],
    ["0.25", 250],
    ["500 millis", 500],
    ["2 minutes", 120_000]
  ])("duration %s", (text, millis) => {
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(Durations.parse(text))), millis)
  })

  it.each(["soon", "-1", "Infinity"])("not a duration: %s", (text) => {
    assert.isTrue(Option.isNone(Durations.parse(text)))
  })
})
