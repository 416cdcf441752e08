/**
 * V8 heap settings for programs that move socket buffers.
 *
 * Every read hands Node a fresh buffer whose bytes live outside the JS heap.
 * V8 frees young buffers with a cheap scavenge once they add up to twice its
 * largest semi-space, 128 MB by default on 64-bit Node; but past 64 MB of such
 * memory it first starts a full mark-compact. A busy echo server hit that one
 * every ~100 ms, each walking the whole heap (Effect's modules included): at
 * 10 KiB messages it cost ~25 % more CPU a request than plain `node:net`.
 * With the new space's capacity at 4 MB the threshold is 16 MB, scavenges free
 * the buffers first, and mark-compacts under load are gone (measured: at
 * 10 KiB 15 -> 12.4 us a request, at 100 KiB 103 -> 61; node:net 11-13 and 65).
 *
 * `--scavenger-max-new-space-capacity-mb` is a V8 flag, not a Node option:
 * set at startup (`pnpm start` does) it also caps the new space, which keeps
 * a server holding many idle connections smaller; set from inside the program
 * (`tuneForSockets`, as `Main.run` does) it still moves the threshold, since V8
 * reads it at every buffer allocation.
 *
 * @since 0.1.0
 */
import * as V8 from "node:v8"

/**
 * The node flags to start a socket program with.
 *
 * @since 0.1.0
 * @category flags
 */
export const nodeFlags: ReadonlyArray<string> = ["--scavenger-max-new-space-capacity-mb=4"]

/**
 * Applies `nodeFlags` to the running process (what can still change once it runs).
 *
 * @since 0.1.0
 * @category tuning
 */
export const tuneForSockets = (): void => {
  for (const flag of nodeFlags) V8.setFlagsFromString(flag)
}
