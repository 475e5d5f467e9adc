// Package relay is the bridge's UDP relay (docs/design/0005-mesh.md,
// "Relay wire"; node-protocol.md §12.6): it forwards WireGuard ciphertext
// between the two sides of each relay session the control plane assigns,
// and answers STUN Binding requests on the same port.
//
// A level-2 side proves itself with a relaywire bind (session id and its
// side's token); the relay answers with an ack and from then on forwards
// the side's data datagrams to the other side's last authenticated source,
// so a NAT that picks a new source port (symmetric NAT, rebinding) is
// followed by the next bind. A level-1 side, which has no node-side relay
// logic, sends raw WireGuard from the exact endpoint the control plane
// named in the session; the relay forwards that raw. The relay never
// decrypts and never answers anything it cannot authenticate except STUN.
//
// Server is the packet core (session table, forwarding, limits and
// counters); Manager runs it on the port the bridge's desired state names
// and starts, stops and re-binds it as that state changes.
package relay
