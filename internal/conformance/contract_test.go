package conformance

// The contract's response schemas, mirrored by hand from the public OpenAPI
// document (plexsphere/plexsphere-sdk-go, api/openapi.yaml): names, required
// properties, types and enums only. A field the contract marks optional is
// opt; one it marks required is req; orNull marks a required property the
// contract allows to be null.

// Problem is application/problem+json; code is optional in the contract but
// we always send it, and the suite compares it.
var problemSchema = object(req("type", str), req("title", str), req("status", integer),
	req("detail", str), req("instance", str), opt("code", str))

// PermissionDenied is the 403 problem: a Problem plus the denial's reason
// and correlation id.
var permissionDenied = object(req("type", str), req("title", str), req("status", integer), req("detail", str),
	req("instance", str), opt("code", str),
	req("reason", enum("out_of_scope", "insufficient_relation", "caveat_violation")),
	opt("relation_path", arrayOf(str)), req("correlation_id", str))

// Meta.
var (
	healthCheck  = object(req("name", str), req("status", str), req("detail", str))
	healthStatus = object(req("status", enum("ok", "degraded", "down")), req("checks", arrayOf(healthCheck)))
	versionInfo  = object(req("version", str), req("commit", str), req("date", dateTime))
)

// Tenancy.
var (
	reachabilityPolicy = object(req("heartbeat_interval", str), req("stale_after", str), req("unreachable_after", str))
	domainResponse     = object(req("id", str), req("name", str), req("slug", str), opt("description", str),
		opt("region", str), req("mesh_cidr", str), req("reachability", reachabilityPolicy),
		req("created_at", dateTime), req("updated_at", dateTime))
	domainList      = object(req("items", arrayOf(domainResponse)), opt("next_cursor", str), opt("empty_reason", str))
	projectResponse = object(req("id", str), req("domain_id", str), req("name", str), req("slug", str),
		opt("description", str), opt("sub_range_cidr", str), req("created_at", dateTime), req("updated_at", dateTime))
	projectList = object(req("items", arrayOf(projectResponse)), opt("next_cursor", str), opt("empty_reason", str))
	// resourceResponse: provisioning is present only on provisioned ones.
	resourceResponse = object(req("id", str), req("project_id", str), req("domain_id", str), req("kind", str),
		opt("external_ref", str), req("origin", enum("adopted", "provisioned")),
		req("created_at", dateTime), req("updated_at", dateTime), opt("provisioning", anyObject))
	resourceList = object(req("items", arrayOf(resourceResponse)), opt("next_cursor", str))
)

// Labels.
var (
	labelValueSchema = object(req("kind", enum("string", "enum", "numeric", "boolean", "regex")),
		opt("max_len", integer), opt("values", arrayOf(str)), opt("min", integer), opt("max", integer), opt("pattern", str))
	labelDefinition = object(req("id", str), req("scope", enum("platform", "domain", "project")), req("scope_id", str),
		req("local_key", str), req("qualified_key", str), req("value_schema", labelValueSchema),
		req("applicable_kinds", arrayOf(str)), req("on_delete", enum("block", "cascade", "orphan")),
		req("cardinality", integer), req("immutable", boolean), req("cloud_tag_propagation", boolean),
		opt("description", str), req("created_by", enum("user", "system")),
		req("created_at", dateTime), req("updated_at", dateTime))
	labelDefinitionList = object(req("items", arrayOf(labelDefinition)), opt("next_cursor", str))
	labelAssignment     = object(req("definition_id", str), req("qualified_key", str), req("object_kind", str),
		req("object_id", str), req("value", orNull(anyValue)), req("assigned_by", str), req("assigned_at", dateTime))
	labelAssignmentList = object(req("items", arrayOf(labelAssignment)))
	selectorPreview     = object(opt("ast", anyObject), opt("errors", arrayOf(anyObject)))
)

// Bootstrap tokens and registration.
var (
	bootstrapTokenIssued = object(req("token_id", str), req("token", str), req("issued_at", dateTime),
		req("expires_at", dateTime))
	bootstrapTokenMetadata = object(req("id", str), req("project_id", str), req("kind", enum("node", "bridge")),
		req("env_prefix", str), req("issued_at", dateTime), req("expires_at", dateTime),
		opt("consumed_at", dateTime), opt("revoked_at", dateTime), req("issued_by_user_id", str))
	bootstrapTokenList = object(req("items", arrayOf(bootstrapTokenMetadata)), opt("next_cursor", str))
	registerResponse   = object(req("node_id", str), req("mesh_ip", str), req("signing_public_key", str),
		req("signing_key_id", str), req("nsk", str), req("peer_snapshot", arrayOf(anyObject)),
		req("domain_mesh_cidr", str))
)

