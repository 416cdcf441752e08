/**
 * The echo server's entry point: `pnpm start`, or `node apps/server/src/main.ts`.
 *
 * @since 0.1.0
 */
import { Main } from "@effect-tcp/runtime"
import * as Cli from "./Cli.ts"

Main.run(Cli.command, { name: Cli.name, version: Cli.version, signalExitCode: 0 })
