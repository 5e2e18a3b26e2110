package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/pii"
	"github.com/inopsio/spine/token"
)

// PIICipher encrypts and decrypts the PII fields of payloads; *pii.Cipher
// implements it.
type PIICipher interface {
	Encrypt(ctx context.Context, eventName, version, tenantID, eventID string, payload []byte) ([]byte, error)
	Decrypt(ctx context.Context, eventName, version, tenantID, eventID string, payload []byte) ([]byte, error)
}

// TokenSource gives the authorization header value ("Bearer …") a
// producer attaches to every record; *token.Source implements it.
type TokenSource interface {
	Header(ctx context.Context) (string, error)
}

// TokenVerifier checks a record's authorization header at the time the
// event was produced; *token.Verifier implements it.
type TokenVerifier interface {
	VerifyAt(ctx context.Context, authorization string, at time.Time) (*token.Claims, error)
}

// WithPII encrypts the PII fields of every published event with c before it
// leaves the client (spec §9), and decrypts them for handlers. Without it a
// client refuses to publish an event that carries PII fields (unless
// WithPlaintextPII), and its handlers see PII as ciphertext.
func WithPII(c PIICipher) Option { return func(cl *Client) { cl.pii = c } }

// WithPlaintextPII lets PII fields travel unencrypted: published as they
// are, and accepted without the spine-encryption header when consumed. It
// exists for tests and for migrating producers; never use it in production.
func WithPlaintextPII() Option { return func(cl *Client) { cl.plaintextPII = true } }

// WithTokenSource attaches a service token to every published record, in
// the authorization header.
func WithTokenSource(s TokenSource) Option { return func(cl *Client) { cl.tokens = s } }

// WithTokenVerifier makes the consumer check every record's token before
// the handler sees the event: signature, issuer, audience and lifetime (at
// the event's timestamp), and that the token's client is the event's
// catalog producer and its source header. A record failing the check is
// dead-lettered (kind "auth"); one whose check cannot run now (the issuer's
// keys are unreachable) is retried.
func WithTokenVerifier(v TokenVerifier) Option { return func(cl *Client) { cl.verifier = v } }

// WithAudit records, in the audit trail, every publish and consume of an
// event that carries PII fields, and every failed decryption (spec §9),
// under actor (a service name). A consumer running handlers concurrently
// should pass an audit.Batcher, which merges their rows into one
// transaction (group commit) instead of one each.
func WithAudit(s audit.Store, actor string) Option {
	return func(cl *Client) { cl.audit, cl.actor = s, actor }
}

// Error kinds of the security checks (header spine-error-kind).
const (
	KindDecrypt   = "decrypt"   // PII ciphertext that cannot be decrypted: tampered, moved, shredded key
	KindPlaintext = "plaintext" // PII fields arrived unencrypted
	KindAuth      = "auth"      // the service token is missing, invalid, or not the producer's
)

// ErrPlaintextPII is returned by Publish for an event with PII fields when
// the client can neither encrypt them nor was told to send plaintext.
var ErrPlaintextPII = errors.New("event carries PII fields and the client has no PII cipher (bus.WithPII)")

// permanentDecrypt reports decryption failures no retry can fix.
func permanentDecrypt(err error) bool {
	return errors.Is(err, pii.ErrTampered) || errors.Is(err, pii.ErrMalformed) ||
		errors.Is(err, pii.ErrNotString) || errors.Is(err, pii.ErrInvalidPayload) ||
		errors.Is(err, keys.ErrShredded) || errors.Is(err, keys.ErrUnknownVersion) ||
		errors.Is(err, keys.ErrUnknownTenant) || errors.Is(err, keys.ErrInvalidTenant) ||
		errors.Is(err, keys.ErrUnwrap)
}

// checkToken verifies m's token; a transient failure is returned as err,
// a rejection as rej.
func (c *Client) checkToken(ctx context.Context, m *Message, producer string) (rej *rejection, err error) {
	v, _ := lookupHeader(m.Headers, "authorization")
	claims, verr := c.verifier.VerifyAt(ctx, v, m.Header.Timestamp)
	var te *token.Error
	switch {
	case errors.As(verr, &te) && te.Reason == token.ReasonUnavailable:
		return nil, fmt.Errorf("verify token of %s: %w", m.Header.EventID, verr)
	case verr != nil:
		return &rejection{KindAuth, verr}, nil
	}
	if err := claims.RequireClient(producer); err != nil {
		return &rejection{KindAuth, fmt.Errorf("token of client %q may not produce %s (the catalog names %q): %w",
			claims.ClientID, m.Header.EventName, producer, err)}, nil
	}
	if claims.ClientID != m.Header.Source {
		return &rejection{KindAuth, fmt.Errorf("source header %q is not the token's client %q", m.Header.Source, claims.ClientID)}, nil
	}
	return nil, nil
}

