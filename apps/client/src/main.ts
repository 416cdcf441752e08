#!/usr/bin/env -S node --scavenger-max-new-space-capacity-mb=4
// The echo client: the `echo-client` command once installed, `pnpm client` in the repository, or
// `node apps/client/src/main.ts [echo] [message] [flags]` / `... bench [flags]`.
// The first line starts it with `Heap.nodeFlags` when it runs as a command (packages/runtime's Heap
// test keeps the two the same), so no user has to pass them.
import { Main } from "@effect-tcp/runtime"
import { readFileSync } from "node:fs"
import { command } from "./Cli.ts"

Main.run(command, {
  name: "echo-client",
  // the package's own (beside src/ and dist/ alike), so that --version follows a release's bump
  version: JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version,
  signalExitCode: 130,
  // the client's own failure, beside the shared codes (documented in the README)
  exitCodes: { EchoMismatchError: 7 }
})
