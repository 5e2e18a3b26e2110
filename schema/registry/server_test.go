package registry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/schema/registry"
)

// The local registry, served over HTTP, must be usable by a Confluent client:
// here Spine's own client, which speaks the protocol through franz-go's sr.
func TestHandlerServesLocalToConfluentClient(t *testing.T) {
	cat := catalog.MustDefault()
	local, err := registry.NewLocal(cat)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.Handler(local))
	defer srv.Close()
	client, err := registry.NewConfluent(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	subjects, err := client.Subjects(ctx)
	if err != nil || len(subjects) != len(cat.Events()) {
		t.Fatalf("Subjects = %d, %v; want %d", len(subjects), err, len(cat.Events()))
	}
	for _, e := range cat.Events() {
		subject := registry.Subject(e.Topic)
		for i, sv := range e.Versions {
			want, _ := local.ID(e.Name, sv.Version)
			got, err := client.SchemaByID(ctx, want)
			if err != nil {
				t.Fatalf("%s: SchemaByID(%d): %v", sv.Path, want, err)
			}
			if !sameSchema(t, got.Text, sv.Schema) || got.Type != registry.TypeJSON {
				t.Errorf("%s: SchemaByID returned another schema (%s)", sv.Path, got.Type)
			}
			ss, err := client.Lookup(ctx, subject, sv.Schema)
			if err != nil || ss.ID != want || ss.Version != i+1 {
				t.Errorf("%s: Lookup = %+v, %v; want id %d version %d", sv.Path, ss, err, want, i+1)
			}
			id, err := client.Register(ctx, subject, sv.Schema)
			if err != nil || id != want {
				t.Errorf("%s: Register of a catalog schema = %d, %v; want %d", sv.Path, id, err, want)
			}
		}
		latest, err := client.Latest(ctx, subject)
		if err != nil || latest.Version != len(e.Versions) {
			t.Errorf("%s: Latest = %+v, %v", subject, latest, err)
		}
	}
	level, err := client.Compatibility(ctx, "")
	if err != nil || level != registry.GateLevel {
		t.Errorf("Compatibility = %q, %v; want %q", level, err, registry.GateLevel)
	}

	if _, err := client.SchemaByID(ctx, 7); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	if _, err := client.Register(ctx, "lead.created-value", []byte(`{"type":"object"}`)); err == nil {
		t.Error("registered a schema the catalog lacks")
	}
}

func TestHandlerErrors(t *testing.T) {
	local, err := registry.NewLocal(catalog.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.Handler(local))
	defer srv.Close()
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/schemas/ids/abc", "", 404, "40403"},
		{"GET", "/schemas/ids/-1", "", 404, "40403"},
		{"GET", "/subjects/nope-value/versions", "", 404, "40401"},
		{"GET", "/subjects/lead.created-value/versions/x", "", 422, "42202"},
		{"GET", "/subjects/lead.created-value/versions/99", "", 404, "4040"},
		{"POST", "/subjects/lead.created-value", "{", 422, "42201"},
		{"POST", "/subjects/lead.created-value", `{"schema":"{}","schemaType":"AVRO"}`, 422, "42201"},
		{"POST", "/subjects/lead.created-value", `{"schema":"{\"type\":\"string\"}"}`, 404, "4040"},
		{"GET", "/nowhere", "", 404, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != tt.status || !strings.Contains(body, `"error_code":`+tt.code) {
				t.Errorf("got %d %s; want %d with error_code %s…", resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}
}

func sameSchema(t *testing.T, a, b []byte) bool {
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
