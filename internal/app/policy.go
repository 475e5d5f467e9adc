package app

import (
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/policy"
)

// assemblePolicy builds the policy context (issue 10: Policies, revisions,
// diff, dry-run, policy tests) and registers its operations. The delivery
// (internal/policy/deliver) plugs in as its Notifier and Inventory.
func (s *Server) assemblePolicy(pages *page.Codec, notify policy.Notifier, inv policy.Inventory) error {
	var err error
	s.Policy, err = policy.NewService(policy.Config{DB: s.DB, Audit: s.Audit, Authz: s.Guard, Tuples: s.Tuples,
		Pages: pages, Projects: s.Tenancy, Notifier: notify, Inventory: inv})
	if err != nil {
		return err
	}
	s.Policy.Register(s.API.API)
	return nil
}
