// The README shows these files verbatim: a change to one that is not made in the README too fails here.
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")

const readme = read("../../../README.md")
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1])

describe("README", () => {
  it.each(["../examples/hello.ts", "../examples/echo-server.ts", "./readme-example.test.ts"])(
    "shows %s as it is",
    (path) => {
      assert.include(blocks, read(path))
    }
  )
})
