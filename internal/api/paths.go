package api

import (
	"net/http"
	"path"
	"strconv"
	"strings"
)

// RefuseUncleanPaths answers a request to the native, MISP-compatible or
// TAXII API whose path is not in its clean form — an empty, "." or ".."
// segment, as in /api/v1//indicators or /api/v1/indicators/../orgs, also
// when percent-encoded — with 400 in that API's error shape. net/http would
// redirect it to the cleaned path instead (307 or 301), and a client that
// follows re-sends its key, and a POST its body, to another resource than
// the one it named; a proxy in front that decides on the raw path would
// disagree with the hub on what was asked. No API client means such a path.
// Everything else (the web UI, /healthz) goes to next unchanged.
func (s *Server) RefuseUncleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if isCleanPath(p) {
			next.ServeHTTP(w, r)
			return
		}
		msg := "the path " + strconv.Quote(clip(p)) + " is not in its clean form: it has an empty, \".\" or \"..\" segment"
		switch {
		case strings.HasPrefix(p, "/api/"):
			s.writeError(w, r, badRequest("%s", msg))
		case strings.HasPrefix(p, "/taxii2/"):
			writeTAXII(w, http.StatusBadRequest, taxiiErrorBody{Title: "Bad Request", Description: msg, HTTPStatus: strconv.Itoa(http.StatusBadRequest)})
		case isMISPPath(p):
			s.writeMISPError(w, r, mispBad("%s", msg))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// isCleanPath says whether p is its own path.Clean, allowing a trailing
// slash.
func isCleanPath(p string) bool {
	c := path.Clean(p)
	return c == p || (strings.HasSuffix(p, "/") && c+"/" == p)
}

func isMISPPath(p string) bool {
	for _, prefix := range MISPPrefixes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
