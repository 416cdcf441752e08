// The READMEs (the repository's and the package's, which npm shows) show these files verbatim: a change to
// one that is not made in both READMEs too fails here.
import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")

const blocksOf = (path: string) => [...read(path).matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1])

it("the package's README shows ../examples/rpc.ts as it is", () => {
  assert.include(blocksOf("../README.md"), read("../examples/rpc.ts"))
})

describe.each(["../../../README.md", "../README.md"])("README %s", (readme) => {
  const blocks = blocksOf(readme)
  it.each(["../examples/hello.ts", "../examples/echo-server.ts", "./readme-example.test.ts"])(
    "shows %s as it is",
    (path) => {
      assert.include(blocks, read(path))
    }
  )
})

it("the package README shows examples/frames.ts as it is", () => {
  assert.include(blocksOf("../README.md"), read("../examples/frames.ts"))
})

it("the package README shows examples/unix.ts as it is", () => {
  assert.include(blocksOf("../README.md"), read("../examples/unix.ts"))
})

it("the package README's PROXY protocol section shows examples/proxy-protocol.ts as it is", () => {
  assert.include(blocksOf("../README.md"), read("../examples/proxy-protocol.ts"))
})

it("the package README shows examples/dead-peers.ts as it is", () => {
  assert.include(blocksOf("../README.md"), read("../examples/dead-peers.ts"))
})

it.each(["../examples/tls-server.ts", "../examples/tls-client.ts", "../examples/starttls.ts"])(
  "the package README's TLS section shows %s as it is",
  (path) => {
    assert.include(blocksOf("../README.md"), read(path))
  }
)
