package api

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes checks the served document against the route
// table in both directions: every route is documented, and every documented
// operation exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range (&Server{}).routes() {
		served[rt.Method+" "+rt.Pattern] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not in openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes that do not exist: %v", extra)
	}
}

// TestMISPRoutesDocumented: every MISP-compatible endpoint is in
// docs/MISP.md (MISP's own API is not described in openapi.json).
func TestMISPRoutesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/MISP.md")
	if err != nil {
		t.Fatalf("docs/MISP.md: %v", err)
	}
	for _, rt := range MISPRoutes() {
		path := rt[1]
		if i := strings.Index(path, "/{"); i >= 0 {
			path = path[:i]
		}
		if !strings.Contains(string(doc), rt[0]+" "+path) && !strings.Contains(string(doc), path) {
			t.Errorf("%s %s is not in docs/MISP.md", rt[0], rt[1])
		}
	}
}
