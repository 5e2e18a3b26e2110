package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Signing algorithms an Issuer can sign with.
const (
	RS256 = "RS256" // RSA-2048, PKCS#1 v1.5 with SHA-256: Keycloak's default
	ES256 = "ES256" // ECDSA P-256 with SHA-256
)

// newKey generates a private signing key for alg, its kid the RFC 7638
// thumbprint of the public key (stable across restarts, unique per key).
func newKey(alg string) (jose.JSONWebKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return jose.JSONWebKey{}, fmt.Errorf("issuer: algorithm %q is not supported (RS256 or ES256)", alg)
	}
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("issuer: generating %s key: %w", alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	pub := jwk.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("issuer: thumbprint of %s key: %w", alg, err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return jwk, nil
}

// keyring holds every key ever generated (all published) and which one signs
// per algorithm. Persisted as JSON with the private keys; file mode 0600.
type keyring struct {
	Keys   []jose.JSONWebKey `json:"keys"`
	Active map[string]string `json:"active"` // alg -> kid
}

// ensure makes sure each algorithm has an active key.
func (k *keyring) ensure(algs ...string) (changed bool, err error) {
	if k.Active == nil {
		k.Active = map[string]string{}
	}
	for _, alg := range algs {
		if key, ok := k.key(k.Active[alg]); ok && key.Algorithm == alg {
			continue
		}
		if err := k.rotate(alg); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// rotate adds a new key for alg and makes it active; older keys stay
// published so tokens they signed keep verifying.
func (k *keyring) rotate(alg string) error {
	jwk, err := newKey(alg)
	if err != nil {
		return err
	}
	k.Keys = append(k.Keys, jwk)
	k.Active[alg] = jwk.KeyID
	return nil
}

func (k *keyring) key(kid string) (jose.JSONWebKey, bool) {
	for _, j := range k.Keys {
		if j.KeyID == kid && kid != "" {
			return j, true
		}
	}
	return jose.JSONWebKey{}, false
}

// public returns the JWKS: public halves only.
func (k *keyring) public() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(k.Keys))}
	for _, j := range k.Keys {
		set.Keys = append(set.Keys, j.Public())
	}
	return set
}

// validate checks a loaded keyring: private keys of a supported kind.
func (k *keyring) validate() error {
	for _, j := range k.Keys {
		switch key := j.Key.(type) {
		case *rsa.PrivateKey:
			if key.N.BitLen() < 2048 || j.Algorithm != RS256 {
				return fmt.Errorf("key %q: RSA-%d for %q, want RSA ≥ 2048 for RS256", j.KeyID, key.N.BitLen(), j.Algorithm)
			}
		case *ecdsa.PrivateKey:
			if key.Curve != elliptic.P256() || j.Algorithm != ES256 {
				return fmt.Errorf("key %q: EC %s for %q, want P-256 for ES256", j.KeyID, key.Curve.Params().Name, j.Algorithm)
			}
		default:
			return fmt.Errorf("key %q: %T is not a private RSA or EC key", j.KeyID, j.Key)
		}
		if j.KeyID == "" {
			return fmt.Errorf("a %s key has no kid", j.Algorithm)
		}
	}
	return nil
}
