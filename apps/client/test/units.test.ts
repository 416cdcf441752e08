// The pure parts: the echo check, histograms across processes, the summary contract, flags.
import { Durations } from "@effect-tcp/runtime"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import * as Bench from "../src/Bench.ts"
import * as Histogram from "../src/Histogram.ts"
import { InFlight } from "../src/Session.ts"
import * as Summary from "../src/Summary.ts"
import { shares } from "../src/Workers.ts"

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

describe("flags and shares", () => {
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

  it("spreads connections over workers, none empty", () => {
    assert.deepStrictEqual(shares(10, 3), [4, 3, 3])
    assert.deepStrictEqual(shares(2, 4), [1, 1])
    assert.deepStrictEqual(shares(1, 1), [1])
  })

  it("messages differ between connections", () => {
    assert.isFalse(Bench.message(64, 0).equals(Bench.message(64, 1)))
    assert.strictEqual(Bench.message(64, 0).length, 64)
  })
})
