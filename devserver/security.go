package devserver

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/keys"
	"github.com/inopsio/spine/token/issuer"
)

// ensureKeyring opens the local keyring of the data dir once, which creates
// its master key on the first start (unless $SPINE_MASTER_KEY holds one),
// and returns the master key's id for the log. The dev server encrypts
// nothing itself: the commands open the keyring when they need it.
func ensureKeyring(ctx context.Context, cfg Config) (string, error) {
	k, err := keys.Open(ctx, keys.Config{DataDir: cfg.DataDir, Logger: cfg.Logger})
	if err != nil {
		return "", fmt.Errorf("dev: keyring in %s: %w", cfg.DataDir, err)
	}
	id := k.KEKID()
	if err := k.Close(); err != nil {
		return "", fmt.Errorf("dev: keyring in %s: %w", cfg.DataDir, err)
	}
	return id, nil
}

// openIssuer opens the dev issuer in the data dir at url: its keys and the
// secrets of clients registered by earlier starts persist, and url is
// recorded for the commands that read the credentials.
func openIssuer(cfg Config, cat *catalog.Catalog, url string) (*issuer.Issuer, error) {
	is, err := issuer.Open(cfg.DataDir, issuer.Config{
		URL: url, Clients: Clients(cat, cfg.Clients...), Logger: cfg.Logger.With("component", "issuer"),
	})
	if err != nil {
		return nil, fmt.Errorf("dev: token issuer: %w", err)
	}
	return is, nil
}

// Clients returns the dev issuer's client ids: every service the catalog
// names (producers and consumers), CLIClient and extra, sorted and unique.
func Clients(cat *catalog.Catalog, extra ...string) []string {
	ids := append([]string{CLIClient}, extra...)
	for _, e := range cat.Events() {
		ids = append(ids, e.Source)
		ids = append(ids, e.Consumers...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// issuerURL is the issuer's URL as clients on this machine reach it: an
// unspecified listen address (":8080", "0.0.0.0:8080") is reached on the
// loopback.
func issuerURL(httpAddr, path string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		httpAddr = net.JoinHostPort(host, port)
	}
	return "http://" + httpAddr + path
}
