package unserved

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Extension marks an operation in the OpenAPI document as not yet available.
const Extension = "x-plexsphere-not-provisioned"

var (
	pathParam = regexp.MustCompile(`\{([^}]+)\}`)
	// verbSuffix matches a last segment that is a parameter followed by a
	// custom verb ("{session_id}:revoke"), which net/http patterns cannot
	// express.
	verbSuffix = regexp.MustCompile(`/\{([^}]+)\}(:[a-z-]+)$`)
)

// Key is an operation's identity for comparison: the method and the path
// with every parameter name dropped, so "/v1/domains/{domainId}" and
// "/v1/domains/{id}" are the same operation.
func Key(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

// Register adds every Table row that api does not serve already, so it must
// run after every other package registered its operations. A row whose
// operation is served, or that would collide with a served route or
// operation id, is skipped and returned (and logged): the served operation
// wins, and the table test names the stale row.
func Register(api huma.API, log *slog.Logger) (skipped []Op) {
	served, ids := servedOperations(api.OpenAPI())
	probe := http.NewServeMux()
	for key := range served {
		_ = tryHandle(probe, key)
	}
	for _, op := range Table {
		routed, doc := op.operations()
		switch {
		case served[Key(op.Method, op.Path)] || ids[op.OperationID]:
		case tryHandle(probe, routed.Method+" "+routed.Path) != nil:
		default:
			op.register(api, routed, doc)
			continue
		}
		log.Warn("unserved operation skipped", "method", op.Method, "path", op.Path, "operation", op.OperationID)
		skipped = append(skipped, op)
	}
	return skipped
}

// servedOperations lists the method+path keys and operation ids in doc.
func servedOperations(doc *huma.OpenAPI) (map[string]bool, map[string]bool) {
	keys, ids := map[string]bool{}, map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{
			http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
			http.MethodPatch: item.Patch, http.MethodDelete: item.Delete,
		} {
			if op != nil {
				keys[Key(method, path)] = true
				ids[op.OperationID] = true
			}
		}
	}
	return keys, ids
}

// tryHandle registers pattern on a probe mux, reporting the conflict or
// malformed pattern net/http would panic on.
func tryHandle(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
	return nil
}

// operations builds the routed operation and, when the contract's path has
// a verb glued to a parameter, the separate documented one (the route then
// matches the bare parameter and the handler checks the verb).
func (o Op) operations() (routed, documented *huma.Operation) {
	action := "unserved." + strings.ReplaceAll(o.Area, "_", "-")
	op := route.Op(o.Method, o.Path, o.OperationID, action, o.Class, o.Capability+" (not yet available)", "Not yet available")
	op.Description = fmt.Sprintf("Not yet available on this server: every call answers 501 `%s`", o.Code())
	if o.Class != route.Public {
		op.Description += " once the caller has authenticated (401 without a credential)"
	}
	op.Description += "."
	op.Extensions = map[string]any{Extension: true}
	op.Errors = []int{http.StatusNotImplemented}
	if o.Class != route.Public {
		op.Errors = []int{http.StatusUnauthorized, http.StatusNotImplemented}
	}
	for _, m := range pathParam.FindAllStringSubmatch(o.Path, -1) {
		op.Parameters = append(op.Parameters, &huma.Param{
			Name: m[1], In: "path", Required: true, Schema: &huma.Schema{Type: "string"},
		})
	}
	if !verbSuffix.MatchString(o.Path) {
		return &op, nil
	}
	doc := op
	op.Path = verbSuffix.ReplaceAllString(o.Path, "/{$1}")
	op.Hidden = true
	return &op, &doc
}

type empty struct{}

// request carries the path the verb check needs into the handler.
type request struct{ path string }

// Resolve implements huma.Resolver.
func (r *request) Resolve(ctx huma.Context) []error {
	r.path = ctx.URL().Path
	return nil
}

func (o Op) register(api huma.API, routed, documented *huma.Operation) {
	verb := ""
	if m := verbSuffix.FindStringSubmatch(o.Path); m != nil {
		verb = m[2]
	}
	huma.Register(api, *routed, func(_ context.Context, in *request) (*empty, error) {
		if !strings.HasSuffix(in.path, verb) {
			return nil, problem.NotFound("route_not_found", "No operation at "+o.Method+" "+in.path+".")
		}
		return nil, problem.Newf(http.StatusNotImplemented, o.Code(),
			"%s is not available on this server yet; %s %s is an operation of the contract it does not serve.",
			o.Capability, o.Method, o.Path)
	})
	if documented != nil {
		documented.Responses = errorResponses(api, append(documented.Errors, http.StatusInternalServerError))
		api.OpenAPI().AddOperation(documented)
	}
}

// errorResponses documents codes the way huma.Register documents an
// operation's Errors, for the operation it does not register itself.
func errorResponses(api huma.API, codes []int) map[string]*huma.Response {
	example := huma.NewError(0, "")
	contentType := "application/json"
	if f, ok := example.(huma.ContentTypeFilter); ok {
		contentType = f.ContentType(contentType)
	}
	t := reflect.TypeOf(example)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	schema := api.OpenAPI().Components.Schemas.Schema(t, true, "Error")
	out := map[string]*huma.Response{}
	for _, code := range codes {
		out[strconv.Itoa(code)] = &huma.Response{
			Description: http.StatusText(code),
			Content:     map[string]*huma.MediaType{contentType: {Schema: schema}},
		}
	}
	return out
}
