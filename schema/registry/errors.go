package registry

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; every error of this package that has one of these causes
// wraps it, so callers branch with errors.Is and never on message text.
var (
	// ErrNotFound: the subject, version, schema or id does not exist.
	ErrNotFound = errors.New("not found")
	// ErrIncompatible: the registry refused a schema that breaks the
	// subject's compatibility level.
	ErrIncompatible = errors.New("schema is incompatible")
	// ErrInvalidSchema: the schema is not a valid JSON (Schema) document.
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrReadOnly: the registry refuses the change. Local, which serves only
	// the catalog, says this for any schema or level the catalog lacks.
	ErrReadOnly = errors.New("registry is read-only")
	// ErrInvalidLevel: the compatibility level is not a Confluent level.
	ErrInvalidLevel = errors.New("invalid compatibility level")
)

// APIError is an error response of a registry's REST API.
type APIError struct {
	Method     string // HTTP method of the request
	URL        string // full URL of the request
	StatusCode int    // HTTP status
	// Code is the Confluent error_code of the body (e.g. 40401 subject not
	// found, 409 incompatible, 42201 invalid schema, 50001 store error); 0
	// when the body had none, e.g. a proxy's error page.
	Code    int
	Message string // the body's message, or the raw body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d, error code %d: %s", e.Method, e.URL, e.StatusCode, e.Code, e.Message)
}

// Is maps Confluent error codes to the package's sentinels. A 404 without a
// Confluent code in the 404xx range is deliberately not ErrNotFound: it is
// usually a wrong base URL (say, Apicurio without /apis/ccompat/v7), and
// treating it as "no such subject" would make a check pass that never ran.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound && e.Code/100 == 404
	case ErrIncompatible:
		return e.StatusCode == http.StatusConflict && (e.Code == 409 || e.Code == 0)
	case ErrInvalidSchema:
		return e.Code == 42201
	case ErrInvalidLevel:
		return e.Code == 42203
	}
	return false
}
