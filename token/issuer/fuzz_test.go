package issuer_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inopsio/spine/token/issuer"
)

// FuzzTokenEndpoint: any request body and Authorization header gets an
// RFC 6749 answer, never a panic or a token without the right secret.
func FuzzTokenEndpoint(f *testing.F) {
	is, err := issuer.New(issuer.Config{URL: "http://issuer.test/realms/spine", Clients: []string{"crm-service"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("grant_type=client_credentials", "Basic Y3JtLXNlcnZpY2U6eA==", "application/x-www-form-urlencoded")
	f.Add("grant_type=client_credentials&client_id=crm-service&client_secret=x", "", "application/x-www-form-urlencoded")
	f.Add("%zz&&==;", "Basic %%%", "application/x-www-form-urlencoded; charset=utf-8")
	f.Add("", "Bearer x", "multipart/form-data; boundary=x")
	f.Fuzz(func(t *testing.T, body, auth, ctype string) {
		req := httptest.NewRequest(http.MethodPost, "http://issuer.test/realms/spine/protocol/openid-connect/token", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		is.ServeHTTP(rec, req)
		switch rec.Code {
		case 400, 401, 413:
		default:
			t.Fatalf("status %d for body %q auth %q", rec.Code, body, auth)
		}
	})
}
