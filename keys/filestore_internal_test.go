package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestKeyringFileGolden: testdata/keyring/valid.json decodes to known
// records and encodes back byte for byte: the file format is stable.
func TestKeyringFileGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "keyring", "valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := decodeKeyring(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	want := Record{Tenant: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Version: 1,
		Created: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Shredded: time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)}
	if got := recs[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("record 1 = %+v, want %+v", got, want)
	}
	if string(recs[0].Wrapped) != "vault:v1:AAAA" || !recs[0].Created.Equal(time.Date(2026, 1, 15, 9, 30, 0, 123456000, time.UTC)) {
		t.Errorf("record 0 = %+v", recs[0])
	}
	out, err := encodeKeyring(recs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Errorf("re-encoded file differs:\n%s\nwant:\n%s", out, data)
	}
}

func TestKeyringFileInvalid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "keyring", "invalid", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatal("no invalid keyring files", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if recs, err := decodeKeyring(data); err == nil {
				t.Errorf("decoded to %+v", recs)
			}
		})
	}
}

// FuzzDecodeKeyring: the decoder never panics, and whatever it accepts
// re-encodes to a file that decodes to the same records.
func FuzzDecodeKeyring(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "keyring", "*.json"))
	invalid, _ := filepath.Glob(filepath.Join("testdata", "keyring", "invalid", "*.json"))
	for _, s := range append(seeds, invalid...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := decodeKeyring(data)
		if err != nil {
			return
		}
		for i := 1; i < len(recs); i++ {
			a, b := recs[i-1], recs[i]
			if a.Tenant > b.Tenant || (a.Tenant == b.Tenant && a.Version >= b.Version) {
				t.Fatalf("records out of order or repeated: %+v, %+v", a, b)
			}
		}
		out, err := encodeKeyring(recs)
		if err != nil {
			t.Fatalf("accepted records do not encode: %v", err)
		}
		again, err := decodeKeyring(out)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v\n%s", err, out)
		}
		if len(again) != len(recs) {
			t.Fatalf("%d records, then %d", len(recs), len(again))
		}
		for i := range recs {
			a, b := recs[i], again[i]
			if a.Tenant != b.Tenant || a.Version != b.Version || a.KEK != b.KEK || !bytes.Equal(a.Wrapped, b.Wrapped) ||
				!a.Created.Equal(b.Created) || !a.Shredded.Equal(b.Shredded) {
				t.Fatalf("record %d changed in a round trip: %+v → %+v", i, a, b)
			}
		}
	})
}
