package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL says how the transport's clients authenticate to the brokers; the
// zero value authenticates nothing. The authenticated user is the Kafka
// principal ("User:crm-service") that the catalog's ACLs (package acl,
// `spine acl apply`) grant topics and groups to.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER
	// (any case).
	Mechanism string
	// User and Password are the login of PLAIN and SCRAM.
	User     string
	Password string
	// Token returns the bearer token of OAUTHBEARER: the service's own
	// OIDC token, e.g. (*token.Source).Token with its Keycloak client
	// credentials, so one identity both signs its events' authorization
	// header and logs in to the brokers. It is called at each login (every
	// new connection), so a cached, refreshed source is what fits.
	Token func(context.Context) (string, error)
}

// Mechanisms are the SASL mechanisms SASL.Mechanism accepts.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}

// String names the mechanism and user, never the password: a Config
// printed or logged with %v or %+v does not leak it.
func (s SASL) String() string {
	if !s.enabled() {
		return "SASL{}"
	}
	return fmt.Sprintf("SASL{%s %s password:%s token:%t}", s.Mechanism, s.User, redacted(s.Password), s.Token != nil)
}

// GoString is String for %#v.
func (s SASL) GoString() string { return s.String() }

// LogValue is String for log/slog.
func (s SASL) LogValue() slog.Value { return slog.StringValue(s.String()) }

func redacted(secret string) string {
	if secret == "" {
		return "none"
	}
	return "[redacted]"
}

func (s SASL) enabled() bool {
	return s.Mechanism != "" || s.User != "" || s.Password != "" || s.Token != nil
}

// mechanism returns franz-go's mechanism for s, or an error wrapping
// ErrConfig that names what is missing.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, fmt.Errorf("%w: SASL user %q or token given without a mechanism (%s)", ErrConfig, s.User, strings.Join(Mechanisms, ", "))
	}
	if strings.EqualFold(s.Mechanism, "OAUTHBEARER") {
		if s.Token == nil || s.User != "" || s.Password != "" {
			return nil, fmt.Errorf("%w: SASL OAUTHBEARER needs a Token func and no user or password", ErrConfig)
		}
		token := s.Token
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			t, err := token(ctx)
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("kafka: OAUTHBEARER token: %w", err)
			}
			return oauth.Auth{Token: t}, nil
		}), nil
	}
	if s.User == "" || s.Password == "" || s.Token != nil {
		return nil, fmt.Errorf("%w: SASL %s needs a user and a password (and no Token)", ErrConfig, s.Mechanism)
	}
	switch strings.ToUpper(s.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%w: unknown SASL mechanism %q (%s)", ErrConfig, s.Mechanism, strings.Join(Mechanisms, ", "))
}

// ClientOpts are the franz-go options that reach and authenticate to the
// brokers as the transport does (seed brokers, client id, dial timeout,
// TLS, SASL), for tools that need a raw client on the same cluster, such as
// `spine acl apply`. It validates the config as New does.
func (c Config) ClientOpts() ([]kgo.Opt, error) {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c.connOpts(), nil
}

// connOpts are the connection options of every client; c is validated.
func (c Config) connOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.DialTimeout),
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	if c.SASL.enabled() {
		m, _ := c.SASL.mechanism() // validated
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

// TLSFiles builds the TLS config of a Config from PEM files: caFile, when
// set, replaces the system roots (a private CA); certFile and keyFile,
// both or neither, are the client certificate of mutual TLS. TLS 1.2 is the
// minimum.
func TLSFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS CA file: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrConfig, caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("%w: a TLS client certificate needs both the certificate and the key file (got %q and %q)", ErrConfig, certFile, keyFile)
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS client certificate %s: %w", ErrConfig, certFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
