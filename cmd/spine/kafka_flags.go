package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/bus/kafka"
	"github.com/inopsio/spine/token"
)

// DefaultBrokers is where every command looks for Kafka unless told:
// `spine dev`'s embedded broker.
const DefaultBrokers = "127.0.0.1:9092"

// saslPasswordEnv holds the SASL password. It is read from the environment
// only: a flag would show in ps and in shell history.
const saslPasswordEnv = "SPINE_KAFKA_SASL_PASSWORD"

// kafkaFlags say how every command reaches Kafka: the brokers, TLS and
// SASL, each with its environment default.
type kafkaFlags struct {
	brokers                string
	tls                    bool
	tlsCA, tlsCert, tlsKey string
	saslMechanism, user    string
	saslIssuer             string
}

func (k *kafkaFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&k.brokers, "brokers", envOr("SPINE_BROKERS", DefaultBrokers), "Kafka brokers, comma-separated ($SPINE_BROKERS)")
	fl.BoolVar(&k.tls, "tls", envOr("SPINE_KAFKA_TLS", "") == "1", "connect with TLS, trusting the system roots ($SPINE_KAFKA_TLS=1)")
	fl.StringVar(&k.tlsCA, "tls-ca", envOr("SPINE_KAFKA_TLS_CA", ""), "PEM file of the CA that signed the brokers' certificates; implies --tls ($SPINE_KAFKA_TLS_CA)")
	fl.StringVar(&k.tlsCert, "tls-cert", envOr("SPINE_KAFKA_TLS_CERT", ""), "PEM client certificate for mutual TLS; implies --tls ($SPINE_KAFKA_TLS_CERT)")
	fl.StringVar(&k.tlsKey, "tls-key", envOr("SPINE_KAFKA_TLS_KEY", ""), "PEM key of --tls-cert ($SPINE_KAFKA_TLS_KEY)")
	fl.StringVar(&k.saslMechanism, "sasl-mechanism", envOr("SPINE_KAFKA_SASL_MECHANISM", ""),
		strings.Join(kafka.Mechanisms, ", ")+"; empty: no authentication ($SPINE_KAFKA_SASL_MECHANISM)")
	fl.StringVar(&k.user, "sasl-user", envOr("SPINE_KAFKA_SASL_USER", ""),
		"SASL user (OAUTHBEARER: the OIDC client id); the password (client secret) is read from $"+saslPasswordEnv+" ($SPINE_KAFKA_SASL_USER)")
	fl.StringVar(&k.saslIssuer, "sasl-issuer", envOr("SPINE_KAFKA_SASL_ISSUER", ""),
		"OAUTHBEARER: the OIDC issuer whose client-credentials token is the login, e.g. Keycloak's realm URL ($SPINE_KAFKA_SASL_ISSUER)")
}

// config is the transport config the flags describe. Its errors are usage
// errors: they name the flag to fix. ctx bounds the OIDC discovery of
// OAUTHBEARER.
func (k *kafkaFlags) config(ctx context.Context, clientID string, log *slog.Logger) (kafka.Config, error) {
	cfg := kafka.Config{Brokers: splitBrokers(k.brokers), ClientID: clientID, Logger: log}
	if len(cfg.Brokers) == 0 {
		return cfg, usageErrorf("--brokers is empty")
	}
	if k.tls || k.tlsCA != "" || k.tlsCert != "" || k.tlsKey != "" {
		t, err := kafka.TLSFiles(k.tlsCA, k.tlsCert, k.tlsKey)
		if err != nil {
			return cfg, usageErrorf("--tls-ca/--tls-cert/--tls-key: %v", err)
		}
		cfg.TLS = t
	}
	if k.saslMechanism == "" && k.user == "" && k.saslIssuer == "" {
		return cfg, nil
	}
	pass := os.Getenv(saslPasswordEnv)
	if k.saslMechanism == "" || k.user == "" || pass == "" {
		return cfg, usageErrorf("SASL needs --sasl-mechanism, --sasl-user and the password in $%s", saslPasswordEnv)
	}
	if !strings.EqualFold(k.saslMechanism, "OAUTHBEARER") {
		if k.saslIssuer != "" {
			return cfg, usageErrorf("--sasl-issuer is for --sasl-mechanism OAUTHBEARER")
		}
		cfg.SASL = kafka.SASL{Mechanism: k.saslMechanism, User: k.user, Password: pass}
		return cfg, nil
	}
	if k.saslIssuer == "" {
		return cfg, usageErrorf("--sasl-mechanism OAUTHBEARER needs --sasl-issuer")
	}
	src, err := token.NewSource(ctx, token.SourceConfig{Issuer: k.saslIssuer, ClientID: k.user,
		ClientSecret: token.Secret(pass), Logger: log})
	if err != nil {
		return cfg, fmt.Errorf("kafka login (OAUTHBEARER) as %s: %w", k.user, err)
	}
	cfg.SASL = kafka.SASL{Mechanism: "OAUTHBEARER", Token: src.Token}
	return cfg, nil
}

// transport opens a transport on the flags' cluster.
func (k *kafkaFlags) transport(ctx context.Context, clientID string, log *slog.Logger) (*kafka.Transport, error) {
	cfg, err := k.config(ctx, clientID, log)
	if err != nil {
		return nil, err
	}
	t, err := kafka.New(cfg)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return t, nil
}

func splitBrokers(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}
