package typegen

import (
	"regexp"
	"strings"
)

// initialisms are written in capitals in Go names (lead_id → LeadID), as
// Go's own naming convention asks. Keys are lower case.
var initialisms = map[string]string{
	"ach": "ACH", "edi": "EDI", "pii": "PII", "pos": "POS", "sepa": "SEPA",
	"acl": "ACL", "api": "API", "bpmn": "BPMN", "cpu": "CPU", "crm": "CRM",
	"csv": "CSV", "cve": "CVE", "dns": "DNS", "erp": "ERP", "html": "HTML",
	"http": "HTTP", "https": "HTTPS", "id": "ID", "ioc": "IOC", "ip": "IP",
	"json": "JSON", "jwt": "JWT", "kpi": "KPI", "mfa": "MFA", "pdf": "PDF",
	"sku": "SKU", "sla": "SLA", "smtp": "SMTP", "sql": "SQL", "sso": "SSO",
	"tcp": "TCP", "tls": "TLS", "ttl": "TTL", "udp": "UDP", "ui": "UI",
	"uri": "URI", "url": "URL", "utc": "UTC", "uuid": "UUID", "vat": "VAT",
	"xml": "XML",
}

// propertyNameRE is what a property name may look like: it must become an
// exported Go name and a json tag without escaping.
var propertyNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// goName turns a schema name (snake_case, kebab-case, camelCase or
// SCREAMING_CASE) into an exported Go name: lead_id → LeadID,
// IN_PROGRESS → InProgress, v1-beta → V1Beta. Characters other than ASCII
// letters and digits only separate words; the result is "" if s has no
// letters or digits.
func goName(s string) string {
	var b strings.Builder
	for _, w := range splitWords(s) {
		b.WriteString(goWord(w))
	}
	return b.String()
}

// goWord capitalises one word, or spells it as an initialism; a plural
// initialism keeps a lower-case s (ids → IDs).
func goWord(w string) string {
	lw := strings.ToLower(w)
	if up, ok := initialisms[lw]; ok {
		return up
	}
	if up, ok := initialisms[strings.TrimSuffix(lw, "s")]; ok {
		return up + "s"
	}
	return strings.ToUpper(lw[:1]) + lw[1:]
}

// splitWords splits s at non-alphanumeric characters, at lower-to-upper
// case changes (leadId), before the last capital of a run of capitals that
// starts a word (HTTPStatus → HTTP Status) and between letters and digits
// (v1beta → v 1 beta).
func splitWords(s string) []string {
	var words []string
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) {
			if start >= 0 {
				words = append(words, s[start:i])
			}
			start = -1
			continue
		}
		if start >= 0 && wordBreak(s, i) {
			words = append(words, s[start:i])
			start = i
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// wordBreak reports whether a new word starts at s[i], which, like s[i-1],
// is a letter or digit.
func wordBreak(s string, i int) bool {
	prev, c := s[i-1], s[i]
	switch {
	case isDigit(prev) != isDigit(c):
		return true
	case isLower(prev) && isUpper(c):
		return true
	case isUpper(prev) && isUpper(c):
		return i+1 < len(s) && isLower(s[i+1])
	}
	return false
}

// singular names one element of an array field whose Go name is plural:
// LineItems → LineItem, Categories → Category, Addresses → Address. Names
// it cannot make singular get an Item suffix (Data → DataItem) rather than
// a wrong word.
func singular(name string) string {
	switch {
	case strings.HasSuffix(name, "ies") && len(name) > 3:
		return strings.TrimSuffix(name, "ies") + "y"
	case hasAnySuffix(name, "sses", "shes", "ches", "xes", "zes", "uses"):
		return strings.TrimSuffix(name, "es")
	case hasAnySuffix(name, "ss", "us", "is"):
		return name + "Item"
	case strings.HasSuffix(name, "s") && len(name) > 1:
		return strings.TrimSuffix(name, "s")
	}
	return name + "Item"
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isLower(c) || isUpper(c) }
