// The echo client: `node apps/client/src/main.ts [echo] [message] [flags]` or `... bench [flags]`.
import { Main } from "@effect-tcp/runtime"
import { command } from "./Cli.ts"

Main.run(command, {
  name: "echo-client",
  version: "0.1.0",
  signalExitCode: 130,
  // the client's own failure, beside the shared codes (documented in the README)
  exitCodes: { EchoMismatchError: 7 }
})
