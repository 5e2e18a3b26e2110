package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/twmb/franz-go/pkg/sr"
)

// Confluent is a Registry speaking the Confluent Schema Registry REST API,
// with schema type JSON. It is safe for concurrent use.
type Confluent struct {
	cl  *sr.Client
	url string
}

// ConfluentOption configures NewConfluent.
type ConfluentOption func(*confluentConfig)

type confluentConfig struct {
	opts []sr.ClientOpt
}

// WithBasicAuth authenticates every request with HTTP basic auth, as
// Confluent Cloud API keys and most self-hosted registries expect.
func WithBasicAuth(user, password string) ConfluentOption {
	return func(c *confluentConfig) { c.opts = append(c.opts, sr.BasicAuth(user, password)) }
}

// WithHTTPClient sends requests through hc (timeouts, TLS, proxies,
// instrumentation). The default is franz-go's: a 5-second timeout.
func WithHTTPClient(hc *http.Client) ConfluentOption {
	return func(c *confluentConfig) { c.opts = append(c.opts, sr.HTTPClient(hc)) }
}

// NewConfluent returns a client of the registry at baseURL, e.g.
// http://127.0.0.1:8081 or, for Apicurio, http://host:8080/apis/ccompat/v7.
// It makes no request.
func NewConfluent(baseURL string, opts ...ConfluentOption) (*Confluent, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("registry: bad registry URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry: bad registry URL %q: want http:// or https:// and a host", baseURL)
	}
	var cfg confluentConfig
	for _, o := range opts {
		o(&cfg)
	}
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(baseURL), sr.UserAgent("spine")}, cfg.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("registry: %s: %w", baseURL, err)
	}
	return &Confluent{cl: cl, url: baseURL}, nil
}

// URL returns the registry's base URL.
func (c *Confluent) URL() string { return c.url }

// fail wraps err, turning the registry's error response into an *APIError.
func (c *Confluent) fail(what string, err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		msg := re.Message
		if msg == "" {
			msg = string(re.Raw)
		}
		err = &APIError{Method: re.Method, URL: re.URL, StatusCode: re.StatusCode, Code: re.ErrorCode, Message: msg}
	}
	return fmt.Errorf("registry: %s at %s: %w", what, c.url, err)
}

// jsonSchema is the request body for schema: its canonical form, type JSON.
func jsonSchema(subject string, schema []byte) (sr.Schema, error) {
	canon, err := CanonicalJSON(schema)
	if err != nil {
		return sr.Schema{}, fmt.Errorf("registry: schema for subject %q: %w", subject, err)
	}
	return sr.Schema{Schema: string(canon), Type: sr.TypeJSON}, nil
}

func fromSR(s sr.Schema) Schema {
	return Schema{Type: SchemaType(s.Type.String()), Text: []byte(s.Schema)}
}

func fromSRSubject(s sr.SubjectSchema) SubjectSchema {
	return SubjectSchema{Subject: s.Subject, Version: s.Version, ID: s.ID, Schema: fromSR(s.Schema)}
}

// Register implements Registry. The registry checks the schema against the
// subject's compatibility level; a refusal matches ErrIncompatible.
func (c *Confluent) Register(ctx context.Context, subject string, schema []byte) (int, error) {
	s, err := jsonSchema(subject, schema)
	if err != nil {
		return 0, err
	}
	id, err := c.cl.RegisterSchema(ctx, subject, s, -1, -1)
	if err != nil {
		return 0, c.fail(fmt.Sprintf("register schema under subject %q", subject), err)
	}
	return id, nil
}

// Lookup implements Registry.
func (c *Confluent) Lookup(ctx context.Context, subject string, schema []byte) (SubjectSchema, error) {
	s, err := jsonSchema(subject, schema)
	if err != nil {
		return SubjectSchema{}, err
	}
	ss, err := c.cl.LookupSchema(ctx, subject, s)
	if err != nil {
		return SubjectSchema{}, c.fail(fmt.Sprintf("look up schema under subject %q", subject), err)
	}
	if ss.Subject == "" { // some registries omit what the request named
		ss.Subject = subject
	}
	return fromSRSubject(ss), nil
}

