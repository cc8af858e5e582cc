package vault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// A kvError is a Key Vault error answer: the HTTP status and the envelope
// {"error":{"code","message","innererror":{"code"}}} that azcore reads into
// ResponseError.ErrorCode and applications inspect for innererror.code.
type kvError struct {
	Status  int
	Code    string
	Message string
	Inner   string // innererror.code, omitted when empty
	// RetryAfter, when positive, is sent as Retry-After seconds (429).
	RetryAfter int
}

func (e *kvError) Error() string { return e.Code + ": " + e.Message }

type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

func (e *kvError) body() []byte {
	env := errorEnvelope{Error: errorBody{Code: e.Code, Message: e.Message}}
	if e.Inner != "" {
		env.Error.InnerError = &innerError{Code: e.Inner}
	}
	b, _ := json.Marshal(env)
	return b
}

func badParameter(format string, args ...any) *kvError {
	return &kvError{Status: http.StatusBadRequest, Code: "BadParameter", Message: fmt.Sprintf(format, args...)}
}

func secretNotFound(name string) *kvError {
	return &kvError{Status: http.StatusNotFound, Code: "SecretNotFound",
		Message: fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name)}
}

func deletedSecretNotFound(name string) *kvError {
	return &kvError{Status: http.StatusNotFound, Code: "SecretNotFound", Message: "Deleted Secret not found: " + name}
}

func certificateNotFound(name string) *kvError {
	return &kvError{Status: http.StatusNotFound, Code: "CertificateNotFound",
		Message: fmt.Sprintf("A certificate with (name/id) %s was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name)}
}

func deletedCertificateNotFound(name string) *kvError {
	return &kvError{Status: http.StatusNotFound, Code: "CertificateNotFound", Message: "Deleted Certificate not found: " + name}
}

func pendingNotFound(name string) *kvError {
	return &kvError{Status: http.StatusNotFound, Code: "PendingCertificateNotFound",
		Message: fmt.Sprintf("Pending certificate not found: %s", name)}
}

func deletedButRecoverable(kind, name string) *kvError {
	return &kvError{Status: http.StatusConflict, Code: "Conflict", Inner: "ObjectIsDeletedButRecoverable",
		Message: fmt.Sprintf("%s %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the %s can only be recovered or purged.", kind, name, kind)}
}

func conflict(format string, args ...any) *kvError {
	return &kvError{Status: http.StatusConflict, Code: "Conflict", Message: fmt.Sprintf(format, args...)}
}

func forbidden(inner, format string, args ...any) *kvError {
	return &kvError{Status: http.StatusForbidden, Code: "Forbidden", Inner: inner, Message: fmt.Sprintf(format, args...)}
}

func notFoundRoute() *kvError {
	return &kvError{Status: http.StatusNotFound, Code: "NotFound", Message: "The requested resource was not found. Check the path: this vault serves /secrets, /deletedsecrets, /certificates and /deletedcertificates."}
}

func methodNotAllowed(method string) *kvError {
	return &kvError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: "The method " + method + " is not allowed on this path."}
}

var errInternal = &kvError{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: "The vault could not complete the request; the server log has the details (search for this request's x-ms-request-id)."}

func writeError(w http.ResponseWriter, e *kvError) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	w.Write(e.body())
}
