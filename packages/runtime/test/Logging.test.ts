import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as Logging from "../src/Logging.ts"

// The lean formatters must print what Effect's formatters print, for every line.
const lines = (log: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const printed: Array<{ ours: string; effect: string }> = []
    const capture = Logger.make((options) => {
      printed.push({ ours: Logging.formatJson(options), effect: Logger.formatJson.log(options) })
      printed.push({ ours: Logging.formatLogFmt(options), effect: Logger.formatLogFmt.log(options) })
    })
    yield* log.pipe(Effect.provide(Logger.layer([capture])))
    return printed
  })

describe("Logging formatters", () => {
  it.effect("plain lines: strings that need quoting, numbers, booleans, null, odd labels", () =>
    Effect.gen(function*() {
      const printed = yield* lines(
        Effect.logWarning("Connection closed: \"reset\" = lost").pipe(Effect.annotateLogs({
          connectionId: 12,
          peer: "127.0.0.1:5000",
          "odd label=\"x\"": "a b",
          ratio: 0.25,
          big: 1e21,
          nan: Number.NaN,
          open: true,
          nothing: null,
          empty: "",
          unicode: "é ✓\n"
        }))
      )
      expect(printed).toHaveLength(2)
      for (const { effect, ours } of printed) expect(ours).toBe(effect)
    }))

  it.effect("anything else takes Effect's way: objects, several messages, causes, spans", () =>
    Effect.gen(function*() {
      const printed = yield* lines(Effect.gen(function*() {
        yield* Effect.logInfo("with an object").pipe(Effect.annotateLogs({ options: { noDelay: true } }))
        yield* Effect.logInfo("two", "messages")
        yield* Effect.logError("failed", new Error("boom"))
        yield* Effect.logInfo("in a span").pipe(Effect.withLogSpan("span"))
      }))
      expect(printed).toHaveLength(8)
      for (const { effect, ours } of printed) expect(ours).toBe(effect)
    }))
})
