package lab

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleState(dir string) *State {
	return &State{
		Version: stateVersion,
		Dir:     dir,
		Status:  StatusRunning,
		Subnet:  1,
		UpPID:   42,
		Started: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Hosts: []Host{
			{Name: "web1", Address: "127.0.1.11", Roles: []string{RoleWeb}, InitPID: 100, Dir: filepath.Join(dir, "hosts/web1"), Services: []string{ServiceSSH}},
			{Name: "dns1", Address: "127.0.1.53", Roles: []string{RoleDNS}, InitPID: 101, Dir: filepath.Join(dir, "hosts/dns1"), Services: []string{ServiceKnot}},
		},
		Control: &ControlPlane{URL: "http://127.0.1.10:7080", Address: "127.0.1.10", PID: 99,
			DataDir: filepath.Join(dir, "control"), AdminTokenPath: filepath.Join(dir, "control/admin.token")},
		TSIG:    &TSIGKey{Name: "ferry-lab.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0"},
		Zones:   []string{"lab.test"},
		NFTable: "ferry_lab_1",
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := sampleState(dir)
	if err := want.write(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v, wrote %+v", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v; it holds the TSIG secret", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary state file left behind: %v", err)
	}
}

func TestReadStateMissing(t *testing.T) {
	if _, err := ReadState(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadState of an empty dir: %v, want ErrNotExist", err)
	}
}

// TestStateFileFormat pins the JSON names other tools read.
func TestStateFileFormat(t *testing.T) {
	data, err := json.Marshal(sampleState("/var/lib/ferry-lab"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"hosts"`, `"name"`, `"address"`, `"init_pid"`, `"control_plane"`, `"url"`, `"admin_token_path"`, `"tsig"`, `"secret"`, `"nft_table"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("state JSON lacks %s: %s", key, data)
		}
	}
}

func TestParseStateRefuses(t *testing.T) {
	base := func(edit func(*State)) string {
		s := sampleState("/var/lib/ferry-lab")
		edit(s)
		data, _ := json.Marshal(s)
		return string(data)
	}
	tests := []struct {
		name, data, want string
	}{
		{"not json", "{", "parse lab state"},
		{"unknown field", `{"version":1,"dir":"/x","bogus":1}`, "unknown field"},
		{"other version", base(func(s *State) { s.Version = 2 }), "version 2"},
		{"relative dir", base(func(s *State) { s.Dir = "lab" }), "not absolute"},
		{"repeated host", base(func(s *State) { s.Hosts[1].Name = "web1" }), "repeated host"},
		{"negative pid", base(func(s *State) { s.Hosts[0].InitPID = -1 }), "negative pid"},
		{"host dir outside", base(func(s *State) { s.Hosts[0].Dir = "/etc" }), "outside the lab"},
		{"host dir escaping", base(func(s *State) { s.Hosts[0].Dir = "/var/lib/ferry-lab/hosts/../../x" }), "outside the lab"},
		{"negative control pid", base(func(s *State) { s.Control.PID = -5 }), "negative control plane pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseState([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseState: %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// FuzzParseState: a state file is outside input (anyone with root may edit
// it); parsing must not panic, and what it accepts must keep hosts inside
// the lab directory.
func FuzzParseState(f *testing.F) {
	data, _ := json.Marshal(sampleState("/var/lib/ferry-lab"))
	f.Add(data)
	f.Add([]byte(`{"version":1,"dir":"/x","hosts":[{"name":"a","dir":"/x/hosts/a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseState(data)
		if err != nil {
			return
		}
		for _, h := range st.Hosts {
			if !within(filepath.Clean(h.Dir), filepath.Join(st.Dir, "hosts")) {
				t.Errorf("accepted host dir %q outside %q", h.Dir, st.Dir)
			}
		}
	})
}
