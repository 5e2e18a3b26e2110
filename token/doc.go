// Package token obtains and checks the service tokens that authenticate
// every Spine record (spec §9: "Keycloak-issued service tokens attached in
// headers").
//
// A producer holds a Source: it finds the issuer's token endpoint by OpenID
// Connect discovery, fetches an access token with the OAuth2 client
// credentials grant (golang.org/x/oauth2/clientcredentials, client secret in
// HTTP Basic), caches it and fetches the next one before the current one
// expires — by default when less than max(30 s, 10% of its lifetime) is left.
// Concurrent callers share one request; if a refresh fails while the cached
// token is still good, the cached token is used and the refresh retried
// 5 s later, so an issuer blip does not stop publishing. Header returns the
// value of the record's "authorization" header, "Bearer <jwt>".
//
// A consumer holds a Verifier. Verify takes that header (or a bare JWT) and
// returns the Claims, or an *Error whose Reason says exactly what failed;
// errors.Is works with the Err* sentinels. The checks, in order: size
// (MaxTokenSize), Bearer scheme, JWS compact form, algorithm allow-list
// (asymmetric only: HS* and "none" cannot even be configured, so a JWKS's
// public key can never serve as an HMAC secret), the key by kid from the
// issuer's JWKS and the key type fitting the algorithm, the signature, then
// iss (exact), aud (must contain the configured audience), exp (required),
// nbf and iat with a leeway, typ ("Bearer" if present: Keycloak's ID and
// refresh tokens are refused), and the client (azp, client_id or clientId,
// which must agree). Whether that client may produce the event, and matches
// the record's source header, is the caller's check (package bus, with the
// catalog); Claims.RequireClient returns the matching ReasonClient error.
//
// # Why not go-oidc's verifier
//
// github.com/coreos/go-oidc/v3 verifies ID tokens. Its IDTokenVerifier
// checks aud against a single client id, has no leeway on exp and a fixed
// 5-minute one on nbf, and reports failures as strings. Its RemoteKeySet
// refetches the JWKS after any failed verification, including a forged
// signature under a known kid (one issuer request per forged record), reads
// the response unbounded, runs the fetch in a detached goroutine, and cannot
// tell an unknown kid from a bad signature. This package therefore uses
// go-jose/v4 directly for the JWS (parsing with the algorithm allow-list,
// signature verification, JWK decoding) and keeps its own key set: refreshed
// on an unknown kid or when older than an hour, at most once per 10 s,
// shared by concurrent lookups, bounded to 1 MiB, with no goroutines.
//
// A Verifier also remembers up to 1024 tokens that passed (by their exact
// bytes): a producer reuses its token for minutes, so a consumer pays one
// signature check per producer and token rather than one per record. Each
// hit re-checks exp and nbf against the clock.
//
// # Keycloak
//
// Keycloak puts no aud in a service-account token unless told to: add an
// "Audience" protocol mapper (included custom audience "spine", or a client
// named spine) to each producing client or to a default client scope. It
// sets azp to the client, and client_id (Keycloak 26) or clientId (older)
// for service accounts. Package token/issuer is a small stand-in with the
// same endpoints and claims for `spine dev` and the tests.
package token
