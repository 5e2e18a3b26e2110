package registry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/inopsio/spine/schema/registry"
)

// fake starts franz-go's in-memory registry and a client of it; both are
// shut down when the test ends.
func fake(t *testing.T, fakeOpts []srfake.Option, opts ...registry.ConfluentOption) (*srfake.Registry, *registry.Confluent) {
	t.Helper()
	srv := srfake.New(fakeOpts...)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		srv.Close()
	})
	c, err := registry.NewConfluent(srv.URL(), append([]registry.ConfluentOption{registry.WithHTTPClient(hc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// reply makes srv answer requests whose path contains part with status and
// a JSON body, and records the query of the last one.
func reply(srv *srfake.Registry, method, part string, status int, body string) *string {
	var mu sync.Mutex
	query := new(string)
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != method || !strings.Contains(r.URL.Path, part) {
			return false
		}
		mu.Lock()
		*query = r.URL.RawQuery
		mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	})
	return query
}

func TestConfluentRegisterCatalog(t *testing.T) {
	_, c := fake(t, nil)
	testRegistryConformance(t, c)
}

func TestLocalRegisterCatalog(t *testing.T) {
	l, err := registry.NewLocal(defaultCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	testRegistryConformance(t, l)
}

// testRegistryConformance registers the embedded catalog in reg and checks
// what Spine relies on: ids, idempotence, lookups and levels. Local, the
// fake and a real registry all pass it.
func testRegistryConformance(t *testing.T, reg registry.Registry) {
	ctx := context.Background()
	cat := defaultCatalog(t)
	if err := registry.SetCatalogCompatibility(ctx, reg, cat, registry.GateLevel); err != nil {
		t.Fatalf("SetCatalogCompatibility: %v", err)
	}
	regs, err := registry.RegisterCatalog(ctx, reg, cat)
	if err != nil {
		t.Fatalf("RegisterCatalog: %v", err)
	}
	total := 0
	for _, e := range cat.Events() {
		total += len(e.Versions)
	}
	if len(regs) != total {
		t.Fatalf("RegisterCatalog registered %d versions, want %d", len(regs), total)
	}
	again, err := registry.RegisterCatalog(ctx, reg, cat)
	if err != nil {
		t.Fatalf("RegisterCatalog again: %v", err)
	}
	for i := range regs {
		if again[i] != regs[i] {
			t.Errorf("re-registration changed %+v to %+v", regs[i], again[i])
		}
	}
	subjects, err := reg.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, e := range cat.Events() {
		subject := registry.Subject(e.Topic)
		if _, found := slicesIndex(subjects, subject); !found {
			t.Errorf("Subjects lacks %s", subject)
		}
		versions, err := reg.Versions(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if len(versions) != len(e.Versions) {
			t.Errorf("%s has versions %v after two registrations, want %d", subject, versions, len(e.Versions))
		}
		for v, sv := range e.Versions {
			r := regs[i]
			i++
			if r.Event != e.Name || r.Version != sv.Version || r.Subject != subject || r.ID < 1 {
				t.Errorf("registration %+v, want %s %s under %s", r, e.Name, sv.Version, subject)
			}
			got, err := reg.Lookup(ctx, subject, reformat(t, sv.Schema))
			if err != nil || got.ID != r.ID || got.Version != versions[v] || got.Subject != subject {
				t.Errorf("Lookup(%s %s) = %+v, %v; want id %d version %d", subject, sv.Version, got, err, r.ID, versions[v])
			}
			s, err := reg.SchemaByID(ctx, r.ID)
			if err != nil {
				t.Fatalf("SchemaByID(%d): %v", r.ID, err)
			}
			if s.Type != registry.TypeJSON || !sameJSON(t, s.Text, sv.Schema) {
				t.Errorf("SchemaByID(%d) = %s %.60s, want %s %s", r.ID, s.Type, s.Text, e.Name, sv.Version)
			}
			byVersion, err := reg.SchemaByVersion(ctx, subject, versions[v])
			if err != nil || byVersion.ID != r.ID || !sameJSON(t, byVersion.Text, sv.Schema) {
				t.Errorf("SchemaByVersion(%s, %d) = %+v, %v", subject, versions[v], byVersion, err)
			}
		}
		latest, err := reg.Latest(ctx, subject)
		if err != nil || latest.ID != regs[i-1].ID || !sameJSON(t, latest.Text, e.Current().Schema) {
			t.Errorf("Latest(%s) = %+v, %v; want id %d", subject, latest, err, regs[i-1].ID)
		}
		if lvl, err := reg.Compatibility(ctx, subject); err != nil || lvl != registry.GateLevel {
			t.Errorf("Compatibility(%s) = %q, %v; want %s", subject, lvl, err, registry.GateLevel)
		}
		res, err := reg.CheckCompatibility(ctx, subject, e.Current().Schema)
		if err != nil || !res.Compatible {
			t.Errorf("CheckCompatibility(%s, current) = %+v, %v", subject, res, err)
		}
	}
}

func slicesIndex(s []string, v string) (int, bool) {
	for i, x := range s {
		if x == v {
			return i, true
		}
	}
	return -1, false
}

func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	ca, err := registry.CanonicalJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := registry.CanonicalJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ca) == string(cb)
}

func TestConfluentCompatibilityLevels(t *testing.T) {
	ctx := context.Background()
	_, c := fake(t, []srfake.Option{srfake.WithGlobalCompat(sr.CompatBackward)})
	check := func(subject string, want registry.CompatibilityLevel) {
		t.Helper()
		if got, err := c.Compatibility(ctx, subject); err != nil || got != want {
			t.Errorf("Compatibility(%q) = %q, %v; want %s", subject, got, err, want)
		}
	}
	check("", registry.CompatBackward)
	check("unconfigured-value", registry.CompatBackward) // falls back to the default
	if err := c.SetCompatibility(ctx, "a-value", registry.CompatFullTransitive); err != nil {
		t.Fatal(err)
	}
	check("a-value", registry.CompatFullTransitive)
	if err := c.SetCompatibility(ctx, "", registry.CompatNone); err != nil {
		t.Fatal(err)
	}
	check("", registry.CompatNone)
	check("a-value", registry.CompatFullTransitive)
	if err := c.SetCompatibility(ctx, "a-value", "SIDEWAYS"); !errors.Is(err, registry.ErrInvalidLevel) {
		t.Errorf("SetCompatibility(SIDEWAYS) = %v, want ErrInvalidLevel", err)
	}
}

func TestConfluentCheckCompatibility(t *testing.T) {
	ctx := context.Background()
	schema := defaultCatalog(t).Events()[0].Current().Schema
	tests := []struct {
		name   string
		status int
		body   string
		want   registry.CompatibilityResult
		err    error
	}{
		{"incompatible", 200, `{"is_compatible":false,"messages":["required property added"]}`,
			registry.CompatibilityResult{Messages: []string{"required property added"}}, nil},
		{"compatible", 200, `{"is_compatible":true}`, registry.CompatibilityResult{Compatible: true}, nil},
		{"new subject", 404, `{"error_code":40401,"message":"Subject 'x-value' not found."}`,
			registry.CompatibilityResult{Compatible: true, Messages: []string{"subject has no versions yet"}}, nil},
		{"wrong base URL", 404, `<html>Not Found</html>`, registry.CompatibilityResult{}, errAPI},
		{"server error", 500, `{"error_code":50001,"message":"store down"}`, registry.CompatibilityResult{}, errAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := fake(t, nil)
			query := reply(srv, http.MethodPost, "/compatibility/subjects/x-value/versions", tt.status, tt.body)
			got, err := c.CheckCompatibility(ctx, "x-value", schema)
			if tt.err != nil {
				var ae *registry.APIError
				if !errors.As(err, &ae) || ae.StatusCode != tt.status || errors.Is(err, registry.ErrNotFound) {
					t.Fatalf("err = %v, want an *APIError with status %d that is not ErrNotFound", err, tt.status)
				}
				return
			}
			if err != nil || got.Compatible != tt.want.Compatible || strings.Join(got.Messages, "|") != strings.Join(tt.want.Messages, "|") {
				t.Fatalf("CheckCompatibility = %+v, %v; want %+v", got, err, tt.want)
			}
			if !strings.Contains(*query, "verbose=true") {
				t.Errorf("query %q does not ask for verbose messages", *query)
			}
		})
	}
}

// errAPI marks table rows that expect an *APIError.
var errAPI = errors.New("an *APIError")

func TestConfluentErrors(t *testing.T) {
	ctx := context.Background()
	schema := defaultCatalog(t).Events()[0].Current().Schema
	tests := []struct {
		name      string
		intercept func(*srfake.Registry)
		call      func(*registry.Confluent) error
		want      error // a sentinel, or nil when only the APIError matters
		status    int   // 0: no *APIError expected
		code      int
		mention   []string
	}{
		{"unknown id", nil,
			func(c *registry.Confluent) error { _, err := c.SchemaByID(ctx, 999); return err },
			registry.ErrNotFound, 404, 40403, []string{"schema id 999", "/schemas/ids/999"}},
		{"unknown subject latest", nil,
			func(c *registry.Confluent) error { _, err := c.Latest(ctx, "nope-value"); return err },
			registry.ErrNotFound, 404, 40401, []string{`subject "nope-value" version latest`}},
		{"unknown subject versions", nil,
			func(c *registry.Confluent) error { _, err := c.Versions(ctx, "nope-value"); return err },
			registry.ErrNotFound, 404, 40401, []string{"nope-value"}},
		{"lookup in unknown subject", nil,
			func(c *registry.Confluent) error { _, err := c.Lookup(ctx, "nope-value", schema); return err },
			registry.ErrNotFound, 404, 40401, []string{"nope-value"}},
		{"version 0", nil,
			func(c *registry.Confluent) error { _, err := c.SchemaByVersion(ctx, "a-value", 0); return err },
			registry.ErrNotFound, 0, 0, []string{"a-value"}},
		{"invalid JSON", nil,
			func(c *registry.Confluent) error { _, err := c.Register(ctx, "a-value", []byte("{")); return err },
			registry.ErrInvalidSchema, 0, 0, []string{"a-value"}},
		{"server 500 with Confluent body",
			func(s *srfake.Registry) {
				reply(s, http.MethodPost, "/subjects/a-value/versions", 500, `{"error_code":50001,"message":"Error in the backend data store"}`)
			},
			func(c *registry.Confluent) error { _, err := c.Register(ctx, "a-value", schema); return err },
			nil, 500, 50001, []string{`register schema under subject "a-value"`, "Error in the backend data store", "/subjects/a-value/versions"}},
		{"incompatible",
			func(s *srfake.Registry) {
				reply(s, http.MethodPost, "/subjects/a-value/versions", 409, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`)
			},
			func(c *registry.Confluent) error { _, err := c.Register(ctx, "a-value", schema); return err },
			registry.ErrIncompatible, 409, 409, []string{"incompatible", "a-value"}},
		{"invalid schema from server",
			func(s *srfake.Registry) {
				reply(s, http.MethodPost, "/subjects/a-value/versions", 422, `{"error_code":42201,"message":"Invalid schema"}`)
			},
			func(c *registry.Confluent) error { _, err := c.Register(ctx, "a-value", schema); return err },
			registry.ErrInvalidSchema, 422, 42201, []string{"Invalid schema"}},
		{"404 without Confluent body is not ErrNotFound",
			func(s *srfake.Registry) { reply(s, http.MethodGet, "/schemas/ids/1", 404, `<html>no</html>`) },
			func(c *registry.Confluent) error { _, err := c.SchemaByID(ctx, 1); return err },
			nil, 404, 0, []string{"<html>no</html>"}},
		{"set level refused",
			func(s *srfake.Registry) {
				reply(s, http.MethodPut, "/config/a-value", 422, `{"error_code":42203,"message":"Invalid compatibility level"}`)
			},
			func(c *registry.Confluent) error { return c.SetCompatibility(ctx, "a-value", registry.CompatFull) },
			registry.ErrInvalidLevel, 422, 42203, []string{`subject "a-value" to FULL`}},
		{"get level server error",
			func(s *srfake.Registry) {
				reply(s, http.MethodGet, "/config", 500, `{"error_code":50001,"message":"down"}`)
			},
			func(c *registry.Confluent) error { _, err := c.Compatibility(ctx, ""); return err },
			nil, 500, 50001, []string{"the registry default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := fake(t, nil)
			if tt.intercept != nil {
				tt.intercept(srv)
			}
			err := tt.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && errors.Is(err, registry.ErrNotFound) {
				t.Errorf("err = %v must not match ErrNotFound", err)
			}
			var ae *registry.APIError
			switch {
			case tt.status == 0 && errors.As(err, &ae):
				t.Errorf("err = %v: no request should have been made", err)
			case tt.status != 0 && !errors.As(err, &ae):
				t.Errorf("err = %v is no *APIError", err)
			case tt.status != 0 && (ae.StatusCode != tt.status || ae.Code != tt.code || !strings.HasPrefix(ae.URL, c.URL())):
				t.Errorf("APIError = %+v, want status %d code %d at %s", ae, tt.status, tt.code, c.URL())
			}
			for _, m := range append(tt.mention, c.URL()) {
				if tt.status == 0 && m == c.URL() {
					continue
				}
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err = %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestNewConfluentBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8081", "ftp://registry", "http://", "http://a b/", "::"} {
		if _, err := registry.NewConfluent(u); err == nil {
			t.Errorf("NewConfluent(%q) accepted a bad URL", u)
		} else if u != "" && !strings.Contains(err.Error(), "URL") {
			t.Errorf("NewConfluent(%q) = %v: does not say the URL is bad", u, err)
		}
	}
}

func TestConfluentUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	c, err := registry.NewConfluent(url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SchemaByID(context.Background(), 1)
	var ae *registry.APIError
	if err == nil || errors.As(err, &ae) || errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), url) {
		t.Fatalf("err = %v, want a transport error naming %s", err, url)
	}
}

func TestConfluentBasicAuth(t *testing.T) {
	ctx := context.Background()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("spine:s3cret"))
	_, good := fake(t, []srfake.Option{srfake.WithAuth(auth)}, registry.WithBasicAuth("spine", "s3cret"))
	if _, err := good.Subjects(ctx); err != nil {
		t.Fatalf("with the right credentials: %v", err)
	}
	_, bad := fake(t, []srfake.Option{srfake.WithAuth(auth)}, registry.WithBasicAuth("spine", "wrong"))
	_, err := bad.Subjects(ctx)
	var ae *registry.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusForbidden {
		t.Fatalf("with wrong credentials: err = %v, want an *APIError with status 403", err)
	}
}

type countingTransport struct {
	n  atomic.Int32
	rt http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

func TestConfluentCustomHTTPClient(t *testing.T) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	ct := &countingTransport{rt: tr}
	_, c := fake(t, nil, registry.WithHTTPClient(&http.Client{Transport: ct}))
	defer tr.CloseIdleConnections()
	if _, err := c.Subjects(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ct.n.Load() != 1 {
		t.Errorf("the custom client carried %d requests, want 1", ct.n.Load())
	}
}

// TestConfluentSendsCanonicalJSON: the registry must receive one text per
// schema, whatever the catalog file's layout, so that registries comparing
// raw text (Apicurio by default) stay idempotent.
func TestConfluentSendsCanonicalJSON(t *testing.T) {
	srv, c := fake(t, nil)
	var mu sync.Mutex
	var bodies []string
	srv.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			raw, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(raw)) // the fake reads it next
			var s struct {
				Schema     string `json:"schema"`
				SchemaType string `json:"schemaType"`
			}
			if err := json.Unmarshal(raw, &s); err == nil {
				mu.Lock()
				bodies = append(bodies, s.SchemaType+" "+s.Schema)
				mu.Unlock()
			}
		}
		return false
	})
	schema := defaultCatalog(t).Events()[0].Current().Schema
	canon, err := registry.CanonicalJSON(schema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(context.Background(), "a-value", reformat(t, schema)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || bodies[0] != "JSON "+string(canon) {
		t.Errorf("sent %q, want one JSON schema in canonical form", bodies)
	}
}
