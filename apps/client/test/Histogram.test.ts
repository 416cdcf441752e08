import { assert, describe, it } from "@effect/vitest"
import * as Histogram from "../src/Histogram.ts"

describe("Histogram", () => {
  it("encodes, decodes and merges exactly", () => {
    const a = Histogram.make()
    const b = Histogram.make()
    for (let i = 1; i <= 1000; i++) a.recordValue(i)
    for (let i = 1001; i <= 2000; i++) b.recordValue(i)
    const merged = Histogram.merge([Histogram.decode(Histogram.encode(a)), Histogram.decode(Histogram.encode(b))])
    assert.strictEqual(merged.totalCount, 2000)
    const latency = Histogram.latency(merged)
    assert.strictEqual(latency.min, 1)
    assert.closeTo(latency.p50, 1000, 1)
    assert.closeTo(latency.p99, 1980, 2)
    assert.closeTo(latency.max, 2000, 2)
  })

  it("an empty histogram has zero latencies", () => {
    assert.deepStrictEqual(Histogram.latency(Histogram.make()), { min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 })
  })
})
