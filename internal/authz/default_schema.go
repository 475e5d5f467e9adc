package authz

import "fmt"

// principals are the subjects a role can be granted to.
var principals = []SubjectType{
	{Type: TypeUser},
	{Type: TypeServiceIdentity},
	{Type: TypeGroup, Relation: "member"},
}

// DefaultSchema returns plexsphere's ReBAC schema (api.md §3.3). Roles are
// assignable relations whose rewrite also admits the matching role of the
// parent, so grants flow platform → domain → project → resource/node/…:
//
//	user, service_identity   subjects only
//	group      member: user | service_identity | group#member (nesting; cycles are harmless)
//	platform   (singleton: "platform", id "platform")
//	           admin, viewer: principals
//	           auditor: principals + admin
//	           manage = admin; read = viewer + auditor + manage; assign = manage
//	domain     platform: platform (parent)
//	           admin: principals + platform->manage
//	           member: principals + admin; viewer: principals + member
//	           auditor: principals + admin + platform->auditor
//	           emergency_approver: principals
//	           read = viewer + auditor; manage = admin; approve = admin + emergency_approver
//	           domain-view = read; domain-edit = member; assign = admin; maintainer = admin
//	project    domain: domain (parent)
//	           admin: principals + domain->admin
//	           operator: principals + admin; viewer: principals + operator
//	           read = viewer + domain->auditor; observe = read; manage = admin
//	           deploy = operator; dispatch = operator; assign = operator; maintainer = operator
//	           secret-reveal = admin
//	resource   project: project (parent)
//	           admin: principals + project->admin
//	           operator: principals + admin + project->operator
//	           viewer: principals + operator + project->viewer
//	           observe = viewer + project->observe; read = observe
//	           manage = admin; connect = operator; maintainer = operator
//	node       project: project (parent); resource: resource (the Resource it is bound to)
//	           agent: node (the node itself, for NSK-authenticated calls)
//	           operator: principals + project->operator + resource->operator
//	           viewer: principals + operator + project->viewer + resource->viewer
//	           read = viewer + project->read + resource->observe; observe = read
//	           manage = project->manage + resource->manage
//	           node-agent = agent + operator; node-operate = operator
//	           connect = operator + resource->connect; maintainer = operator
//	policy, secret, session, execution
//	           project: project (parent)
//	           owner, editor, viewer: principals
//	           manage = owner + project->M; edit = editor + manage; read = viewer + edit + project->R
//	           with (M, R) = policy (operator, read), secret (manage, operator),
//	           session (operator, observe), execution (operator, observe)
//
// Domain member and viewer are domain-scoped: they do not reach the domain's
// projects (least privilege); domain admins and auditors do. The platform
// viewer does not reach domains either, so platform#read can be granted
// broadly (e.g. to read plexd artifacts). The first platform manager (api.md
// §2.4) is the tuple platform#admin@user:<id>, as identity's bootstrap seeds it.
func DefaultSchema() *Schema {
	s, err := NewSchema(defaultTypes()...)
	if err != nil {
		panic(fmt.Sprintf("authz: the default schema is invalid: %v", err))
	}
	return s
}

// role is an assignable relation that also admits whatever inherit admits.
func role(name string, inherit ...Expr) RelationDef {
	if len(inherit) == 0 {
		return RelationDef{Name: name, Subjects: principals}
	}
	return RelationDef{Name: name, Subjects: principals, Rewrite: Union(append([]Expr{This()}, inherit...)...)}
}

// parent is a plain relation to objects of typ.
func parent(name, typ string) RelationDef {
	return RelationDef{Name: name, Subjects: []SubjectType{{Type: typ}}}
}

// perm is a computed relation.
func perm(name string, x Expr) RelationDef { return RelationDef{Name: name, Rewrite: x} }

