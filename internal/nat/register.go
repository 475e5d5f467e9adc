package nat

import "github.com/danielgtaylor/huma/v2"

// Register adds the operations of this context: PUT /v1/nodes/{id}/endpoint
// (node), the bridge relay configuration and the Domain mesh topology
// (operator).
func (s *Service) Register(api huma.API) {
	s.registerEndpoint(api)
	s.registerRelay(api)
	s.registerTopology(api)
}
