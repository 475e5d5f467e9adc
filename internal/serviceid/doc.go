// Package serviceid owns service identities: the machine principals of a
// Domain that CI jobs and workloads authenticate as (api.md §4.2). It keeps
// the service_identities table (their identities row has kind
// service_identity), serves their CRUD, and runs POST /v1/auth/service/token:
// plexsphere stores no client secret; the bound IdP verifies the client's
// credentials and plexsphere then issues its own short-lived bearer token
// (through internal/oauth). Deleting or disabling an identity revokes its
// tokens; deleting it also removes its relation tuples and the identity.
package serviceid
