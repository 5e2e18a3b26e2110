package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Entry is one row of the audit trail. Callers fill At (zero: now), Actor,
// Action, the event fields, Outcome and Detail; Append fills ID, PrevHash and
// Hash.
type Entry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	EventID   string          `json:"event_id"`
	EventName string          `json:"event_name"`
	TenantID  string          `json:"tenant_id"`
	Outcome   string          `json:"outcome"`
	Detail    json.RawMessage `json:"detail"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// Store is where the trail lives. Implementations are safe for concurrent use,
// also across processes sharing the database.
type Store interface {
	// Append writes entries as the next rows of the trail, all or none, and
	// returns them as written (ID, At, Detail, PrevHash and Hash set).
	Append(ctx context.Context, entries ...Entry) ([]Entry, error)
	// Rows returns up to limit rows (≤ 0: all) with id > after, in id order.
	Rows(ctx context.Context, after int64, limit int) ([]Entry, error)
	// Close releases the store's connections.
	Close() error
}

// Genesis is the prev_hash of the first row.
var Genesis = strings.Repeat("0", 64)

// TimeLayout is how `at` is written into the canonical row (and stored by
// SQLite): UTC with exactly six fractional digits, so that every store
// round-trips it (PostgreSQL keeps microseconds) and text sorts by time.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// ErrInvalid is wrapped by Append's errors for entries that cannot be
// written (no actor, action or outcome; a detail that is not a JSON object).
var ErrInvalid = errors.New("audit: invalid entry")

// Canonical is the byte string a row's hash covers: each column of the row
// but the two hashes, in table order — id (decimal), at (TimeLayout), actor,
// action, event_id, event_name, tenant_id, outcome, detail (as stored) — as
// a netstring "<byte length>:<bytes>,". Netstrings need no escaping, so any
// language reproduces them from the stored columns.
func Canonical(e Entry) []byte {
	fields := [...]string{
		strconv.FormatInt(e.ID, 10), e.At.UTC().Format(TimeLayout), e.Actor, e.Action,
		e.EventID, e.EventName, e.TenantID, e.Outcome, string(e.Detail),
	}
	var b []byte
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return b
}

// Hash returns hex(sha256(prevHash || Canonical(e))), prevHash being the
// previous row's hash as 64 lower-case hex characters.
func Hash(prevHash string, e Entry) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(Canonical(e))
	return hex.EncodeToString(h.Sum(nil))
}

// chain prepares entries to follow the row (lastID, lastHash): it numbers
// them, normalizes At and Detail to their stored form and links the hashes.
func chain(lastID int64, lastHash string, now time.Time, entries []Entry) ([]Entry, error) {
	out := make([]Entry, len(entries))
	prev := lastHash
	for i, e := range entries {
		if e.Actor == "" || e.Action == "" || e.Outcome == "" {
			return nil, fmt.Errorf("%w: entry %d needs an actor, an action and an outcome", ErrInvalid, i)
		}
		detail, err := normalizeDetail(e.Detail)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrInvalid, i, err)
		}
		if e.At.IsZero() {
			e.At = now
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Detail = detail
		e.ID = lastID + int64(i) + 1
		e.PrevHash = prev
		e.Hash = Hash(prev, e)
		prev = e.Hash
		out[i] = e
	}
	return out, nil
}

// normalizeDetail compacts a JSON object; an empty detail is "{}".
func normalizeDetail(d json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(d)) == 0 {
		return json.RawMessage("{}"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, d); err != nil {
		return nil, fmt.Errorf("detail is not JSON: %w", err)
	}
	if buf.Bytes()[0] != '{' {
		return nil, errors.New("detail is not a JSON object")
	}
	return buf.Bytes(), nil
}

// ChainError reports the first row where the chain breaks.
type ChainError struct {
	ID     int64  // the row
	Reason string // what is wrong with it
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit: chain broken at row %d: %s", e.ID, e.Reason)
}

// verifyPage is how many rows Verify reads at a time.
const verifyPage = 1000

// Verify walks the whole trail and checks that ids run 1, 2, 3…, that each
// row's prev_hash is the hash of the row before and that each hash matches
// its row. It returns the number of rows checked, and a *ChainError naming
// the first bad row.
//
// A chain cannot show that its newest rows were removed: what is left is a
// valid, shorter chain. Comparing the last hash with a copy kept elsewhere
// (the security issue's anchoring) closes that gap.
func Verify(ctx context.Context, s Store) (int64, error) {
	var lastID int64
	prev := Genesis
	for {
		rows, err := s.Rows(ctx, lastID, verifyPage)
		if err != nil {
			return lastID, err
		}
		for _, r := range rows {
			switch {
			case r.ID != lastID+1:
				return lastID, &ChainError{ID: r.ID, Reason: fmt.Sprintf("follows row %d: a row is missing", lastID)}
			case r.PrevHash != prev:
				return lastID, &ChainError{ID: r.ID, Reason: "prev_hash is not the hash of the row before"}
			case Hash(r.PrevHash, r) != r.Hash:
				return lastID, &ChainError{ID: r.ID, Reason: "hash does not match the row: it was changed"}
			}
			lastID, prev = r.ID, r.Hash
		}
		if len(rows) < verifyPage {
			return lastID, nil
		}
	}
}
