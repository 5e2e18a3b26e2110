package schema

import (
	"errors"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The reference validator's own email, date-time and date checks are lax in
// ways a contract should not be: it accepts "@example.com",
// "john@example.com." and "2025-10-24T+1:00:00Z". These stricter checks
// replace them. The fast path (fast_format.go) accepts a subset of what
// they accept, which the differential tests hold it to.
var strictFormats = []*jsonschema.Format{
	{Name: "email", Validate: validateEmail},
	{Name: "date-time", Validate: validateDateTime},
	{Name: "date", Validate: validateDate},
}

// validateEmail accepts an RFC 5321 mailbox, nothing more: no display
// name or comments, a local part (dot-atom or quoted, at most 64 octets)
// and a domain that is a hostname or an address literal, all ASCII.
func validateEmail(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil // formats apply to strings only
	}
	if len(s) > 254 {
		return errors.New("longer than 254 characters")
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 { // JSON Schema's email is RFC 5321: ASCII (idn-email is the other)
			return errors.New("not ASCII: an internationalized address is idn-email")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return errors.New("needs a local part and a domain")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return errors.New("local part longer than 64 characters")
	}
	// net/mail checks the local part's RFC 5322 syntax (dot-atom or quoted
	// string); a placeholder domain keeps its domain rules out of it.
	addr, err := mail.ParseAddress(local + "@example.com")
	if err != nil || addr.Name != "" || strings.ContainsAny(local, "<>()") {
		return errors.New("the local part is not an RFC 5322 dot-atom or quoted string")
	}
	if strings.HasPrefix(domain, "[") {
		if !validAddressLiteral(domain) {
			return errors.New("domain is not an address literal")
		}
		return nil
	}
	for label := range strings.SplitSeq(domain, ".") {
		if !hostnameLabelRE.MatchString(label) {
			return errors.New("domain is not a hostname")
		}
	}
	return nil
}

// validAddressLiteral checks "[192.0.2.1]" and "[IPv6:2001:db8::1]".
func validAddressLiteral(d string) bool {
	if !strings.HasSuffix(d, "]") {
		return false
	}
	inner := d[1 : len(d)-1]
	if v6, ok := strings.CutPrefix(inner, "IPv6:"); ok {
		a, err := netip.ParseAddr(v6)
		return err == nil && a.Is6() && !a.Is4In6()
	}
	a, err := netip.ParseAddr(inner)
	return err == nil && a.Is4()
}

var hostnameLabelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// RFC 3339 §5.6, with the full-date and full-time productions spelled out:
// no signs, no missing digits.
var (
	dateRE     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	dateTimeRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)
)

func validateDate(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if !dateRE.MatchString(s) {
		return errors.New("not an RFC 3339 full-date (YYYY-MM-DD)")
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return errors.New("not a calendar date")
	}
	return nil
}

func validateDateTime(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	m := dateTimeRE.FindStringSubmatch(s)
	if m == nil {
		return errors.New("not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM))")
	}
	// A leap second (:60) is valid RFC 3339; Go's parser rejects it, so
	// check the rest of the value with :59 in its place.
	norm := strings.ToUpper(m[1] + "T" + m[2] + ":" + m[3] + ":" + strings.Replace(m[4], "60", "59", 1) + m[5] + m[6])
	ts, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return errors.New("not a valid date and time")
	}
	if m[4] == "60" && (ts.UTC().Hour() != 23 || ts.UTC().Minute() != 59) {
		return errors.New("a leap second is only 23:59:60 UTC")
	}
	if m[6] != "Z" && m[6] != "z" && (m[6][1:3] > "23" || m[6][4:6] > "59") {
		return errors.New("offset out of range")
	}
	return nil
}