// auditPII appends one row per event to the audit trail. A failed write is
// returned: an event that carries PII is not handled unrecorded.
func (c *Client) auditPII(ctx context.Context, action, outcome string, entries ...audit.Entry) error {
	if c.audit == nil || len(entries) == 0 {
		return nil
	}
	for i := range entries {
		entries[i].Actor, entries[i].Action, entries[i].Outcome = c.actor, action, outcome
	}
	if _, err := c.audit.Append(ctx, entries...); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// secure runs the checks of spec §9 on a checked message before its handler
// sees it: the service token, then decryption of the PII fields and
// validation of the plaintext, then the audit row of the access.
func (c *Client) secure(ctx context.Context, group string, m *Message) (*rejection, error) {
	if c.verifier != nil {
		if rej, err := c.checkToken(ctx, m, m.event.Source); rej != nil || err != nil {
			return rej, err
		}
	}
	decrypted := false
	if m.Encrypted && c.pii != nil {
		h := m.Header
		plain, err := c.pii.Decrypt(ctx, h.EventName, h.Version, h.TenantID, h.EventID, m.Payload)
		if err != nil {
			entry := audit.Entry{EventID: h.EventID, EventName: h.EventName, TenantID: h.TenantID,
				Detail: detailJSON("group", group)}
			if aerr := c.auditPII(ctx, "pii.decrypt", "failed", entry); aerr != nil {
				return nil, aerr
			}
			switch {
			case errors.Is(err, pii.ErrInvalidPayload) || errors.Is(err, pii.ErrNotString):
				return &rejection{KindSchema, err}, nil
			case permanentDecrypt(err):
				return &rejection{KindDecrypt, err}, nil
			}
			return nil, fmt.Errorf("decrypt %s: %w", h.EventID, err)
		}
		// The one validation of an encrypted payload, on the plaintext: a
		// producer could encrypt what it never validated.
		if rej := c.validatePayload(c.validator.ValidateKey, m.event, h, plain); rej != nil {
			return rej, nil
		}
		m.Payload, decrypted = plain, true
	}
	if m.hasPII {
		outcome := "ciphertext"
		if decrypted {
			outcome = "decrypted"
		} else if !m.Encrypted {
			outcome = "plaintext"
		}
		entry := audit.Entry{EventID: m.Header.EventID, EventName: m.Header.EventName, TenantID: m.Header.TenantID,
			Detail: detailJSON("group", group, "position", m.ID)}
		if err := c.auditPII(ctx, "event.consume", outcome, entry); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// lookupHeader returns the value of the first header named k.
func lookupHeader(hs []codec.Header, k string) (string, bool) {
	for _, h := range hs {
		if h.Key == k {
			return string(h.Value), true
		}
	}
	return "", false
}

// detailJSON is an audit row's detail object of the given key, value pairs.
func detailJSON(kv ...string) json.RawMessage {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m) // strings only: cannot fail
	return b
}

// consumeGrant refuses topics the client's service (WithSource) may not
// consume: every catalog event on them must list it among its consumers.
// Topics the catalog does not know are the transport's business.
func (c *Client) consumeGrant(topics []string) error {
	if c.source == "" {
		return nil
	}
	for _, t := range topics {
		for _, e := range c.cat.Events() {
			if e.Topic == t && !slices.Contains(e.Consumers, c.source) {
				return &ConsumeGrantError{Topic: t, Event: e.Name, Service: c.source, Consumers: e.Consumers}
			}
		}
	}
	return nil
}

// protectPII returns d with the PII fields of its payload encrypted (the
// client has a cipher) or redacted: a record that arrived with PII in
// plaintext is dead-lettered without it, the one dead letter whose value is
// not the original's bytes (spec §9: no plaintext PII in a DLQ). The record
// on its own topic is the producer's breach to fix; retention removes it.
func (c *Client) protectPII(ctx context.Context, d *Delivery) *Delivery {
	dec, err := codec.Decode(d.Record)
	if err != nil || len(d.Record.Value) < codec.FrameHeader {
		return d // check decoded it, so this cannot happen
	}
	h := dec.Envelope.Header
	var body []byte
	protected := *d
	protected.Record.Headers = slices.Clone(d.Record.Headers)
	if c.pii != nil {
		body, err = c.pii.Encrypt(ctx, h.EventName, h.Version, h.TenantID, h.EventID, dec.Envelope.Payload)
		if err == nil {
			protected.Record.Headers = append(protected.Record.Headers, codec.Header{Key: codec.HeaderEncryption, Value: []byte(pii.HeaderValue)})
		}
	}
	if c.pii == nil || err != nil {
		if body, err = c.redactor.Redact(h.EventName, h.Version, dec.Envelope.Payload); err != nil {
			c.log.ErrorContext(ctx, "cannot redact PII of a dead letter; dropping its payload", "position", d.ID, "error", err)
			body = []byte("{}")
		}
	}
	protected.Record.Value = append(slices.Clone(d.Record.Value[:codec.FrameHeader]), body...)
	return &protected
}

// noKeys is the key store of the redaction-only cipher: it has none.
type noKeys struct{}

var errNoKeys = errors.New("bus: the redaction cipher has no keys")

func (noKeys) Current(context.Context, string) (int, []byte, error) { return 0, nil, errNoKeys }
func (noKeys) Get(context.Context, string, int) ([]byte, error)     { return nil, errNoKeys }
