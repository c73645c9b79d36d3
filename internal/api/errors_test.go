package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"ferry/internal/store"
)

// A write the store had no disk space for reaches the client as such, with
// what to do, not as an internal error.
func TestStoreFullIsInsufficientStorage(t *testing.T) {
	err := fmt.Errorf("create member ada: %w", fmt.Errorf("%w (/var/lib/ferry/ferry.db): database or disk is full (13)", store.ErrFull))
	ae := toError(err)
	if ae.Status != http.StatusInsufficientStorage || ae.Code != CodeStoreFull ||
		!strings.Contains(ae.Message, "nothing was changed; free space on its disk and try again") || !strings.Contains(ae.Message, "/var/lib/ferry/ferry.db") {
		t.Errorf("got %+v", ae)
	}
}
