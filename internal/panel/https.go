package panel

import (
	"time"

	"ferry/internal/certs"
	"ferry/internal/model"
)

// checkHTTPS checks the member's own certificate of a web-conf (normalized)
// at now: it must parse, be in order, match its key, cover every server
// name and be valid. The error names the fault and never quotes the key.
func checkHTTPS(it model.Item, now time.Time) error {
	h := it.Spec.HTTPS
	if it.Kind != model.KindWebConf || h == nil || h.Source != model.HTTPSOwn {
		return nil
	}
	if _, err := certs.Check([]byte(h.Cert), []byte(h.Key), it.Spec.ServerNames, now, nil); err != nil {
		return &model.FieldError{Field: "spec.https", Message: err.Error()}
	}
	return nil
}
