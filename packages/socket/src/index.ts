/**
 * TCP connections as Effect Streams and Scopes, with typed OS errors and fake sockets.
 *
 * @since 0.1.0
 */
export * as Address from "./Address.ts"
export * as Connection from "./Connection.ts"
export * as EffectSocket from "./EffectSocket.ts"
export * as FakeNetwork from "./FakeNetwork.ts"
export * as Framing from "./Framing.ts"
export * as OSError from "./OSError.ts"
export * as ProxyProtocol from "./ProxyProtocol.ts"
export * as Reader from "./Reader.ts"
export * as SocketOptions from "./SocketOptions.ts"
export * as StreamError from "./StreamError.ts"
export * as Tcp from "./Tcp.ts"
export * as Tls from "./Tls.ts"
