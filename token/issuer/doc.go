// Package issuer is a minimal OpenID Connect token issuer shaped like a
// Keycloak realm, for `spine dev` and for tests: nothing in production talks
// to it. It serves, below its URL's path,
//
//	/.well-known/openid-configuration   discovery
//	/protocol/openid-connect/certs      the JWKS
//	/protocol/openid-connect/token      client_credentials grant
//
// and mints access tokens with the claims of a Keycloak service-account
// token: iss, sub "service-account-<client>", azp and client_id <client>,
// aud (default "spine"), exp (default 5 min after iat), iat, jti, typ
// "Bearer", scope.
//
// The keys are real: an RSA-2048 key (RS256, the default signer) and an EC
// P-256 key (ES256), both published with RFC 7638 thumbprints as kids.
// Rotate adds a new key and keeps the old ones published, as a Keycloak key
// rotation does, which is how the tests drive a verifier's refresh on an
// unknown kid.
//
// Clients authenticate with client_secret_basic or client_secret_post.
// Secrets are 256 random bits, compared in constant time (SHA-256 of both
// sides, so the length leaks nothing either); request bodies are limited to
// 8 KiB.
//
// # Sharing a data dir
//
// Open keeps its state under <dataDir>/issuer (directory 0700, files 0600,
// written atomically): keys.json with the private keys, read only by the
// process serving the issuer, and credentials.json with the issuer URL and
// the client secrets, which LoadCredentials reads so that any spine command
// given the same data dir can build a token.Source for a client
// (Credentials.SourceConfig). New is the in-memory variant for tests.
package issuer
