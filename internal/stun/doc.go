// Package stun is plexsphere's small STUN (RFC 5389) surface: a Binding
// responder that answers with the requester's XOR-MAPPED-ADDRESS, and the
// client half (build a Binding request, read the mapped address from the
// answer) that plexd drives through its own WireGuard socket.
//
// Message encoding and decoding are github.com/pion/stun/v3's; this package
// bounds what it hands to the decoder (size, header shape) and accepts only
// Binding requests and Binding success responses. It is linked by both the
// control plane and plexd, so it depends on nothing else in the module.
package stun
