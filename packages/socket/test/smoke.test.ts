import { assert, it } from "@effect/vitest"
import { placeholder } from "../src/index.ts"
it("smoke", () => assert.strictEqual(placeholder, 1))
