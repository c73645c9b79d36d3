package hostexec

import (
	"strings"
	"testing"
)

func TestCommandOutputIsOneReadableLine(t *testing.T) {
	got := commandOutput([]byte("AH00526: Syntax error on line 12 of /etc/apache2/sites-enabled/x.conf:\nInvalid command 'Bogus'\n\nAction 'configtest' failed.\n"), []byte("ignored"))
	want := "AH00526: Syntax error on line 12 of /etc/apache2/sites-enabled/x.conf: | Invalid command 'Bogus' | Action 'configtest' failed."
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := commandOutput(nil, []byte(" only stdout \n")); got != "only stdout" {
		t.Errorf("stdout fallback: got %q", got)
	}
	long := commandOutput([]byte(strings.Repeat("é", 400)), nil)
	if len(long) > 610 || !strings.HasSuffix(long, " …") || !strings.HasPrefix(long, "éé") {
		t.Errorf("long output not cut cleanly: %d bytes", len(long))
	}
}
