package schema

import "testing"

func TestStrictFormats(t *testing.T) {
	tests := []struct {
		format string
		value  string
		valid  bool
	}{
		{"email", "john.doe@example.com", true},
		{"email", "o'brien+tag@mail.example.co.uk", true},
		{"email", `"quoted local"@example.com`, true},
		{"email", "@example.com", false},
		{"email", "john@", false},
		{"email", "john@example.com.", false},
		{"email", "John <john@example.com>", false},
		{"email", "john@@example.com", false},
		{"email", "john doe@example.com", false},
		{"email", "", false},
		{"email", "jöhn@example.com", false},
		{"email", "john@exämple.com", false},
		{"email", "john@-example.com", false},
		{"email", "john@[192.0.2.1]", true},
		{"date-time", "2025-10-24T14:00:00Z", true},
		{"date-time", "2025-10-24t14:00:00.123456789z", true},
		{"date-time", "2025-10-24T14:00:00+05:30", true},
		{"date-time", "2016-12-31T23:59:60Z", true},
		{"date-time", "2016-12-31T14:00:60Z", false},
		{"date-time", "2025-10-24T+1:00:00Z", false},
		{"date-time", "2025-10-24T14:00:00", false},
		{"date-time", "2025-10-24 14:00:00Z", false},
		{"date-time", "2025-02-30T14:00:00Z", false},
		{"date-time", "2025-10-24T24:00:00Z", false},
		{"date-time", "2025-10-24T14:00:00+24:00", false},
		{"date-time", "+2025-10-24T14:00:00Z", false},
		{"date", "2025-10-24", true},
		{"date", "2025-13-01", false},
		{"date", "2025-1-01", false},
		{"date", "2025-10-24T00:00:00Z", false},
	}
	check := map[string]func(any) error{"email": validateEmail, "date-time": validateDateTime, "date": validateDate}
	for _, tt := range tests {
		err := check[tt.format](tt.value)
		if (err == nil) != tt.valid {
			t.Errorf("%s %q: err = %v, want valid=%v", tt.format, tt.value, err, tt.valid)
		}
	}
	if err := validateEmail(42); err != nil {
		t.Errorf("formats apply to strings only: %v", err)
	}
}
