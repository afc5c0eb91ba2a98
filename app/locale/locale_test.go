package locale

import (
	"os"
	"testing"
)

func TestFix(t *testing.T) {
	cases := []struct {
		lcAll, lang, language string
		want                  string // LANGUAGE afterwards
	}{
		{"", "C.UTF-8", "", "en"},
		{"", "C.utf8", "", "en"},
		{"", "POSIX.UTF-8", "", "en"},
		{"C.UTF-8", "de_DE.UTF-8", "", "en"},
		{"", "de_DE@euro", "", "de_DE"},
		{"", "C", "", ""},
		{"", "POSIX", "", ""},
		{"", "", "", ""},
		{"", "en_US.UTF-8", "", ""},
		{"", "fr_FR.UTF-8", "fr:en", "fr:en"},
		{"", "fr_FR.UTF-8", "fr:C.UTF-8", "fr:en"},
		{"", "fr_FR.UTF-8", "???", "en"},
	}
	for _, c := range cases {
		t.Setenv("LC_ALL", c.lcAll)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", c.lang)
		t.Setenv("LANGUAGE", c.language)
		Fix()
		if got := getenv("LANGUAGE"); got != c.want {
			t.Errorf("LC_ALL=%q LANG=%q LANGUAGE=%q: LANGUAGE became %q, want %q", c.lcAll, c.lang, c.language, got, c.want)
		}
	}
}

func getenv(k string) string { v, _ := os.LookupEnv(k); return v }
