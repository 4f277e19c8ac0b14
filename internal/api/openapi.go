package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 description of this API. A test checks it
// against Routes in both directions, so the two cannot drift apart.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument returns the served OpenAPI document.
func OpenAPIDocument() []byte { return openAPIDoc }

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ *Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(openAPIDoc)
	return err
}
