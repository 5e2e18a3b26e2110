package codec_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inopsio/spine/codec"
	"github.com/inopsio/spine/event"
)

// headerBlob packs headers as "name=value" lines so the fuzzer can add,
// drop, repeat and corrupt them; a value cannot hold a newline.
func headerBlob(hs []codec.Header) []byte {
	var b bytes.Buffer
	for i, h := range hs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(h.Key)
		b.WriteByte('=')
		b.Write(h.Value)
	}
	return b.Bytes()
}

func parseBlob(blob []byte) []codec.Header {
	if len(blob) == 0 {
		return nil
	}
	var hs []codec.Header
	for line := range bytes.SplitSeq(blob, []byte{'\n'}) {
		k, v, _ := bytes.Cut(line, []byte{'='})
		hs = append(hs, codec.Header{Key: string(k), Value: v})
	}
	return hs
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(leadTenant), []byte{0, 0, 0, 0, 1, '{', '}'}, headerBlob(leadRecord(f).Headers))
	// Every golden vector, valid and invalid, seeds the corpus.
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, p := range paths {
		r := readVector(f, p).record(f)
		f.Add(r.Key, r.Value, headerBlob(r.Headers))
	}
	f.Fuzz(func(t *testing.T, key, value, blob []byte) {
		rec := codec.Record{Topic: "fuzz.topic", Key: key, Value: value, Headers: parseBlob(blob)}
		d, err := codec.Decode(rec)
		if err != nil {
			var de *codec.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, event.ErrInvalid) || de.Field == "" || de.Topic != rec.Topic {
				t.Fatalf("error %v (%T) is not a complete *DecodeError", err, err)
			}
			if de.Field != "value" && de.Field != "key" && de.Field != "header" && !strings.HasPrefix(de.Field, "header:") {
				t.Fatalf("unexpected field %q", de.Field)
			}
			return
		}
		h := d.Envelope.Header
		if err := h.Validate(); err != nil {
			t.Fatalf("decoded a header that does not validate: %v", err)
		}
		if string(key) != h.TenantID || d.SchemaID < 1 || d.SchemaID > codec.MaxSchemaID || len(d.Envelope.Payload) == 0 {
			t.Fatalf("decoded an inconsistent record: %+v", d)
		}
		// Whatever decodes re-encodes to a record that decodes the same,
		// unless its extra headers repeat a name (which Encode never writes).
		if _, err := codec.Encode(rec.Topic, d.Envelope, d.SchemaID, d.Extra...); err != nil {
			for i, x := range d.Extra {
				for _, y := range d.Extra[:i] {
					if x.Key == y.Key {
						return
					}
				}
			}
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
		again, err := codec.Encode(rec.Topic, d.Envelope, d.SchemaID, d.Extra...)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := codec.Decode(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !d2.Envelope.Header.Timestamp.Equal(h.Timestamp) || d2.SchemaID != d.SchemaID ||
			!bytes.Equal(d2.Envelope.Payload, d.Envelope.Payload) || !sameHeaders(d2.Extra, d.Extra) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", d, d2)
		}
		h2 := d2.Envelope.Header
		h2.Timestamp, h.Timestamp = h.Timestamp, h2.Timestamp
		if h2 != d.Envelope.Header {
			t.Fatalf("round trip changed the header:\n%+v\n%+v", d.Envelope.Header, d2.Envelope.Header)
		}
	})
}

func FuzzUnframe(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 1, '{', '}'})
	f.Add([]byte{0, 0x7f, 0xff, 0xff, 0xff, '1'})
	f.Add([]byte{0, 0x80, 0, 0, 0, '1'})
	f.Add([]byte{1, 0, 0, 0, 1, '1'})
	f.Fuzz(func(t *testing.T, value []byte) {
		id, payload, err := codec.Unframe(value)
		if err != nil {
			var de *codec.DecodeError
			if !errors.As(err, &de) || de.Field != "value" || !errors.Is(err, event.ErrInvalid) {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		if id < 1 || id > codec.MaxSchemaID || len(payload) == 0 {
			t.Fatalf("Unframe accepted id %d payload %q", id, payload)
		}
		if !bytes.Equal(codec.Frame(id, payload), value) {
			t.Fatalf("Frame does not invert Unframe for %x", value)
		}
	})
}
