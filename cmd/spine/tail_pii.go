package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/inopsio/spine/audit"
	"github.com/inopsio/spine/bus"
	"github.com/inopsio/spine/catalog"
	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
	"github.com/inopsio/spine/pii"
)

// tailPIIFlags say whether and as whom `spine tail` decrypts PII.
type tailPIIFlags struct {
	ciphertext bool
	actor      string
	aud        auditConn
}

func (f *tailPIIFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.ciphertext, "ciphertext", false, "show PII fields as they travel (spine:pii:v1: ciphertext), even with the keyring at hand")
	fl.StringVar(&f.actor, "actor", envOr("SPINE_ACTOR", ""), "who reads PII, for the audit trail ($SPINE_ACTOR; default user:<OS user>)")
	f.aud.add(cmd)
}

// tailDecrypter turns the envelopes tail prints into plaintext, when it
// has a cipher; its zero value shows them as they are.
type tailDecrypter struct {
	cipher  *pii.Cipher
	audit   audit.Store
	actor   string
	log     *slog.Logger
	dataDir string
	warned  bool // that PII is shown as ciphertext for want of a keyring
}

// open returns the decrypter the flags ask for: one that decrypts, with the
// audit trail open, when the keyring is at hand and --ciphertext is not
// given; one that shows ciphertext otherwise.
func (f *tailPIIFlags) open(cmd *cobra.Command, conn *keysConn, cat *catalog.Catalog, log *slog.Logger) (_ *tailDecrypter, closeAll func(), err error) {
	d := &tailDecrypter{log: log, dataDir: conn.dataDir}
	if f.ciphertext {
		d.warned = true // asked for: nothing to warn about
		return d, func() {}, nil
	}
	if !conn.keyringAvailable() {
		return d, func() {}, nil
	}
	if d.actor, err = operatorActor(f.actor); err != nil {
		return nil, nil, err
	}
	if d.audit, err = f.aud.open(cmd.Context(), conn.dataDir); err != nil {
		return nil, nil, err
	}
	// Reading creates no keys: no audit for the keyring itself.
	ciph, closeKeys, err := openCipher(cmd, conn, cat, nil, "")
	if err != nil {
		_ = d.audit.Close()
		return nil, nil, err
	}
	d.cipher = ciph
	return d, func() { closeKeys(); _ = d.audit.Close() }, nil
}

// decrypt returns the envelope to print. A record whose PII does not
// decrypt is returned as it is and the failure reported on stderr; only a
// failure to write the audit trail stops tail, since PII must not be shown
// unrecorded.
func (d *tailDecrypter) decrypt(ctx context.Context, del *bus.Delivery, rec codec.Decoded) (event.Envelope, error) {
	env := rec.Envelope
	enc, ok := del.Record.Header(codec.HeaderEncryption)
	if !ok {
		return env, nil
	}
	if d.cipher == nil {
		if !d.warned {
			d.log.Warn("PII fields are shown as ciphertext: no keyring at hand (--data-dir, --vault-key)", "data_dir", d.dataDir)
			d.warned = true
		}
		return env, nil
	}
	h := env.Header
	if has, err := d.cipher.HasPII(h.EventName, h.Version); err != nil || !has {
		return env, nil // nothing to decrypt; an unknown event is printed as it is
	}
	entry := audit.Entry{Actor: d.actor, EventID: h.EventID, EventName: h.EventName, TenantID: h.TenantID,
		Detail: tailDetail(del.ID)}
	if string(enc) != pii.HeaderValue {
		d.log.Warn("unknown PII encryption; shown as it is", "position", del.ID, "event_id", h.EventID, codec.HeaderEncryption, string(enc))
		return env, nil
	}
	plain, err := d.cipher.Decrypt(ctx, h.EventName, h.Version, h.TenantID, h.EventID, env.Payload)
	if err != nil {
		d.log.Warn("PII does not decrypt; shown as ciphertext", "position", del.ID, "event_id", h.EventID, "error", err)
		entry.Action, entry.Outcome = "pii.decrypt", "failed"
		if _, aerr := d.audit.Append(ctx, entry); aerr != nil {
			return env, fmt.Errorf("audit trail: %w", aerr)
		}
		return env, nil
	}
	entry.Action, entry.Outcome = "event.read", "decrypted"
	if _, err := d.audit.Append(ctx, entry); err != nil {
		return env, fmt.Errorf("audit trail: %w", err)
	}
	env.Payload = plain
	return env, nil
}

// tailDetail is the detail of tail's audit rows.
func tailDetail(position string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"command": "spine tail", "position": position}) // strings: cannot fail
	return b
}
