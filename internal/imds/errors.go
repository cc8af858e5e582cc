package imds

import (
	"fmt"
	"strings"

	"github.com/tegata-project/tegata/internal/instance"
)

// ErrorID names a row of the error table of docs/imds.md (§3.4 of the reference).
// Rows whose body or status Azure never documented can be changed in configuration.
type ErrorID string

// The rows of the error table.
const (
	ErrMissingHeader      ErrorID = "E1" // Metadata header missing (non-identity path)
	ErrLeafNeedsText      ErrorID = "E2" // a leaf requested without format=text
	ErrBadAPIVersion      ErrorID = "E3" // api-version missing or invalid (body gets newest-versions)
	ErrLegacyVersion      ErrorID = "E4" // api-version unknown, legacy mode
	ErrForwardedFor       ErrorID = "E5" // X-Forwarded-For present
	ErrDuplicateParameter ErrorID = "E6" // a query parameter name repeats
	ErrNotFound           ErrorID = "E7" // the route element does not exist
	ErrMethodNotAllowed   ErrorID = "E8"
	ErrGone               ErrorID = "E9"
	ErrThrottled          ErrorID = "E10"
	ErrInternal           ErrorID = "E11"
	ErrBadRequest         ErrorID = "E12" // other malformed requests (bad format, bad query, bad POST body)
	ErrUnknownCaller      ErrorID = "E13" // tegata only: no instance in the inventory has the caller's address
	ErrUnreachable        ErrorID = "E14" // tegata fault: Docker Desktop's "unreachable network" 403
	ErrUnavailable        ErrorID = "E15" // tegata fault: 503

	ErrIdentityMissingHeader   ErrorID = "I1"
	ErrIdentityNotFound        ErrorID = "I2"
	ErrIdentityMultiple        ErrorID = "I3"
	ErrIdentityMissingResource ErrorID = "I4"
	ErrIdentityConflict        ErrorID = "I6"
	ErrIdentityThrottled       ErrorID = "I7"
	ErrIdentityFailure         ErrorID = "I8"
)

// ErrorReply is the status and body of one row.
type ErrorReply struct {
	Status int    `yaml:"status" json:"status"`
	Body   string `yaml:"body" json:"body"`
}

// DefaultErrors is the error table as Azure answers, or, for rows Azure never
// documented, the defaults recommended in the reference (§8). Non-identity bodies use
// the spaced layout real VMs send; identity bodies are compact.
func DefaultErrors() map[ErrorID]ErrorReply {
	return map[ErrorID]ErrorReply{
		ErrMissingHeader:      {400, `{ "error": "Bad request: . Required metadata header not specified" }`},
		ErrLeafNeedsText:      {400, `{ "error": "Bad request" }`},
		ErrBadAPIVersion:      {400, `{ "error": "Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds", "newest-versions": [ %s ] }`},
		ErrLegacyVersion:      {404, `{ "error": "Not found. Invalid version requested" }`},
		ErrForwardedFor:       {400, `{ "error": "Bad request" }`},
		ErrDuplicateParameter: {400, `{ "error": "Bad request" }`},
		ErrNotFound:           {404, `{ "error": "Not found" }`},
		ErrMethodNotAllowed:   {405, `{ "error": "Method not allowed" }`},
		ErrGone:               {410, `{ "error": "Gone" }`},
		ErrThrottled:          {429, `{ "error": "Too many requests" }`},
		ErrInternal:           {500, `{ "error": "Internal server error" }`},
		ErrBadRequest:         {400, `{ "error": "Bad request" }`},
		ErrUnknownCaller:      {404, `{ "error": "Not found" }`},
		ErrUnavailable:        {503, `{ "error": "Service unavailable" }`},
		ErrUnreachable:        {403, `connecting to 169.254.169.254:80: connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: connectex: A socket operation was attempted to an unreachable network.`},

		ErrIdentityMissingHeader:   {400, `{"error":"invalid_request","error_description":"Required metadata header not specified"}`},
		ErrIdentityNotFound:        {400, `{"error":"invalid_request","error_description":"Identity not found"}`},
		ErrIdentityMultiple:        {400, `{"error":"invalid_request","error_description":"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"}`},
		ErrIdentityMissingResource: {400, `{"error":"invalid_request","error_description":"Required query variable 'resource' is missing"}`},
		ErrIdentityConflict:        {400, `{"error":"invalid_request","error_description":"client_id, object_id and msi_res_id are mutually exclusive"}`},
		ErrIdentityThrottled:       {429, `{"error":"too_many_requests","error_description":"Too many requests"}`},
		ErrIdentityFailure:         {500, `{"error":"unknown","error_description":"Failed to retrieve token from the Active directory. For details see logs in /var/log/tegata"}`},
	}
}

// errorTable holds each row's reply with its body already in bytes.
type errorTable map[ErrorID]preparedError

type preparedError struct {
	status int
	body   []byte
}

// newErrorTable merges overrides over the defaults and fills the newest-versions list
// into E3, so no error costs more than a map lookup at request time.
func newErrorTable(overrides map[ErrorID]ErrorReply, newest []string) (errorTable, error) {
	rows := DefaultErrors()
	for id, r := range overrides {
		if _, ok := rows[id]; !ok {
			return nil, fmt.Errorf("imds.errors: unknown error id %q: use one of E1-E15, I1-I8 (see docs/imds.md)", id)
		}
		if r.Status < 100 || r.Status > 599 {
			return nil, fmt.Errorf("imds.errors.%s.status: %d is not an HTTP status: use 100-599", id, r.Status)
		}
		rows[id] = r
	}
	t := make(errorTable, len(rows))
	for id, r := range rows {
		body := r.Body
		if id == ErrBadAPIVersion && strings.Contains(body, "%s") {
			quoted := make([]string, len(newest))
			for i, v := range newest {
				quoted[i] = string(instance.AppendJSONString(nil, v))
			}
			body = fmt.Sprintf(body, strings.Join(quoted, ", "))
		}
		t[id] = preparedError{status: r.Status, body: []byte(body)}
	}
	return t, nil
}

// iisNotFound is what Azure's host answers for any path outside /metadata.
var iisNotFound = []byte(`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>404 - File or directory not found.</title>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>404 - File or directory not found.</h2>
  <h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>
 </fieldset></div>
</div>
</body>
</html>
`)
