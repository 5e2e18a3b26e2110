// Package devserver runs the whole platform in one process — what `spine
// dev` starts: the embedded Kafka-protocol broker with every catalog topic,
// the local schema registry served over the Confluent REST API, the local
// keyring that encrypts PII, and a dev OpenID Connect issuer that hands out
// service tokens.
//
// # One data dir
//
// Everything persists in one directory (Config.DataDir, default ./.spine),
// laid out so that every other spine command given the same --data-dir
// finds it without further setup:
//
//	kafka/              the broker's log
//	keys/master.key     the local master key (0600), created on first start
//	keys/keyring.json   the per-tenant data keys, wrapped by the master key
//	issuer/             the issuer's signing keys and the client secrets
//	audit.db            the audit trail (written by the commands, not here)
//
// The master key is created here so that the first `spine publish` of an
// event with PII fields finds a keyring: publish refuses to invent one,
// because PII encrypted under a key nobody else has is lost.
//
// # The issuer
//
// The dev issuer (package token/issuer) is served on the HTTP server under
// /realms/spine, Keycloak's layout, so the issuer URL has the same shape as
// in production (http://<http-addr>/realms/spine). Its clients are every
// service of the catalog, producers and consumers, plus "spine-cli" for
// operator tools; their secrets persist in the data dir, where `spine
// publish` reads the producing service's one to obtain a token and `spine
// consume` reads the issuer URL to verify tokens. Nothing in production talks
// to it.
package devserver
