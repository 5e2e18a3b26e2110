package pii

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/inopsio/spine/schema"
)

// FuzzParseCiphertext holds the parser to the encoding's rules: what it
// accepts is canonical (re-encoding gives the same string), at least a nonce
// and a tag long, and matched by the schema pattern consumers validate with;
// what it refuses is ErrMalformed.
func FuzzParseCiphertext(f *testing.F) {
	for _, s := range []string{
		"spine:pii:v1:1:AAECAwQFBgcICQoLDW2-deWhrX7rQPIBNELDKOzlQ18ZHHT-",
		"spine:pii:v1:12:ICEiIyQlJicoKSorsIrisGYJgtslVDyKZj1td4dim_pRTVBk1mEgQR7P",
		"spine:pii:v1:0:" + strings.Repeat("A", 38),
		"spine:pii:v1:2147483648:" + strings.Repeat("A", 38),
		"spine:pii:v1:01:" + strings.Repeat("A", 38),
		"spine:pii:v1:1:" + strings.Repeat("A", 37),
		"spine:pii:v1:1:AAAA\nAAAA",
		"spine:pii:v1:1:AAAA=",
		"John Doe", "",
	} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(schema.EncryptedPIIPattern)
	f.Fuzz(func(t *testing.T, s string) {
		v, sealed, err := parseCiphertext([]byte(s), nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if IsCiphertext(s) {
				t.Fatal("IsCiphertext accepts what the parser refuses")
			}
			return
		}
		if !IsCiphertext(s) {
			t.Fatal("IsCiphertext refuses what the parser accepts")
		}
		if len(sealed) < NonceSize+TagSize || v < 0 || v > MaxKeyVersion {
			t.Fatalf("accepted version %d, %d sealed bytes", v, len(sealed))
		}
		if re := Prefix + strconv.Itoa(v) + ":" + b64.EncodeToString(sealed); re != s {
			t.Fatalf("not canonical: %q re-encodes as %q", s, re)
		}
		if !pattern.MatchString(s) {
			t.Fatalf("schema.EncryptedPIIPattern refuses a ciphertext: %q", s)
		}
	})
}
