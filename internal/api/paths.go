package api

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RefuseUncleanPaths answers a request to the native, MISP-compatible or
// TAXII API whose path is not in its clean form — an empty, "." or ".."
// segment, as in /api/v1//indicators or /api/v1/indicators/../orgs, also
// when percent-encoded — with 400 in that API's error shape. net/http would
// redirect it to the cleaned path instead (307 or 301), and a client that
// follows re-sends its key, and a POST its body, to another resource than
// the one it named; a proxy in front that decides on the raw path would
// disagree with the hub on what was asked. No API client means such a path.
// A path or query parameter that is not text (invalid UTF-8 or a NUL once
// percent-decoded, as in /api/v1/indicators/%ff) is refused the same way:
// nothing can be named so, and PostgreSQL fails on such bytes instead of
// finding nothing. Everything else (the web UI, /healthz) goes to next
// unchanged.
func (s *Server) RefuseUncleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		msg := ""
		switch {
		case !isCleanPath(p):
			msg = "the path " + strconv.Quote(clip(p)) + " is not in its clean form: it has an empty, \".\" or \"..\" segment"
		case !IsText(p):
			msg = "the path " + strconv.Quote(clip(p)) + " is not text: it holds invalid UTF-8 or a NUL once percent-decoded"
		default:
			if name, ok := TextQuery(r.URL.RawQuery); !ok {
				msg = "the query parameter " + strconv.Quote(clip(name)) + " is not text: it holds invalid UTF-8 or a NUL once percent-decoded"
			}
		}
		if msg == "" {
			next.ServeHTTP(w, r)
			return
		}
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

// IsText says whether s can be text of hdn: valid UTF-8 without a NUL.
func IsText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// asText makes outside text (a feed's, an imported file's) storable: every
// NUL and every invalid UTF-8 sequence becomes U+FFFD, as encoding/json
// does with the latter. What a client sends itself is refused instead
// (utf8Reader, RefuseUncleanPaths).
func asText(s string) string {
	if IsText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// TextQuery says whether every name and value of a raw query string is text
// (IsText) once decoded, and otherwise names the first parameter that is not.
// A query that does not decode is left to the handlers, which refuse it.
func TextQuery(raw string) (name string, ok bool) {
	if raw == "" {
		return "", true
	}
	q, _ := url.ParseQuery(raw)
	for k, vs := range q {
		if !IsText(k) {
			return k, false
		}
		for _, v := range vs {
			if !IsText(v) {
				return k, false
			}
		}
	}
	return "", true
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
