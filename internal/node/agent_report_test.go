package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"ferry/internal/client"
	"ferry/internal/node/apply"
	"ferry/internal/wire"
)

// A task's result survives a control plane that is restarting: the agent
// tries again instead of leaving the task to run again after its lease.
func TestTaskResultSurvivesAControlPlaneRestart(t *testing.T) {
	var calls atomic.Int32
	down := int32(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= down {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the control plane died mid-request
			}
			return
		}
		if r.URL.Path == "/api/v1/node/tasks/8/report" {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"status":409,"code":"refused","message":"task 8 is done, not leased"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":7,"state":"done"}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, "fy_test", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAgent(AgentOptions{Client: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := a.reportTask(context.Background(), 7, wire.TaskReport{OK: true}); err != nil || calls.Load() != 3 {
		t.Fatalf("report: %v after %d calls; want success on the third", err, calls.Load())
	}
	// A refusal is an answer: no retry.
	calls.Store(down)
	var ae *wire.Error
	if err := a.reportTask(context.Background(), 8, wire.TaskReport{OK: true}); !errors.As(err, &ae) || calls.Load() != down+1 {
		t.Errorf("refused report: %v after %d calls; want the refusal, once", err, calls.Load()-down)
	}
}

// The heartbeat carries the PHP-FPM versions the host has, for the panel
// and move plans.
func TestHeartbeatReportsPHPVersions(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"7.4", "8.2", "8.10"} {
		if err := os.MkdirAll(filepath.Join(root, "php", v, "fpm", "pool.d"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "sbin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "sbin", "php-fpm"+v), []byte("#!/bin/false\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	host := apply.New(apply.Config{MembersRoot: root, PHPRoot: filepath.Join(root, "php"), FPMBinDirs: []string{filepath.Join(root, "sbin")},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a := NewAgent(AgentOptions{Host: host, DiskPath: root, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if got := a.heartbeat().PHPVersions; !slices.Equal(got, []string{"7.4", "8.2", "8.10"}) {
		t.Errorf("heartbeat reports PHP %v, want 7.4 8.2 8.10", got)
	}
}
