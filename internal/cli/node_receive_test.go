package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNodeReceiveRefusesWithExitCode3(t *testing.T) {
	state := t.TempDir()
	dir := filepath.Join(state, "moves", "7")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	policy := `{"move_id": 7, "order": "example.org", "order_dir": "/home/members/coop/sites/example.org",
		"from_addr": "127.0.1.11", "databases": [{"engine": "mysql", "name": "shop"}], "logins": []}`
	if err := os.WriteFile(filepath.Join(dir, "policy.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		move, command, client, want string
	}{
		{"7", "ls -la /", "127.0.1.11 40000 22", `refused: "ls"`},
		{"7", "ferry-load mysql other", "127.0.1.11 40000 22", "not one of move 7's databases"},
		{"7", "rsync --server --sender -lHogtpAXre.Ls . /home/members/coop/sites/example.org/", "", "--sender"},
		{"7", "ferry-sums mysql shop", "127.0.1.99 40000 22", "not from the old host"},
		{"8", "ferry-sums mysql shop", "", "not authorised on this host"},
	}
	for _, tt := range tests {
		t.Setenv("SSH_ORIGINAL_COMMAND", tt.command)
		t.Setenv("SSH_CLIENT", tt.client)
		var out, errOut bytes.Buffer
		code := Run(context.Background(), []string{"node", "receive", "--move", tt.move, "--state", state}, strings.NewReader(""), &out, &errOut)
		if code != ExitRefused || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.command, code, errOut.String(), ExitRefused, tt.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", tt.command, out.String())
		}
	}
	var errOut bytes.Buffer
	if code := Run(context.Background(), []string{"node", "receive"}, strings.NewReader(""), &bytes.Buffer{}, &errOut); code != ExitUsage {
		t.Errorf("no --move: exit %d", code)
	}
}
