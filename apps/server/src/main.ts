#!/usr/bin/env -S node --scavenger-max-new-space-capacity-mb=4
/**
 * The echo server's entry point: the `echo-server` command once installed,
 * `pnpm start` in the repository, or `node apps/server/src/main.ts`.
 *
 * The first line starts it with `Heap.nodeFlags` when it runs as a command
 * (packages/runtime's Heap test keeps the two the same): npm links the
 * `echo-server` command to the built `dist/main.js`, and `env -S` passes the
 * flags to node, so no user has to.
 *
 * @since 0.1.0
 */
import { Main } from "@effect-tcp/runtime"
import * as Cli from "./Cli.ts"

Main.run(Cli.command, { name: Cli.name, version: Cli.version, signalExitCode: 0 })
