package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"ferry/internal/model"
)

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"bytes":      humanBytes,
	"when":       when,
	"stateClass": stateClass,
	"prettyJSON": prettyJSON,
	"join":       strings.Join,
	"seconds":    seconds,
	"short":      short,
	"list":       func(v ...any) []any { return v },
}

// seconds prints a duration in seconds with one decimal.
func seconds(s float64) string { return fmt.Sprintf("%.1f s", s) }

// short cuts a checksum to its first 12 characters, enough to compare by
// eye.
func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// humanBytes prints a size in binary units, as df -h does.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// when prints a time in UTC to the second; the zero time is "—".
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return when(*v)
	}
	return fmt.Sprint(t)
}

// stateClass names the CSS class that colours a state: ok, wait, warn,
// bad, limbo or gone.
func stateClass(s any) string {
	switch fmt.Sprint(s) {
	// Item, order and host states share "active".
	case string(model.StateActive), string(model.MoveSucceeded), string(model.PhaseDone):
		return "ok"
	case string(model.StateSoftError), string(model.HostDraining):
		return "warn"
	case string(model.StateHardError), string(model.MoveFailed):
		return "bad"
	case string(model.StateTransferLimbo):
		return "limbo"
	case string(model.StateDeleted), string(model.StateDisabled), string(model.HostRetired), string(model.PhaseAborted):
		return "gone"
	}
	return "wait"
}

// prettyJSON indents a JSON document for reading; other text is left as
// it is.
func prettyJSON(s string) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "", "  "); err != nil {
		return s
	}
	return buf.String()
}
