package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/dnsserve"
)

// rfc2136Provider keeps the host's dns items on an existing primary server
// (Knot, BIND, PowerDNS) by TSIG-signed dynamic updates.
func rfc2136Provider(opts nodeOptions) (dnsserve.Provider, func(), error) {
	if opts.rfcServer == "" || opts.tsigName == "" || opts.tsigFile == "" {
		return nil, nil, usageError{errors.New("--dns-provider rfc2136 needs --rfc2136-server, --tsig-name and --tsig-secret-file")}
	}
	secret, err := os.ReadFile(opts.tsigFile)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--tsig-secret-file: %w", err)}
	}
	stateDir := filepath.Join(opts.stateDir, "dns")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, nil, err
	}
	p, err := dnsserve.NewRFC2136(dnsserve.RFC2136Config{
		Server:   opts.rfcServer,
		KeyName:  opts.tsigName,
		Secret:   strings.TrimSpace(string(secret)),
		StateDir: stateDir,
	})
	if err != nil {
		return nil, nil, err
	}
	return p, func() {}, nil
}
