package enroll

import (
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/tuples"
)

// nodeTuples are a node's structural tuples: its project, its Resource, and
// itself as agent (for NSK-authenticated node-agent checks).
func nodeTuples(n NodeRef, resourceID string) []tuples.Row {
	node := authz.ObjectRef{Type: authz.TypeNode, ID: n.ID}
	return []tuples.Row{
		structural(node, "project", authz.ObjectRef{Type: authz.TypeProject, ID: n.ProjectID}, n),
		structural(node, "resource", authz.ObjectRef{Type: authz.TypeResource, ID: resourceID}, n),
		structural(node, "agent", node, n),
	}
}

// resourceTuples link a Resource that registration created to its Project,
// as tenancy does for Resources it creates.
func resourceTuples(resourceID string, n NodeRef) []tuples.Row {
	return []tuples.Row{structural(authz.ObjectRef{Type: authz.TypeResource, ID: resourceID}, "project",
		authz.ObjectRef{Type: authz.TypeProject, ID: n.ProjectID}, n)}
}

func structural(res authz.ObjectRef, rel string, sub authz.ObjectRef, n NodeRef) tuples.Row {
	return tuples.Row{Tuple: authz.Tuple{Resource: res, Relation: rel, Subject: authz.SubjectRef{Object: sub}},
		DomainID: n.DomainID, ProjectID: n.ProjectID, Structural: true}
}

func tuplesOf(rows []tuples.Row) []authz.Tuple {
	out := make([]authz.Tuple, len(rows))
	for i, r := range rows {
		out[i] = r.Tuple
	}
	return out
}
