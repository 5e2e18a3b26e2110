package typegen

import "testing"

func TestGoName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Properties.
		{"lead_id", "LeadID"},
		{"tenant_id", "TenantID"},
		{"bpmn_node_id", "BPMNNodeID"},
		{"ip_address", "IPAddress"},
		{"url", "URL"},
		{"callback_url", "CallbackURL"},
		{"api_key_id", "APIKeyID"},
		{"http_status", "HTTPStatus"},
		{"sla_breached", "SLABreached"},
		{"user_ids", "UserIDs"},
		{"source_urls", "SourceURLs"},
		{"https", "HTTPS"},
		{"line1", "Line1"},
		{"name", "Name"},
		{"leadId", "LeadID"},
		{"HTTPStatus", "HTTPStatus"},
		{"kebab-case-name", "KebabCaseName"},
		{"contains_pii", "ContainsPII"},
		// Enum values.
		{"PENDING", "Pending"},
		{"IN_PROGRESS", "InProgress"},
		{"in-progress", "InProgress"},
		{"in progress", "InProgress"},
		{"API_KEY", "APIKey"},
		{"P95", "P95"},
		{"v1-beta", "V1Beta"},
		{"v1beta2", "V1Beta2"},
		{"2FA", "2Fa"},
		{"100", "100"},
		{"ACH", "ACH"},
		{"a.b", "AB"},
		{"", ""},
		{"--", ""},
		{"é", ""},
	} {
		if got := goName(tc.in); got != tc.want {
			t.Errorf("goName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSingular(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"LeadCreatedTags", "LeadCreatedTag"},
		{"OrderReceivedItems", "OrderReceivedItem"},
		{"InvoiceGeneratedLineItems", "InvoiceGeneratedLineItem"},
		{"XCategories", "XCategory"},
		{"XAddresses", "XAddress"},
		{"XStatuses", "XStatus"},
		{"XBoxes", "XBox"},
		{"XMatches", "XMatch"},
		{"XUserIDs", "XUserID"},
		{"XStatus", "XStatusItem"},
		{"XAnalysis", "XAnalysisItem"},
		{"XData", "XDataItem"},
	} {
		if got := singular(tc.in); got != tc.want {
			t.Errorf("singular(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDocLines(t *testing.T) {
	long := "word word word word word word word word word word word word word word word word word"
	got := docLines(1, "", long, "second\n\nthird")
	want := []string{
		"// word word word word word word word word word word word word word word",
		"// word word word",
		"//",
		"// second",
		"//",
		"// third",
	}
	if len(got) != len(want) {
		t.Fatalf("docLines = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}
