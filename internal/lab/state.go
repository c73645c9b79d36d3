package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ferry/internal/atomicfile"
)

// stateVersion is the format version of lab.json.
const stateVersion = 1

// Lab statuses recorded in the state file.
const (
	StatusStarting = "starting"
	StatusRunning  = "running"
)

// State is the content of a lab's state file, lab.json: everything another
// process needs to use or remove the lab.
type State struct {
	Version int       `json:"version"`
	Dir     string    `json:"dir"`
	Status  string    `json:"status"`
	Subnet  int       `json:"subnet"`
	UpPID   int       `json:"up_pid"`
	Started time.Time `json:"started"`
	Hosts   []Host    `json:"hosts"`
	// Control is the control plane, when the lab started one.
	Control *ControlPlane `json:"control_plane,omitempty"`
	// TSIG is the key that dns1 accepts RFC 2136 updates with.
	TSIG *TSIGKey `json:"tsig,omitempty"`
	// Zones are the zones dns1 serves.
	Zones []string `json:"zones,omitempty"`
	// NFTable is the nftables table (family inet) the lab owns.
	NFTable string `json:"nft_table"`
	// AcmeCAFile is the root certificate the lab's ACME CA (Pebble) issues
	// under, for clients (curl --cacert) to trust the sites' certificates.
	AcmeCAFile string `json:"acme_ca_file,omitempty"`
	// AcmePID is the lab's ACME CA process.
	AcmePID int `json:"acme_pid,omitempty"`
	// PostgresPID and BalancerPID are the replicated control plane's
	// PostgreSQL server and HAProxy (replicas.go).
	PostgresPID int `json:"postgres_pid,omitempty"`
	BalancerPID int `json:"balancer_pid,omitempty"`
	// AcmeDirectory is the ACME directory URL of the lab's CA.
	AcmeDirectory string `json:"acme_directory,omitempty"`
	// CutOff lists the hosts currently cut off from the others.
	CutOff []string `json:"cut_off,omitempty"`
	// CutLinks lists the pairs of hosts currently cut apart from each
	// other (each still reaches every other address), names in order.
	CutLinks [][2]string `json:"cut_links,omitempty"`
}

// Host is one host of a running lab.
type Host struct {
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Roles   []string `json:"roles"`
	// InitPID is the host's first process, as seen from the machine; 0 until
	// it has been started.
	InitPID int `json:"init_pid"`
	// Dir holds the host's private copies of covered paths.
	Dir string `json:"dir"`
	// Services are the services the host runs (the agent is added to them
	// when it is started).
	Services []string `json:"services"`
}

// ControlPlane is the lab's `ferry serve`.
type ControlPlane struct {
	URL            string `json:"url"`
	Address        string `json:"address"`
	PID            int    `json:"pid"`
	DataDir        string `json:"data_dir"`
	AdminTokenPath string `json:"admin_token_path"`
	// StoreURL is the lab's PostgreSQL store when the control plane runs
	// as Replicas behind a balancer (replicas.go); URL is then the
	// balancer's and PID the first replica's.
	StoreURL string    `json:"store_url,omitempty"`
	Replicas []Replica `json:"replicas,omitempty"`
}

// TSIGKey is a TSIG key in the form DNS libraries and knsupdate take.
type TSIGKey struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Secret    string `json:"secret"`
}

// ParseState decodes a state file and checks that it is one this version of
// ferry can use.
func ParseState(data []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse lab state: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("parse lab state: version %d, want %d", s.Version, stateVersion)
	}
	if !filepath.IsAbs(s.Dir) {
		return nil, fmt.Errorf("parse lab state: dir %q is not absolute", s.Dir)
	}
	seen := map[string]bool{}
	for _, h := range s.Hosts {
		if h.Name == "" || seen[h.Name] {
			return nil, fmt.Errorf("parse lab state: empty or repeated host name %q", h.Name)
		}
		seen[h.Name] = true
		if h.InitPID < 0 {
			return nil, fmt.Errorf("parse lab state: host %s: negative pid", h.Name)
		}
		if !within(filepath.Clean(h.Dir), filepath.Join(s.Dir, "hosts")) {
			return nil, fmt.Errorf("parse lab state: host %s: dir %q outside the lab", h.Name, h.Dir)
		}
	}
	if s.Control != nil && s.Control.PID < 0 {
		return nil, errors.New("parse lab state: negative control plane pid")
	}
	return &s, nil
}

// ReadState reads the state file of the lab in dir. The error wraps
// os.ErrNotExist when there is none.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	return ParseState(data)
}

// write replaces the state file atomically (readers never see half a file).
func (s *State) write() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(s.Dir, StateFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

// host returns the host called name.
func (s *State) host(name string) (*Host, error) {
	for i := range s.Hosts {
		if s.Hosts[i].Name == name {
			return &s.Hosts[i], nil
		}
	}
	return nil, fmt.Errorf("host %q: %w", name, ErrNoHost)
}
