// Package unserved owns the contract operations this control plane does not
// serve yet: one table, one row per operation, each answering 501
// `<area>_not_provisioned` and marked in the OpenAPI document, so a client
// generated from the public contract learns "not here yet" instead of 404.
// A capability that lands deletes its rows; a test fails while a row and a
// served operation share a method and path.
package unserved

import (
	"net/http"

	"github.com/plexsphere/plexsphere/internal/route"
)

// Op is one contract operation not served yet.
type Op struct {
	Method string
	// Path is the contract's path, with the contract's parameter names.
	Path        string
	OperationID string
	// Area prefixes the answer's code: Area + "_not_provisioned" (api.md
	// §2.11). Where the contract names a not-provisioned code for the
	// operation, Area is that code's prefix.
	Area string
	// Capability names the missing capability in the answer's detail.
	Capability string
	// Class is the contract's credential class; the caller authenticates
	// before the 501 (a non-public row answers 401 without a credential).
	Class route.Class
}

// Code is the problem code the operation answers with.
func (o Op) Code() string { return o.Area + "_not_provisioned" }

// Table lists every operation of the public contract (plexsphere-sdk-go,
// api/openapi.yaml) that no package registers yet. Remove a row when its
// operation is served.
var Table = []Op{
	{http.MethodGet, "/v1/artifacts/plexd", "ListPlexdArtifacts", "artifacts", "plexd release registry", route.Operator},
	{http.MethodGet, "/v1/artifacts/plexd/{version}", "GetPlexdArtifact", "artifacts", "plexd release registry", route.Operator},
	{http.MethodGet, "/v1/artifacts/plexd/{version}/sigstore", "GetPlexdArtifactSignature", "artifacts", "plexd release registry", route.Operator},
	{http.MethodDelete, "/v1/nodes/{id}/state/reports/{key}", "DeleteNodeStateReport", "reports", "Node state reports", route.Node},
	{http.MethodPut, "/v1/nodes/{id}/state/reports/{key}", "PutNodeStateReport", "reports", "Node state reports", route.Node},
	{http.MethodGet, "/v1/clouds", "ListClouds", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/clouds", "CreateCloud", "cloud", "Cloud inventory", route.Operator},
	{http.MethodDelete, "/v1/clouds/{id}", "DeleteCloud", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/clouds/{id}", "GetCloud", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPatch, "/v1/clouds/{id}", "PatchCloud", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/clouds/{id}/cloud-credentials", "ListCloudCredentials", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/cloud-credentials/{id}", "GetCloudCredential", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/cloud-credentials/{id}/revoke", "RevokeCloudCredential", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/projects/{id}/credential-assignments", "ListCredentialAssignments", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/projects/{id}/credential-assignments", "RequestCredentialAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/credential-assignments/{id}/approve", "ApproveCredentialAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/credential-assignments/{id}/reject", "RejectCredentialAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/credential-assignments/{id}/revoke", "RevokeCredentialAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/approvals", "ListApprovals", "approvals", "Dual-control approvals", route.Operator},
	{http.MethodGet, "/v1/approvals/{id}", "GetApproval", "approvals", "Dual-control approvals", route.Operator},
	{http.MethodPost, "/v1/approvals/{id}/approve", "ApproveApproval", "approvals", "Dual-control approvals", route.Operator},
	{http.MethodPost, "/v1/approvals/{id}/reject", "RejectApproval", "approvals", "Dual-control approvals", route.Operator},
	{http.MethodPost, "/v1/approvals/{id}/break-glass", "BreakGlassApproval", "approvals", "Dual-control approvals", route.Operator},
	{http.MethodGet, "/v1/projects/{id}/credentials", "ListProjectCredentials", "credential_broker", "Credential broker", route.Operator},
	{http.MethodGet, "/v1/credentials/{id}", "GetCredential", "credential_broker", "Credential broker", route.Operator},
	{http.MethodPost, "/v1/credentials/{id}/revoke", "RevokeCredential", "credential_broker", "Credential broker", route.Operator},
	{http.MethodPost, "/v1/credentials/{id}/rotate", "RotateCredential", "credential_broker", "Credential broker", route.Operator},
	{http.MethodGet, "/v1/blueprints", "ListBlueprints", "blueprints", "Blueprint catalogue", route.Operator},
	{http.MethodGet, "/v1/blueprints/{id}", "GetBlueprint", "blueprints", "Blueprint catalogue", route.Operator},
	{http.MethodGet, "/v1/management-clusters", "ListManagementClusters", "management_fleet", "Management fleet", route.Operator},
	{http.MethodPost, "/v1/management-clusters", "RegisterManagementCluster", "management_fleet", "Management fleet", route.Operator},
	{http.MethodGet, "/v1/management-clusters/{id}", "GetManagementCluster", "management_fleet", "Management fleet", route.Operator},
	{http.MethodGet, "/v1/management-clusters/{id}/assignments", "ListManagementClusterAssignments", "management_fleet", "Management fleet", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/management-cluster-assignment", "GetProjectManagementClusterAssignment", "management_fleet", "Management fleet", route.Operator},
	{http.MethodPost, "/v1/projects/{project_id}/management-cluster-assignment/terminate", "TerminateProjectManagementClusterAssignment", "management_fleet", "Management fleet", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/resources/{resource_id}/bridge/user-access", "ListBridgeUserAccessProviders", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodPost, "/v1/projects/{project_id}/resources/{resource_id}/bridge/user-access", "CreateBridgeUserAccessProvider", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodDelete, "/v1/projects/{project_id}/resources/{resource_id}/bridge/user-access/{slug}", "DeleteBridgeUserAccessProvider", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/resources/{resource_id}/bridge/user-access/{slug}", "GetBridgeUserAccessProvider", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodPatch, "/v1/projects/{project_id}/resources/{resource_id}/bridge/user-access/{slug}", "UpdateBridgeUserAccessProvider", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/resources/{resource_id}/bridge/ingress", "ListBridgeIngressRules", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodPost, "/v1/projects/{project_id}/resources/{resource_id}/bridge/ingress", "CreateBridgeIngressRule", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodDelete, "/v1/projects/{project_id}/resources/{resource_id}/bridge/ingress/{slug}", "DeleteBridgeIngressRule", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/resources/{resource_id}/bridge/ingress/{slug}", "GetBridgeIngressRule", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodPatch, "/v1/projects/{project_id}/resources/{resource_id}/bridge/ingress/{slug}", "UpdateBridgeIngressRule", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/resources/{resource_id}/bridge/site-to-site", "ListBridgeSiteToSiteTunnels", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodPost, "/v1/projects/{project_id}/resources/{resource_id}/bridge/site-to-site", "CreateBridgeSiteToSiteTunnel", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodDelete, "/v1/projects/{project_id}/resources/{resource_id}/bridge/site-to-site/{slug}", "DeleteBridgeSiteToSiteTunnel", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodGet, "/v1/projects/{project_id}/resources/{resource_id}/bridge/site-to-site/{slug}", "GetBridgeSiteToSiteTunnel", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodPatch, "/v1/projects/{project_id}/resources/{resource_id}/bridge/site-to-site/{slug}", "UpdateBridgeSiteToSiteTunnel", "bridge", "Bridge orchestration", route.Operator},
	{http.MethodGet, "/v1/blueprint-catalogs/{id}/blueprints", "BrowseCatalogSource", "blueprint_catalog", "Blueprint catalog sources", route.Operator},
	{http.MethodDelete, "/v1/blueprint-catalogs/{id}", "DeregisterCatalogSource", "blueprint_catalog", "Blueprint catalog sources", route.Operator},
	{http.MethodGet, "/v1/blueprint-catalogs/{id}", "GetCatalogSource", "blueprint_catalog", "Blueprint catalog sources", route.Operator},
	{http.MethodPost, "/v1/blueprint-catalogs/{id}/import", "ImportFromCatalogSource", "blueprint_catalog", "Blueprint catalog sources", route.Operator},
	{http.MethodGet, "/v1/blueprint-catalogs", "ListCatalogSources", "blueprint_catalog", "Blueprint catalog sources", route.Operator},
	{http.MethodPost, "/v1/blueprint-catalogs", "RegisterCatalogSource", "blueprint_catalog", "Blueprint catalog sources", route.Operator},
	{http.MethodPost, "/v1/domains/{id}/sinks", "CreateSink", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPost, "/v1/projects/{id}/telemetry-routes", "CreateTelemetryRoute", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodDelete, "/v1/sinks/{id}", "DeleteSink", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodDelete, "/v1/telemetry-routes/{id}", "DeleteTelemetryRoute", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodGet, "/v1/sinks/{id}", "GetSink", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodGet, "/v1/telemetry-routes/{id}", "GetTelemetryRoute", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPost, "/v1/sinks/{id}/sink-enablements", "GrantSinkEnablement", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodGet, "/v1/sinks/built-in", "ListBuiltInSinks", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodGet, "/v1/domains/{id}/sinks", "ListDomainSinks", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodGet, "/v1/projects/{id}/sink-enablements", "ListSinkEnablements", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodGet, "/v1/projects/{id}/telemetry-routes", "ListTelemetryRoutes", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPost, "/v1/projects/{id}/sink-enablements", "RequestSinkEnablement", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPost, "/v1/sink-enablements/{id}/revoke", "RevokeSinkEnablement", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPut, "/v1/sinks/{id}", "UpdateSink", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPut, "/v1/telemetry-routes/{id}", "UpdateTelemetryRoute", "sinks", "Telemetry sinks", route.Operator},
	{http.MethodPost, "/v1/blueprints", "RegisterBlueprint", "blueprints", "Blueprint catalogue", route.Operator},
	{http.MethodPost, "/v1/blueprints/{id}/versions", "PublishBlueprintVersion", "blueprints", "Blueprint catalogue", route.Operator},
	{http.MethodGet, "/v1/platform/backup/catalog", "GetBackupCatalog", "backup", "Backup catalog", route.Operator},
	{http.MethodGet, "/v1/platform/backup/restore-plan", "GetBackupRestorePlan", "backup", "Backup catalog", route.Operator},
	{http.MethodGet, "/v1/domains/{domain_id}/capacity", "GetDomainCapacity", "capacity", "Capacity snapshots", route.Operator},
	{http.MethodDelete, "/v1/domains/{domain_id}/managed-push", "DeleteManagedPush", "managed_push", "Managed hook push", route.Operator},
	{http.MethodGet, "/v1/domains/{domain_id}/managed-push/hooks/{push_id}", "GetManagedHookPush", "managed_push", "Managed hook push", route.Operator},
	{http.MethodGet, "/v1/domains/{domain_id}/managed-push", "GetManagedPush", "managed_push", "Managed hook push", route.Operator},
	{http.MethodPost, "/v1/domains/{domain_id}/managed-push/hooks", "PushManagedHook", "managed_push", "Managed hook push", route.Operator},
	{http.MethodPut, "/v1/domains/{domain_id}/managed-push", "PutManagedPush", "managed_push", "Managed hook push", route.Operator},
	{http.MethodPost, "/v1/domains/{domain_id}/managed-push/hooks/{push_id}/rollback", "RollbackManagedHookPush", "managed_push", "Managed hook push", route.Operator},
	{http.MethodGet, "/v1/projects/{id}/blueprints", "ListProjectBlueprints", "blueprints", "Blueprint catalogue", route.Operator},
	{http.MethodPost, "/v1/cloud-assignments/{id}/approve", "ApproveCloudAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/cloud-credentials/{id}/clouds", "AttachCloudCredentialCloud", "cloud", "Cloud inventory", route.Operator},
	{http.MethodDelete, "/v1/cloud-credentials/{id}/clouds/{cloudId}", "DetachCloudCredentialCloud", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/clouds/{id}/cloud-assignments", "GrantCloudAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/clouds/{id}/cloud-credentials", "IssueCloudCredential", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/projects/{id}/cloud-assignments", "ListCloudAssignments", "cloud", "Cloud inventory", route.Operator},
	{http.MethodGet, "/v1/cloud-credentials/{id}/clouds", "ListCloudCredentialClouds", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/cloud-assignments/{id}/reject", "RejectCloudAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/projects/{id}/cloud-assignments", "RequestCloudAssignment", "cloud", "Cloud inventory", route.Operator},
	{http.MethodPost, "/v1/cloud-assignments/{id}/revoke", "RevokeCloudAssignment", "cloud", "Cloud inventory", route.Operator},
}
