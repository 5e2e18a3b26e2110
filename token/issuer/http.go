package issuer

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxRequestSize bounds a token request body. A client_credentials request is
// a few hundred bytes.
const maxRequestSize = 8 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (is *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                is.cfg.URL,
		"token_endpoint":                        is.TokenURL(),
		"jwks_uri":                              is.JWKSURL(),
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported": []string{RS256, ES256},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
	})
}

func (is *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	is.mu.RLock()
	set := is.keys.public()
	is.mu.RUnlock()
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, set)
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (is *Issuer) tokenError(w http.ResponseWriter, status int, code, desc, client string) {
	is.cfg.Logger.Info("token request rejected", "client", client, "error", code, "description", desc)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, oauthError{Error: code, Description: desc})
}

// serveToken is the client_credentials grant with client_secret_basic or
// client_secret_post (RFC 6749 §2.3.1, §4.4).
func (is *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestSize)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		is.tokenError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded", "")
		return
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			is.tokenError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body is larger than 8192 bytes", "")
			return
		}
		is.tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form body", "")
		return
	}
	form := r.PostForm // body only: credentials in a query string end up in access logs

	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			is.unauthorized(w, "", true)
			return
		}
		if form.Has("client_secret") {
			is.tokenError(w, http.StatusBadRequest, "invalid_request", "more than one client authentication method", id)
			return
		}
		if pid := form.Get("client_id"); pid != "" && pid != id {
			is.unauthorized(w, id, true)
			return
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" || secret == "" || !is.authenticate(id, secret) {
		is.unauthorized(w, id, basic)
		return
	}

	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		is.tokenError(w, http.StatusBadRequest, "invalid_request", "Missing form parameter: grant_type", id)
		return
	default:
		is.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type", id)
		return
	}
	scope := form.Get("scope")
	if !validScope(scope) {
		is.tokenError(w, http.StatusBadRequest, "invalid_scope", "Invalid scopes: scope must be up to 1024 printable ASCII characters", id)
		return
	}
	tok, err := is.Issue(id, strings.Fields(scope)...)
	if err != nil {
		is.cfg.Logger.Error("token issue failed", "client", id, "error", err)
		is.tokenError(w, http.StatusInternalServerError, "server_error", "could not sign the token", id)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tok)
}

// unauthorized answers a failed client authentication: 401 invalid_client,
// with a Basic challenge when Basic was tried (RFC 6749 §5.2).
func (is *Issuer) unauthorized(w http.ResponseWriter, id string, basic bool) {
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+is.cfg.URL+`"`)
	}
	is.tokenError(w, http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials", id)
}

// validScope: RFC 6749 §3.3 scope-token characters and spaces, bounded.
func validScope(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ' ' && (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e) {
			return false
		}
	}
	return true
}
