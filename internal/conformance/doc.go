// Package conformance holds the contract conformance suite: hand-written
// mirrors of the public contract's response schemas (required fields, types,
// enums; the contract is the OpenAPI document of plexsphere/plexsphere-sdk-go)
// and a test that drives the whole control plane on SQLite and PostgreSQL and
// decodes every answer of every operation we share with the contract in
// strict mode, the way a client generated from the contract would. Extra
// fields are allowed (they are our additions); a missing required field, an
// enum value outside the contract's set, a wrapped list where the contract
// has a bare array, or a status or problem code the contract does not give
// fails. The package has no non-test code.
package conformance