// Nodes and the node plane.
var (
	nodeSummary  = object(req("id", str), opt("name", str), req("domain_id", str), opt("kind", str), req("created_at", dateTime))
	nodeList     = object(req("items", arrayOf(nodeSummary)), opt("next_cursor", str))
	reachability = object(req("state", enum("healthy", "stale", "unreachable")), opt("last_heartbeat_at", dateTime),
		req("changed_at", dateTime))
	nodeStatePeer = object(req("node_id", str), req("mesh_ip", str), req("public_key", str), opt("fallback_endpoint", str))
	stateBuckets  = object(req("metadata", arrayOf(anyObject)), req("data", arrayOf(anyObject)), req("reports", arrayOf(anyObject)))
	// nodeStateSnapshot: policy, bridge, state and reports are always
	// present and may be null.
	nodeStateSnapshot = object(req("peers", arrayOf(nodeStatePeer)), req("executions", arrayOf(anyObject)),
		req("sessions", arrayOf(anyObject)), req("reachability", reachability),
		req("policy", orNull(anyObject)), req("bridge", orNull(anyObject)),
		req("state", orNull(stateBuckets)), req("reports", orNull(stateBuckets)))
	ingestReceipt      = object(req("accepted_at", dateTime), req("records", integer))
	capabilityManifest = object(req("accepted_at", dateTime), req("fields_changed", arrayOf(str)),
		req("host_key_changed", boolean))
	heartbeatResponse = object(req("accepted_at", dateTime), req("reconcile", boolean), req("rotate_keys", boolean))
)

// Mesh key rotation.
var (
	rotationTrigger    = object(req("rotation_id", str), req("peer_id", str), req("already_pending", boolean))
	rotationImpactEdge = object(req("peer_node_id", str), req("current_kid", str), req("current_wrap_key_version", integer))
	rotationPreview    = object(req("node_id", str), req("peer_id", str), req("affected_peer_count", integer),
		req("affected_edges", arrayOf(rotationImpactEdge)), req("already_pending", boolean),
		req("estimated_duration_seconds", integer))
	keysRotateResponse = object(req("rotation_id", str), req("kid", str), req("wrap_key_version", integer))
)

// Identity: API tokens, whoami, IdP bindings.
var (
	apiTokenSummary = object(req("id", str), req("env_prefix", str), opt("last_used_at", dateTime),
		req("created_at", dateTime), req("expires_at", dateTime), opt("rotated_at", dateTime))
	apiTokenIssued = object(req("id", str), req("plaintext", str), req("env_prefix", str), req("expires_at", dateTime))
	apiTokenRotate = object(req("id", str), req("plaintext", str), req("env_prefix", str), req("expires_at", dateTime),
		req("rotation_deadline", dateTime))
	deviceCode = object(req("device_code", str), req("user_code", str), req("verification_uri", str),
		req("verification_uri_complete", str), req("expires_in", integer), req("interval", integer))
	serviceToken = object(req("access_token", str), req("token_type", str), req("expires_in", integer), opt("scope", str))
	whoami       = object(req("principal_type", enum("user", "service")), req("subject", str), opt("domain_id", str),
		opt("email", str), opt("acr", str), opt("amr", arrayOf(str)))
	idpBinding = object(req("id", str), req("domain_id", str), req("issuer", str), req("client_id", str),
		req("client_secret_ref", str), req("discovery_url", str), opt("claim_mappings", mapOf(str)),
		opt("required_acr", arrayOf(str)), opt("required_amr", arrayOf(str)),
		req("jit_policy", enum("allow", "deny")), req("status", enum("active", "inactive", "degraded", "deactivated")),
		req("created_at", dateTime), req("updated_at", dateTime))
)

// Authorization and audit.
var (
	auditReason   = enum("granted", "out_of_scope", "insufficient_relation", "caveat_violation", "unknown")
	rebacDecision = object(req("decision", enum("allowed", "denied")), opt("relation_path", arrayOf(str)),
		opt("reason", auditReason), req("correlation_id", str))
	rebacLookup   = object(req("items", arrayOf(str)), req("correlation_id", str))
	relationTuple = object(req("id", str), req("subject", str), req("relation", str), req("resource", str),
		opt("caveat_context", anyObject), req("created_at", dateTime))
	relationTupleList = object(req("items", arrayOf(relationTuple)), opt("next_cursor", str))
	auditEntry        = object(req("seq", integer), req("domain_id", str), req("occurred_at", dateTime),
		req("reason", auditReason),
		req("subject", object(req("pseudonym", str), opt("identity_id_ref", str))),
		req("relation", str),
		req("object", object(req("type", str), req("id", str))),
		req("decision", object(req("result", auditReason), req("caveat_context", mapOf(arrayOf(str))))),
		req("correlation_id", str),
		req("request_context", object(opt("ip", str), opt("user_agent", str))),
		req("entry_hash", str), req("prev_hash", str), opt("archive_etag", str), opt("archived_at", dateTime))
	auditEntryList  = object(req("entries", arrayOf(auditEntry)), opt("next_cursor", str))
	auditEntryProof = object(req("entry", auditEntry),
		req("proof", object(req("prev_hash", str), req("entry_hash", str), req("canonical_bytes", str))))
	auditVerifyResult = object(req("ok", boolean), opt("divergent_seq", integer), opt("expected_hash", str),
		opt("observed_hash", str), req("segment_from", integer), req("segment_to", integer))
)
