package dnsserve

import (
	"context"
	"errors"
	"fmt"

	"ferry/internal/model"
)

// Provider makes a dns host's records real, on a server of its own or on
// one it drives.
type Provider interface {
	// Sync makes the provider serve exactly zones, which maps a zone name to
	// every record ferry holds in it. A zone served before and now absent
	// (or given no records) is dropped. A zone with an invalid record is
	// left as it was and named in the error; the other zones are still
	// applied. Sync with an unchanged state changes nothing.
	Sync(ctx context.Context, zones map[string][]Record) error
}

var (
	_ Provider = (*Server)(nil)
	_ Provider = (*RFC2136)(nil)
)

// desiredState is a Sync argument after checking.
type desiredState struct {
	// zones holds the canonical records of every valid zone that has any.
	zones map[string][]Record
	// failed names the zones with problems, which keep their old state.
	failed map[string]bool
	// err joins the problems.
	err error
}

// checkZones validates a Sync argument: zone names are normalized (records
// given under two spellings of one zone are merged) and each zone's records
// put in canonical form.
func checkZones(zones map[string][]Record) desiredState {
	d := desiredState{zones: make(map[string][]Record), failed: make(map[string]bool)}
	var errs []error
	merged := make(map[string][]Record, len(zones))
	for name, recs := range zones {
		z, err := model.NormalizeDomain(name, 2)
		if err != nil {
			errs = append(errs, fmt.Errorf("zone %q: %w", name, err))
			continue
		}
		merged[z] = append(merged[z], recs...)
	}
	for z, recs := range merged {
		canon, err := zoneRecords(z, recs)
		switch {
		case err != nil:
			d.failed[z] = true
			errs = append(errs, fmt.Errorf("zone %s: %w", z, err))
		case len(canon) > 0:
			d.zones[z] = canon
		}
	}
	d.err = errors.Join(errs...)
	return d
}