// SchemaByID implements Registry.
func (c *Confluent) SchemaByID(ctx context.Context, id int) (Schema, error) {
	s, err := c.cl.SchemaByID(ctx, id)
	if err != nil {
		return Schema{}, c.fail(fmt.Sprintf("get schema id %d", id), err)
	}
	return fromSR(s), nil
}

// SchemaByVersion implements Registry.
func (c *Confluent) SchemaByVersion(ctx context.Context, subject string, version int) (SubjectSchema, error) {
	if version < 1 { // sr reads -1 as "latest": keep that behind Latest
		return SubjectSchema{}, fmt.Errorf("registry: subject %q version %d: %w: versions start at 1", subject, version, ErrNotFound)
	}
	return c.byVersion(ctx, subject, version)
}

// Latest implements Registry.
func (c *Confluent) Latest(ctx context.Context, subject string) (SubjectSchema, error) {
	return c.byVersion(ctx, subject, -1)
}

func (c *Confluent) byVersion(ctx context.Context, subject string, version int) (SubjectSchema, error) {
	ss, err := c.cl.SchemaByVersion(ctx, subject, version)
	if err != nil {
		v := fmt.Sprint(version)
		if version == -1 {
			v = "latest"
		}
		return SubjectSchema{}, c.fail(fmt.Sprintf("get subject %q version %s", subject, v), err)
	}
	return fromSRSubject(ss), nil
}

// Versions implements Registry.
func (c *Confluent) Versions(ctx context.Context, subject string) ([]int, error) {
	vs, err := c.cl.SubjectVersions(ctx, subject)
	if err != nil {
		return nil, c.fail(fmt.Sprintf("list versions of subject %q", subject), err)
	}
	slices.Sort(vs)
	return vs, nil
}

// Subjects implements Registry.
func (c *Confluent) Subjects(ctx context.Context) ([]string, error) {
	ss, err := c.cl.Subjects(ctx)
	if err != nil {
		return nil, c.fail("list subjects", err)
	}
	slices.Sort(ss)
	return ss, nil
}

// CheckCompatibility implements Registry. It asks the registry to check
// against all versions (POST /compatibility/subjects/{s}/versions): the
// registry then applies the subject's level exactly as a registration would,
// comparing with the latest version only for non-transitive levels. A
// subject that does not exist yet is compatible, as registration would be.
func (c *Confluent) CheckCompatibility(ctx context.Context, subject string, schema []byte) (CompatibilityResult, error) {
	s, err := jsonSchema(subject, schema)
	if err != nil {
		return CompatibilityResult{}, err
	}
	res, err := c.cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -2, s)
	if err != nil {
		err = c.fail(fmt.Sprintf("check compatibility under subject %q", subject), err)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == sr.ErrSubjectNotFound.Code {
			return CompatibilityResult{Compatible: true, Messages: []string{"subject has no versions yet"}}, nil
		}
		return CompatibilityResult{}, err
	}
	return CompatibilityResult{Compatible: res.Is, Messages: res.Messages}, nil
}

// Compatibility implements Registry.
func (c *Confluent) Compatibility(ctx context.Context, subject string) (CompatibilityLevel, error) {
	res := c.cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), subject)[0]
	if res.Err != nil {
		return "", c.fail(fmt.Sprintf("get compatibility of %s", subjectName(subject)), res.Err)
	}
	return CompatibilityLevel(res.Level.String()), nil
}

// SetCompatibility implements Registry.
func (c *Confluent) SetCompatibility(ctx context.Context, subject string, level CompatibilityLevel) error {
	if err := level.Validate(); err != nil {
		return err
	}
	var l sr.CompatibilityLevel
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("registry: %w %q: %v", ErrInvalidLevel, string(level), err)
	}
	res := c.cl.SetCompatibility(ctx, sr.SetCompatibility{Level: l}, subject)[0]
	if res.Err != nil {
		return c.fail(fmt.Sprintf("set compatibility of %s to %s", subjectName(subject), level), res.Err)
	}
	return nil
}

func subjectName(subject string) string {
	if subject == "" {
		return "the registry default"
	}
	return fmt.Sprintf("subject %q", subject)
}

var _ Registry = (*Confluent)(nil)
