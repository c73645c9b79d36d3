package dnsserve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"ferry/internal/atomicfile"
)

// serverStateFile is where Server keeps its zones, under Config.StateDir.
const serverStateFile = "zones.json"

// stateVersion is the format of the files this package writes. A file of
// another version is refused rather than misread.
const stateVersion = 1

// serverState is Server's persisted data: enough to answer exactly as
// before a restart, serials included.
type serverState struct {
	Version int `json:"version"`
	// NS and RName are the SOA and NS names the zones were built with; when
	// the configuration changes them, every zone gets a new serial.
	NS    []string `json:"ns"`
	RName string   `json:"rname,omitempty"`
	// Zones maps a zone's name to its serial and canonical records.
	Zones map[string]stateZone `json:"zones"`
	// Retired holds the last serial of zones no longer served, as long as
	// that serial is ahead of the clock, so that a zone served again goes on
	// above it and its secondaries take the new data.
	Retired map[string]uint32 `json:"retired,omitempty"`
}

type stateZone struct {
	Serial  uint32   `json:"serial"`
	Records []Record `json:"records"`
}

// readJSON decodes the JSON file at path into v. A missing file leaves v as
// it is and is not an error: nothing was saved yet.
func readJSON(path string, v any) (found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return true, nil
}

// writeJSON replaces the file at path with v as JSON, atomically: a crash
// leaves either the old file or the new one, never a part.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
