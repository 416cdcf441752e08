// The long run's setup: a directory for each file's results, and on teardown
// RELIABILITY.md at the repository's root, written from all of them (always
// with RELIABILITY=full, else only with RELIABILITY_REPORT=1); the rows of the
// areas a run did not cover are kept from the file as it was.
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"
import type { Result } from "./report.ts"
import { markdown } from "./report.ts"
import { full, scale } from "./scale.ts"

const target = fileURLToPath(new URL("../../../../RELIABILITY.md", import.meta.url))

const order = ["faults", "load", "overload", "shutdown", "input", "security", "haproxy"]

export default function setup(project: TestProject) {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "reliability-"))
  project.provide("reliabilityResults", dir)
  const started = Date.now()
  return () => {
    try {
      const write = full || process.env.RELIABILITY_REPORT === "1"
      const files = Fs.readdirSync(dir).filter((file) => file.endsWith(".json"))
        .toSorted((a, b) => order.indexOf(a.replace(/\.json$/, "")) - order.indexOf(b.replace(/\.json$/, "")))
      const results = files.flatMap((file) =>
        JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8")) as Array<Result>
      )
      if (!write || results.length === 0) return
      const meta = {
        run: `${full ? "long (RELIABILITY=full)" : "quick"}, ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
        figures: Object.entries(scale).map(([key, value]) => `${key} ${value}`).join(", "),
        machine: `${Os.cpus().length} cores, ${
          (Os.totalmem() / 2 ** 30).toFixed(0)
        } GiB, Node ${process.version}, ${Os.type()} ${Os.release()}`
      }
      // a run of some files only (`pnpm test:reliability test/haproxy.test.ts`) keeps the other rows
      const previous = Fs.existsSync(target) ? Fs.readFileSync(target, "utf8") : ""
      Fs.writeFileSync(target, markdown(results, meta, previous))
      // in the repository's own format, so that `pnpm lint` (dprint check) accepts it
      spawnSync("pnpm", ["exec", "dprint", "fmt", target], { cwd: Path.dirname(target), stdio: "ignore" })
      process.stdout.write(`\nreliability: ${results.length} scenarios written to ${target}\n`)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
