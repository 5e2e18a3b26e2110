package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxDocumentSize bounds a discovery document or a JWKS: an issuer (or
// whoever answers in its place) cannot make us buffer more.
const maxDocumentSize = 1 << 20

// defaultHTTPTimeout bounds each request when the caller gives no client.
const defaultHTTPTimeout = 10 * time.Second

// defaultHTTPClient has its own transport without keep-alive: a Source asks
// for a token every few minutes and a Verifier for the JWKS rarely, so an
// idle connection would only leave a goroutine behind that nothing owns.
func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	return &http.Client{Timeout: defaultHTTPTimeout, Transport: tr}
}

// metadata is the part of the OIDC discovery document Spine uses.
type metadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	JWKSURI       string `json:"jwks_uri"`
}

// DiscoveryURL returns the OIDC discovery document's address for issuer:
// "<issuer>/.well-known/openid-configuration".
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// discover fetches and checks issuer's discovery document. As OpenID Connect
// Discovery 1.0 §4.3 requires, the document's issuer must equal the issuer
// asked for, byte for byte; otherwise a token minted for another realm on the
// same server would pass.
func discover(ctx context.Context, client *http.Client, issuer string) (*metadata, error) {
	u := DiscoveryURL(issuer)
	var m metadata
	if err := getJSON(ctx, client, "discovery", u, &m); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return &FetchError{Op: "discovery", URL: u, Kind: ErrDiscovery, Err: fmt.Errorf(format, args...)}
	}
	if m.Issuer != issuer {
		return nil, bad("document names issuer %q, configured issuer is %q", truncate(m.Issuer), issuer)
	}
	if err := checkEndpoint(m.TokenEndpoint); err != nil {
		return nil, bad("token_endpoint: %v", err)
	}
	if err := checkEndpoint(m.JWKSURI); err != nil {
		return nil, bad("jwks_uri: %v", err)
	}
	return &m, nil
}

func checkEndpoint(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", truncate(s))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", truncate(s))
	}
	return nil
}

// getJSON GETs u and decodes a JSON body of at most maxDocumentSize bytes.
func getJSON(ctx context.Context, client *http.Client, op, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &FetchError{Op: op, URL: u, Kind: ErrDiscovery, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return &FetchError{Op: op, URL: u, Kind: ErrUnreachable, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return &FetchError{Op: op, URL: u, StatusCode: resp.StatusCode, Kind: ErrUnreachable, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &FetchError{Op: op, URL: u, StatusCode: resp.StatusCode, Kind: ErrDiscovery}
	}
	if len(body) > maxDocumentSize {
		return &FetchError{Op: op, URL: u, StatusCode: resp.StatusCode, Kind: ErrDiscovery,
			Err: fmt.Errorf("document larger than %d bytes", maxDocumentSize)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &FetchError{Op: op, URL: u, StatusCode: resp.StatusCode, Kind: ErrDiscovery, Err: fmt.Errorf("decoding JSON: %w", err)}
	}
	return nil
}

// unwrapURLError drops *url.Error's "Get \"<url>\": " prefix: FetchError
// already names the operation and the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// truncate shortens attacker- or server-controlled strings put in messages.
func truncate(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
