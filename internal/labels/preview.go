package labels

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/selector"
)

type previewInput struct{ Body apiv1.SelectorPreviewRequest }
type previewOutput struct{ Body apiv1.SelectorPreview }

func (s *Service) registerPreview(api huma.API) {
	huma.Register(api, route.Op(http.MethodPost, "/v1/labels/selectors/preview", "previewSelector",
		"label.selector_preview", route.Operator, "Parse a label selector into its AST, or explain why not", "Labels"),
		s.previewSelector)
}

// previewSelector parses for any authenticated operator: a selector is
// text, and parsing it reads nothing. Syntax errors are data (200).
func (s *Service) previewSelector(_ context.Context, in *previewInput) (*previewOutput, error) {
	sel, err := selector.Parse(in.Body.Expression)
	var se *selector.SyntaxError
	if errors.As(err, &se) {
		out := &previewOutput{}
		for _, is := range se.Issues() {
			out.Body.Errors = append(out.Body.Errors, apiv1.SelectorError{Position: is.Position, Message: is.Message})
		}
		return out, nil
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	ast := wireNode(sel.AST())
	return &previewOutput{Body: apiv1.SelectorPreview{AST: &ast}}, nil
}

// wireNode converts the parser's AST to its wire form.
func wireNode(n selector.Node) apiv1.SelectorNode {
	out := apiv1.SelectorNode{Op: string(n.Op), Key: n.Key, Values: n.Values}
	if n.Op == selector.OpEq || n.Op == selector.OpNeq {
		v := n.Value
		out.Value = &v
	}
	for _, c := range n.Children {
		out.Children = append(out.Children, wireNode(c))
	}
	return out
}
