package cli

import (
	"ferry/internal/client"
	"ferry/internal/pki"
)

// clientOptions are the API client options the global flags ask for: the
// CA to trust for https, and whether plain http off the loopback is
// allowed.
func (g *globals) clientOptions() (client.Options, error) {
	o := client.Options{Insecure: g.ops.insecure}
	if g.ops.caFile != "" {
		cfg, err := pki.ClientConfig(g.ops.caFile)
		if err != nil {
			return o, usageError{err}
		}
		o.TLS = cfg
	}
	return o, nil
}
