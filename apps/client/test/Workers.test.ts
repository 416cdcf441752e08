import { assert, describe, it } from "@effect/vitest"
import { shares } from "../src/Workers.ts"

describe("Workers.shares", () => {
  it("spreads connections over workers, none empty", () => {
    assert.deepStrictEqual(shares(10, 3), [4, 3, 3])
    assert.deepStrictEqual(shares(2, 4), [1, 1])
    assert.deepStrictEqual(shares(1, 1), [1])
  })
})
