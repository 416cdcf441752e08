// The contract suite, run against the Node layer (on loopback) and the fake network.
import * as Tcp from "../src/Tcp.ts"
import { contract } from "./contract.ts"

contract("Node (loopback)", Tcp.layer)
contract("fake network", Tcp.layerTest)
