// The in-memory implementation of the Tcp service (issue 4).
import { Effect } from "effect"
import type { Scope } from "effect"
import type { FakeNetwork } from "../FakeNetwork.ts"
import type { Tcp } from "../Tcp.ts"

export const make: Effect.Effect<
  { readonly tcp: Tcp["Service"]; readonly network: FakeNetwork["Service"] },
  never,
  Scope.Scope
> = Effect.die("not implemented yet")
