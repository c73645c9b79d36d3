package store

import (
	"context"
	"encoding/json"
	"fmt"

	"ferry/internal/model"
)

const hostCols = "name, addresses, roles, state, disk_capacity, last_seen, disk_free, disk_used, load_avg, version, created_at"

// hostReadCols are hostCols and what the host's node reports that a host
// carries besides (its PHP-FPM versions).
const hostReadCols = hostCols + ", php_versions"

func scanHost(s scanner) (model.Host, error) {
	var h model.Host
	var addrs, roles, php string
	err := s.Scan(&h.Name, &addrs, &roles, &h.State, &h.DiskCapacity,
		nullTimeCol{&h.LastSeen}, &h.DiskFree, &h.DiskUsed, &h.Load, &h.Version, timeCol{&h.CreatedAt}, &php)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal([]byte(php), &h.PHPVersions); err != nil {
		return h, fmt.Errorf("host %s php versions: %w", h.Name, err)
	}
	if len(h.PHPVersions) == 0 {
		h.PHPVersions = nil
	}
	if err := json.Unmarshal([]byte(addrs), &h.Addresses); err != nil {
		return h, fmt.Errorf("host %s addresses: %w", h.Name, err)
	}
	if err := json.Unmarshal([]byte(roles), &h.Roles); err != nil {
		return h, fmt.Errorf("host %s roles: %w", h.Name, err)
	}
	return h, nil
}

// hostLists encodes a host's addresses and roles as JSON arrays.
func hostLists(h *model.Host) (addrs, roles string, err error) {
	a, err := json.Marshal(nonNil(h.Addresses))
	if err != nil {
		return "", "", err
	}
	r, err := json.Marshal(nonNil(h.Roles))
	return string(a), string(r), err
}

// nonNil keeps an empty list an empty JSON array rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (t *tx) CreateHost(ctx context.Context, h *model.Host) error {
	addrs, roles, err := hostLists(h)
	if err != nil {
		return fmt.Errorf("create host %s: %w", h.Name, err)
	}
	at := now()
	err = t.change(ctx, "create host "+h.Name, nil,
		"INSERT INTO hosts ("+hostCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		h.Name, addrs, roles, h.State, h.DiskCapacity,
		h.LastSeen, h.DiskFree, h.DiskUsed, h.Load, h.Version, at)
	if err != nil {
		return err
	}
	h.CreatedAt = at
	return nil
}

func (t *tx) GetHost(ctx context.Context, name string) (model.Host, error) {
	return get(ctx, t, scanHost, "get host "+name,
		"SELECT "+hostReadCols+" FROM hosts WHERE name = ?", name)
}

func (t *tx) ListHosts(ctx context.Context) ([]model.Host, error) {
	return list(ctx, t, scanHost, "list hosts",
		"SELECT "+hostReadCols+" FROM hosts ORDER BY name")
}

func (t *tx) UpdateHost(ctx context.Context, h *model.Host) error {
	addrs, roles, err := hostLists(h)
	if err != nil {
		return fmt.Errorf("update host %s: %w", h.Name, err)
	}
	return t.change(ctx, "update host "+h.Name, nil,
		"UPDATE hosts SET addresses = ?, roles = ?, state = ?, disk_capacity = ? WHERE name = ?",
		addrs, roles, h.State, h.DiskCapacity, h.Name)
}

func (t *tx) DeleteHost(ctx context.Context, name string) error {
	return t.remove(ctx, host(name),
		`SELECT (SELECT COUNT(*) FROM orders WHERE host = ? AND state <> 'deleted')
			+ (SELECT COUNT(*) FROM items WHERE host = ? AND state <> 'deleted')`, "orders or items")
}

// RecordHeartbeat stores what the host's node reported; a heartbeat
// without LastSeen was seen now.
func (t *tx) RecordHeartbeat(ctx context.Context, host string, hb model.Heartbeat) error {
	seen := now()
	if hb.LastSeen != nil {
		seen = *hb.LastSeen
	}
	names, err := json.Marshal(hb.SystemNames)
	if err != nil || hb.SystemNames == nil {
		names = []byte("[]")
	}
	php, err := json.Marshal(nonNil(hb.PHPVersions))
	if err != nil {
		return fmt.Errorf("record heartbeat of %s: php versions: %w", host, err)
	}
	if hb.Usage != nil {
		usage, err := json.Marshal(hb.Usage)
		if err != nil {
			return fmt.Errorf("record heartbeat of %s: usage: %w", host, err)
		}
		if err := t.change(ctx, "record usage of "+host, nil, "UPDATE hosts SET usage_report = ? WHERE name = ?", string(usage), host); err != nil {
			return err
		}
	}
	return t.change(ctx, "record heartbeat of "+host, nil,
		"UPDATE hosts SET last_seen = ?, disk_free = ?, disk_used = ?, load_avg = ?, version = ?, system_names = ?, php_versions = ? WHERE name = ?",
		seen, hb.DiskFree, hb.DiskUsed, hb.Load, hb.Version, string(names), string(php), host)
}

// HostUsage returns what the host's node last measured, or nil if it has
// not yet.
func (t *tx) HostUsage(ctx context.Context, host string) (*model.HostUsage, error) {
	var raw string
	if err := t.queryRow(ctx, "SELECT usage_report FROM hosts WHERE name = ?", host).Scan(&raw); err != nil {
		return nil, failed(err, "usage of host "+host, nil)
	}
	if raw == "" || raw == "{}" {
		return nil, nil
	}
	var u model.HostUsage
	if err := json.Unmarshal([]byte(raw), &u); err != nil {
		return nil, fmt.Errorf("usage of host %s: %w", host, err)
	}
	return &u, nil
}
