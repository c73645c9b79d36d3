package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SiteCertificate is one HTTPS site's certificate as a node serves it.
type SiteCertificate struct {
	Site     string // the site's first server name
	Source   string // acme or own
	NotAfter time.Time
}

var certExpiryDesc = prometheus.NewDesc(namespace+"_site_certificate_expiry_timestamp_seconds",
	"When the certificate each HTTPS site of this node serves expires (Unix time), by site (its first server name) and source (acme, own). Alert on time() - this nearing zero: an ACME certificate renews a third of its lifetime (at least 30 days) before.",
	[]string{"site", "source"}, nil)

// certCollector reads the sites' certificates at scrape time.
type certCollector struct {
	list func() []SiteCertificate
}

func (c *certCollector) Describe(ch chan<- *prometheus.Desc) { ch <- certExpiryDesc }

func (c *certCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sc := range c.list() {
		ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(sc.NotAfter.Unix()), sc.Site, sc.Source)
	}
}

// SiteCertificates has each scrape report the expiry of the certificates
// list returns (a node's HTTPS sites).
func (m *Metrics) SiteCertificates(list func() []SiteCertificate) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&certCollector{list: list})
}
