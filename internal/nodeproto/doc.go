// Package nodeproto owns the wire contract between plexd and the control
// plane (spec/node-protocol.md): the protocol level and its change list, the
// header names, the JSON bodies of every node-facing endpoint and event
// payload, the problem body, and the format rules the spec defines for keys,
// tokens, identifiers, endpoints and times.
//
// It is imported by both the control plane and plexd, so it depends on the
// standard library only and holds no behaviour beyond encoding and
// validation. JSON member names are fixed by the spec; tests pin them
// against hand-written JSON taken from the spec text. Types follow the
// level-1 shapes exactly (§1.4 X1): higher levels only add optional members.
//
// Validate methods check what the control plane MUST guarantee before it
// serves a document (§2.5, §9.3). Decoding stays lenient (J4): on agent
// input they serve only to drop invalid batch elements (R6) or to answer
// 400 where the spec says so, never to refuse a body the spec accepts.
package nodeproto
