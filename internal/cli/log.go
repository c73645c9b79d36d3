package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// underSystemd reports whether ferry runs as a systemd service, whose
// output goes to the journal: systemd sets INVOCATION_ID for every
// service, and JOURNAL_STREAM when its output goes to the journal.
func underSystemd() bool {
	return os.Getenv("JOURNAL_STREAM") != "" || os.Getenv("INVOCATION_ID") != ""
}

// newLogger returns a logger for long-running commands: text for a
// terminal, JSON under systemd (format "auto"), or as format says.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if level == "" {
		level = "info"
	}
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "auto", "":
		if underSystemd() {
			return slog.New(slog.NewJSONHandler(w, opts)), nil
		}
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: use text, json or auto", format)}
}

// logger is newLogger for the global flags, on the command's stderr.
func (g *globals) logger() (*slog.Logger, error) {
	return newLogger(g.stderr, g.ops.logFormat, g.ops.logLevel)
}
