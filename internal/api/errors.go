package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hdnetwork/hdn/internal/store"
)

// Error is an error that the client is meant to read: it carries the HTTP
// status and a stable code. Any other error becomes a 500 whose body never
// echoes the internal text.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Stable error codes.
const (
	CodeBadRequest       = "bad_request"
	CodeMalformedJSON    = "malformed_json"
	CodeInvalidValue     = "invalid_value"
	CodeRejectedItems    = "rejected_items"
	CodeWarninglisted    = "warninglisted"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInternal         = "internal"
	CodeInvalidToken     = "invalid_token"
	CodeStorageFull      = "storage_full"
)

// errStorageFull answers a write the store refused because the database is
// full (store.ErrFull): nothing of the request was stored.
var errStorageFull = errf(http.StatusInsufficientStorage, CodeStorageFull,
	"the hub's database is full (its disk, or the size bound it was given): nothing of this request was stored; "+
		"reads and streams go on; retry once the hub's operator has made room")

// fullLogEvery bounds how often a full database is logged: every write is
// refused while it lasts.
const fullLogEvery = 10 * time.Second

// storageFull turns store.ErrFull into errStorageFull, logged as an error
// at most every fullLogEvery; other errors are returned unchanged.
func (s *Server) storageFull(r *http.Request, err error) error {
	if !errors.Is(err, store.ErrFull) {
		return err
	}
	now := time.Now().UnixNano()
	if last := s.fullLogged.Load(); now-last >= int64(fullLogEvery) && s.fullLogged.CompareAndSwap(last, now) {
		s.log.ErrorContext(r.Context(), "the database is full: writes are refused (507) until there is room; reads and streams go on",
			"method", r.Method, "path", r.URL.Path, "err", err)
	}
	return errStorageFull
}

func errf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func notFound(what string) *Error {
	return errf(http.StatusNotFound, CodeNotFound, "%s not found", what)
}

func forbidden(format string, args ...any) *Error {
	return errf(http.StatusForbidden, CodeForbidden, format, args...)
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError renders any error into the one error envelope.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = s.storageFull(r, err)
	var e *Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errf(http.StatusInternalServerError, CodeInternal, "internal error")
	}
	setRetryAfter(w, err)
	var body errorBody
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// The status line is gone already; the client sees a cut body.
		slog.Debug("writing response", "err", err)
	}
}