func defaultTypes() []TypeDef {
	return []TypeDef{
		{Name: TypeUser},
		{Name: TypeServiceIdentity},
		{Name: TypeGroup, Relations: []RelationDef{role("member")}},
		{Name: TypePlatform, SingletonID: PlatformID, Relations: []RelationDef{
			role("admin"),
			role("viewer"),
			role("auditor", Rel("admin")),
			perm("manage", Rel("admin")),
			perm("read", Union(Rel("viewer"), Rel("auditor"), Rel("manage"))),
			perm("assign", Rel("manage")),
		}},
		domainType(),
		projectType(),
		resourceType(),
		nodeType(),
		projectChildType(TypePolicy, "operator", "read"),
		projectChildType(TypeSecret, "manage", "operator"),
		projectChildType(TypeSession, "operator", "observe"),
		projectChildType(TypeExecution, "operator", "observe"),
	}
}

func domainType() TypeDef {
	return TypeDef{Name: TypeDomain, Relations: []RelationDef{
		parent("platform", TypePlatform),
		role("admin", Arrow("platform", "manage")),
		role("member", Rel("admin")),
		role("viewer", Rel("member")),
		role("auditor", Rel("admin"), Arrow("platform", "auditor")),
		role("emergency_approver"),
		perm("read", Union(Rel("viewer"), Rel("auditor"))),
		perm("manage", Rel("admin")),
		perm("approve", Union(Rel("admin"), Rel("emergency_approver"))),
		perm("domain-view", Rel("read")),
		perm("domain-edit", Rel("member")),
		perm("assign", Rel("admin")),
		perm("maintainer", Rel("admin")),
	}}
}

func projectType() TypeDef {
	return TypeDef{Name: TypeProject, Relations: []RelationDef{
		parent("domain", TypeDomain),
		role("admin", Arrow("domain", "admin")),
		role("operator", Rel("admin")),
		role("viewer", Rel("operator")),
		perm("read", Union(Rel("viewer"), Arrow("domain", "auditor"))),
		perm("observe", Rel("read")),
		perm("manage", Rel("admin")),
		perm("deploy", Rel("operator")),
		perm("dispatch", Rel("operator")),
		perm("assign", Rel("operator")),
		perm("maintainer", Rel("operator")),
		// Reading a secret value back: its own permission (docs/secrets.md).
		perm("secret-reveal", Rel("admin")),
	}}
}

func resourceType() TypeDef {
	return TypeDef{Name: TypeResource, Relations: []RelationDef{
		parent("project", TypeProject),
		role("admin", Arrow("project", "admin")),
		role("operator", Rel("admin"), Arrow("project", "operator")),
		role("viewer", Rel("operator"), Arrow("project", "viewer")),
		perm("observe", Union(Rel("viewer"), Arrow("project", "observe"))),
		perm("read", Rel("observe")),
		perm("manage", Rel("admin")),
		perm("connect", Rel("operator")),
		perm("maintainer", Rel("operator")),
	}}
}

func nodeType() TypeDef {
	return TypeDef{Name: TypeNode, Relations: []RelationDef{
		parent("project", TypeProject),
		parent("resource", TypeResource),
		{Name: "agent", Subjects: []SubjectType{{Type: TypeNode}}},
		role("operator", Arrow("project", "operator"), Arrow("resource", "operator")),
		role("viewer", Rel("operator"), Arrow("project", "viewer"), Arrow("resource", "viewer")),
		perm("read", Union(Rel("viewer"), Arrow("project", "read"), Arrow("resource", "observe"))),
		perm("observe", Rel("read")),
		perm("manage", Union(Arrow("project", "manage"), Arrow("resource", "manage"))),
		perm("node-agent", Union(Rel("agent"), Rel("operator"))),
		perm("node-operate", Rel("operator")),
		perm("connect", Union(Rel("operator"), Arrow("resource", "connect"))),
		perm("maintainer", Rel("operator")),
	}}
}

// projectChildType declares an object owned by a project. manageVia and
// readVia name the project relations that grant manage and read on it.
func projectChildType(name, manageVia, readVia string) TypeDef {
	return TypeDef{Name: name, Relations: []RelationDef{
		parent("project", TypeProject),
		role("owner"),
		role("editor"),
		role("viewer"),
		perm("manage", Union(Rel("owner"), Arrow("project", manageVia))),
		perm("edit", Union(Rel("editor"), Rel("manage"))),
		perm("read", Union(Rel("viewer"), Rel("edit"), Arrow("project", readVia))),
	}}
}
