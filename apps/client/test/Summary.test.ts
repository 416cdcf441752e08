import { assert, describe, it } from "@effect/vitest"
import * as Histogram from "../src/Histogram.ts"
import * as Summary from "../src/Summary.ts"

const result = (requests: number, seconds: number, errors: Record<string, number> = {}): Summary.Result => {
  const histogram = Histogram.make()
  for (let i = 0; i < requests; i++) histogram.recordValue(100 + i)
  return { connections: 2, size: 1024, durationSeconds: seconds, requests, bytes: requests * 1024, histogram, errors }
}
describe("Summary", () => {
  it("merges workers: counts add, histograms merge, the longest period counts", () => {
    const merged = Summary.merge([
      result(100, 2, { ConnectionResetError: 1 }),
      result(300, 2.5, { ConnectionResetError: 2, TimeoutError: 1 })
    ], 1024)
    const summary = Summary.fromResult(merged)
    assert.strictEqual(summary.connections, 4)
    assert.strictEqual(summary.requests, 400)
    assert.strictEqual(summary.bytes, 400 * 1024)
    assert.strictEqual(summary.durationSeconds, 2.5)
    assert.strictEqual(summary.requestsPerSecond, 160)
    assert.strictEqual(summary.mibPerSecond, 0.15625)
    assert.deepStrictEqual(summary.errors, { ConnectionResetError: 3, TimeoutError: 1 })
    assert.strictEqual(summary.latencyMicros.min, 100)
  })

  it("a worker's line survives the trip through JSON", () => {
    const line = JSON.parse(JSON.stringify(Summary.toWorkerLine(result(50, 1))))
    const back = Summary.fromWorkerLine(line)
    assert.strictEqual(back.requests, 50)
    assert.strictEqual(back.histogram.totalCount, 50)
  })

  it("the human summary", () => {
    const text = Summary.format(Summary.fromResult(result(3, 1)), true)
    assert.strictEqual(
      text,
      [
        "partial 3 requests in 1.000 s, 2 connections, 1024 bytes a message",
        "  3.0 requests/s, 0.003 MiB/s (3072 bytes echoed)",
        "  latency min 100 µs, p50 101 µs, p90 102 µs, p99 102 µs, p99.9 102 µs, max 102 µs",
        "  errors: none"
      ].join("\n")
    )
  })
})
