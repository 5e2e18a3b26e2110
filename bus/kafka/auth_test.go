package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/codec"
)

// Bad SASL settings are refused by New, naming what is wrong. (The SASL
// logins themselves are tested against kfake and Apache Kafka with ACLs in
// package acl: TestSpineClientsUnderGrants, and OAUTHBEARER with Keycloak
// tokens, TestKeycloakLoginUnderGrants.)
func TestSASLConfigErrors(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	cases := []struct {
		name string
		sasl kafka.SASL
		want string // in the error; "" = accepted
	}{
		{"none", kafka.SASL{}, ""},
		{"plain", kafka.SASL{Mechanism: "PLAIN", User: "u", Password: "p"}, ""},
		{"scram lower case", kafka.SASL{Mechanism: "scram-sha-512", User: "u", Password: "p"}, ""},
		{"unknown mechanism", kafka.SASL{Mechanism: "GSSAPI", User: "u", Password: "p"}, `unknown SASL mechanism "GSSAPI"`},
		{"user without mechanism", kafka.SASL{User: "u", Password: "p"}, `SASL user "u" or token given without a mechanism`},
		{"token without mechanism", kafka.SASL{Token: token}, "given without a mechanism"},
		{"no password", kafka.SASL{Mechanism: "SCRAM-SHA-256", User: "u"}, "SASL SCRAM-SHA-256 needs a user and a password"},
		{"no user", kafka.SASL{Mechanism: "PLAIN", Password: "p"}, "SASL PLAIN needs a user and a password"},
		{"plain with a token", kafka.SASL{Mechanism: "PLAIN", User: "u", Password: "p", Token: token}, "(and no Token)"},
		{"oauthbearer", kafka.SASL{Mechanism: "oauthbearer", Token: token}, ""},
		{"oauthbearer without token", kafka.SASL{Mechanism: "OAUTHBEARER"}, "SASL OAUTHBEARER needs a Token func and no user or password"},
		{"oauthbearer with a password", kafka.SASL{Mechanism: "OAUTHBEARER", Token: token, User: "u", Password: "p"}, "no user or password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:1"}, SASL: c.sasl, Logger: testLogger()})
			if c.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				tr.Close()
				return
			}
			if !errors.Is(err, kafka.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want ErrConfig with %q", err, c.want)
			}
		})
	}
}

// testCA writes a self-signed certificate for 127.0.0.1 and its key as PEM
// files and returns their paths and the server's TLS certificate.
func testCA(t *testing.T) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "spine test broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// Over a TLS listener a transport configured with TLSFiles sends and reads
// back; one that does not trust the broker's certificate fails the
// handshake instead of falling back to plaintext.
func TestTLS(t *testing.T) {
	caFile, keyFile, cert := testCA(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "lead.created"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()

	tlsCfg, err := kafka.TLSFiles(caFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := kafka.New(kafka.Config{Brokers: addr, TLS: tlsCfg, Logger: testLogger(), DeliveryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := tr.Send(ctx, codec.Record{Topic: "lead.created", Key: []byte("k"), Value: []byte("over tls")}); err != nil {
		t.Fatalf("Send over TLS: %v", err)
	}
	var got string
	err = tr.Read(ctx, kafka.ReadOptions{Topics: []string{"lead.created"}, FromBeginning: true, UntilEnd: true},
		func(_ context.Context, d *bus.Delivery) error { got = string(d.Record.Value); return nil })
	if err != nil || got != "over tls" {
		t.Fatalf("Read over TLS: %q, %v", got, err)
	}

	// The system roots do not hold the test CA.
	untrusting, err := kafka.New(kafka.Config{Brokers: addr, TLS: &tls.Config{MinVersion: tls.VersionTLS12}, Logger: testLogger(), DeliveryTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	var unknown x509.UnknownAuthorityError
	if err := untrusting.Send(ctx, codec.Record{Topic: "lead.created", Value: []byte("x")}); !errors.As(err, &unknown) {
		t.Fatalf("Send to a broker with an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
	}

	// The client certificate of mutual TLS loads (the test CA is its own leaf).
	if _, err := kafka.TLSFiles(caFile, caFile, keyFile); err != nil {
		t.Fatalf("TLSFiles with a client certificate: %v", err)
	}
}

func TestTLSFilesErrors(t *testing.T) {
	caFile, keyFile, _ := testCA(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, ca, cert, key, want string
	}{
		{"missing CA file", "/no/such/ca.pem", "", "", "TLS CA file"},
		{"CA file without PEM", notPEM, "", "", "holds no PEM certificate"},
		{"certificate without key", "", caFile, "", "needs both the certificate and the key file"},
		{"key without certificate", "", "", keyFile, "needs both the certificate and the key file"},
		{"key that is no key", "", caFile, notPEM, "TLS client certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := kafka.TLSFiles(c.ca, c.cert, c.key)
			if !errors.Is(err, kafka.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("TLSFiles: %v, want ErrConfig with %q", err, c.want)
			}
		})
	}
}

// The password never shows when a Config is printed or logged.
func TestSASLRedacted(t *testing.T) {
	cfg := kafka.Config{Brokers: []string{"b:9092"}, SASL: kafka.SASL{Mechanism: "PLAIN", User: "crm-service", Password: "hunter2-secret"}}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "sasl", cfg.SASL)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("the password shows in %q", out)
		}
		if !strings.Contains(out, "crm-service") {
			t.Errorf("the user is missing from %q", out)
		}
	}
}
