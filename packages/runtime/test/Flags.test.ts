import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import { CliError, Command, Flag } from "effect/cli"
import { TestConsole } from "effect/testing"
import * as Flags from "../src/Flags.ts"

/** The flag's value for this command line and environment (a bad value fails with the usage error). */
const parse = <A>(flag: Flag.Flag<A>, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    let value: Option.Option<A> = Option.none()
    const command = Command.make("app", { flag }, (input) => Effect.sync(() => (value = Option.some(input.flag))))
    yield* Command.runWith(command, { version: "0.0.0", renderErrors: false })(args)
    return Option.getOrThrow(value)
  }).pipe(
    Effect.provide(NodeServices.layer),
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  )

/** The tag of the usage error a bad value gives. */
const rejected = <A>(flag: Flag.Flag<A>, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.flip(parse(flag, args, env)).pipe(
    Effect.map((error) => CliError.isCliError(error) && error._tag === "ShowHelp" ? error.errors[0]?._tag : error._tag)
  )

/** The line `--help` gives the flag. */
const help = <A>(flag: Flag.Flag<A>) =>
  Command.runWith(Command.make("app", { flag }, () => Effect.void), { version: "0.0.0" })(["--help"]).pipe(
    Effect.andThen(TestConsole.logLines),
    Effect.map((lines) => lines.join("\n").split("\n").findLast((line) => line.includes("env ECHO")) ?? ""),
    Effect.provide([NodeServices.layer, TestConsole.layer])
  )

describe("Flags", () => {
  it("env: the variable is named after the flag", () => {
    assert.strictEqual(Flags.env("read-limit"), "ECHO_READ_LIMIT")
    assert.strictEqual(Flags.env("duration", "ECHO_BENCH"), "ECHO_BENCH_DURATION")
  })

  describe("int", () => {
    const port = Flags.int("port", "Port", { default: 8888, minimum: 1, maximum: 65535 })

    it.effect("tells its default and variable in the help", () =>
      Effect.gen(function*() {
        assert.match(yield* help(port), /--port integer +Port \[default 8888, env ECHO_PORT\]$/)
        assert.match(yield* help(Flags.int("size", "Bytes", { minimum: 1 })), /Bytes \[env ECHO_SIZE\]$/)
      }))

    it.effect("the flag, else the variable, else the default", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* parse(port, ["--port", "80"], { ECHO_PORT: "81" }), 80)
        assert.strictEqual(yield* parse(port, [], { ECHO_PORT: "81" }), 81)
        assert.strictEqual(yield* parse(port, []), 8888)
      }))

    it.effect("a prefix moves the variable", () =>
      Effect.gen(function*() {
        const size = Flags.int("size", "Bytes", { default: 1, minimum: 1, prefix: "ECHO_BENCH" })
        assert.strictEqual(yield* parse(size, [], { ECHO_SIZE: "5", ECHO_BENCH_SIZE: "7" }), 7)
      }))

    it.effect("the bounds are inclusive, for the flag and the variable alike", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* parse(port, ["--port", "1"]), 1)
        assert.strictEqual(yield* parse(port, ["--port", "65535"]), 65535)
        for (
          const [args, env] of [[["--port", "0"], {}], [["--port", "65536"], {}], [[], { ECHO_PORT: "70000" }]] as const
        ) {
          assert.strictEqual(yield* rejected(port, args, env), "InvalidValue", JSON.stringify({ args, env }))
        }
      }))

    it.effect("the largest by default is 2^31 - 1", () =>
      Effect.gen(function*() {
        const limit = Flags.int("limit", "Bytes", { default: 1, minimum: 1 })
        assert.strictEqual(yield* parse(limit, ["--limit", String(Flags.maxInt)]), Flags.maxInt)
        assert.strictEqual(
          yield* rejected(limit, ["--limit", String(Flags.maxInt + 1)]),
          "InvalidValue"
        )
      }))

    it.effect("not a number: a usage error", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* rejected(port, ["--port", "eighty"]), "InvalidValue")
        assert.strictEqual(yield* rejected(port, [], { ECHO_PORT: "eighty" }), "InvalidValue")
      }))

    it.effect("without a default: optional, none when neither is given", () =>
      Effect.gen(function*() {
        const size = Flags.int("recv-buffer-size", "SO_RCVBUF", { minimum: 1 }).pipe(Flag.optional)
        assert.isTrue(Option.isNone(yield* parse(size, [])))
        assert.deepStrictEqual(yield* parse(size, [], { ECHO_RECV_BUFFER_SIZE: "4096" }), Option.some(4096))
      }))
  })

  describe("duration", () => {
    const timeout = Flags.duration("idle-timeout", "Idle time", { default: "300" })

    it.effect("tells its units, default and variable in the help", () =>
      Effect.gen(function*() {
        assert.match(
          yield* help(timeout),
          /--idle-timeout seconds +Idle time, in seconds or as "500 millis" \[default 300, env ECHO_IDLE_TIMEOUT\]$/
        )
      }))

    it.effect("seconds or an Effect duration, from the flag, the variable or the default", () =>
      Effect.gen(function*() {
        assert.strictEqual(Duration.toMillis(yield* parse(timeout, ["--idle-timeout", "0.5"])), 500)
        assert.strictEqual(Duration.toMillis(yield* parse(timeout, [], { ECHO_IDLE_TIMEOUT: "2 minutes" })), 120_000)
        assert.strictEqual(Duration.toMillis(yield* parse(timeout, [])), 300_000)
      }))

    it.effect("negative, infinite or not a duration: a usage error", () =>
      Effect.gen(function*() {
        for (const text of ["-1", "Infinity", "soon"]) {
          assert.strictEqual(yield* rejected(timeout, ["--idle-timeout", text]), "InvalidValue")
        }
        assert.strictEqual(yield* rejected(timeout, [], { ECHO_IDLE_TIMEOUT: "soon" }), "InvalidValue")
      }))
  })

  describe("boolean", () => {
    const stdin = Flags.boolean("stdin", "Read stdin")

    it.effect("tells its default and variable in the help", () =>
      Effect.gen(function*() {
        assert.match(yield* help(stdin), /--stdin +Read stdin \[default false, env ECHO_STDIN\]$/)
      }))

    it.effect("the flag, else the variable, else the default", () =>
      Effect.gen(function*() {
        assert.isTrue(yield* parse(stdin, ["--stdin"]))
        assert.isFalse(yield* parse(stdin, ["--stdin=false"], { ECHO_STDIN: "true" }))
        assert.isTrue(yield* parse(stdin, [], { ECHO_STDIN: "true" }))
        assert.isFalse(yield* parse(stdin, []))
        assert.isTrue(yield* parse(Flags.boolean("no-delay", "Nagle off", { default: true }), []))
      }))

    it.effect("not a boolean in the variable: a usage error", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* rejected(stdin, [], { ECHO_STDIN: "maybe" }), "InvalidValue")
      }))
  })

  describe("string", () => {
    const unix = Flags.string("unix", "A Unix socket", { metavar: "path" })

    it.effect("tells its variable in the help", () =>
      Effect.gen(function*() {
        assert.match(yield* help(unix), /--unix path +A Unix socket \[env ECHO_UNIX\]$/)
      }))

    it.effect("the flag, else the variable, else none", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(
          yield* parse(unix, ["--unix", "/a.sock"], { ECHO_UNIX: "/b.sock" }),
          Option.some("/a.sock")
        )
        assert.deepStrictEqual(yield* parse(unix, [], { ECHO_UNIX: "/b.sock" }), Option.some("/b.sock"))
        assert.isTrue(Option.isNone(yield* parse(unix, [])))
      }))

    it.effect("empty: a usage error", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* rejected(unix, ["--unix", ""]), "InvalidValue")
      }))
  })
})
