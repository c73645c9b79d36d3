package metrics

import (
	"testing"
	"time"
)

func TestSiteCertificateExpiry(t *testing.T) {
	m := New(Options{Version: "1", Role: "node"})
	certs := []SiteCertificate{{Site: "example.org", Source: "acme", NotAfter: time.Unix(1800000000, 0)}}
	m.SiteCertificates(func() []SiteCertificate { return certs })
	wantLines(t, scrape(t, m.Handler()), `ferry_site_certificate_expiry_timestamp_seconds{site="example.org",source="acme"} 1.8e+09`)
	// Read at each scrape: a renewed certificate shows at once.
	certs = []SiteCertificate{{Site: "example.org", Source: "acme", NotAfter: time.Unix(1900000000, 0)}}
	wantLines(t, scrape(t, m.Handler()), `ferry_site_certificate_expiry_timestamp_seconds{site="example.org",source="acme"} 1.9e+09`)
	var nilM *Metrics
	nilM.SiteCertificates(func() []SiteCertificate { return nil })
}
