package receive

import (
	"bytes"
	"encoding/pem"
	"io"
)

// maxTLSBundle bounds what a ferry-tls may send: a chain of a few
// certificates and one key.
const maxTLSBundle = 256 << 10

// readTLSBundle reads what ferry-tls is sent (its stdin): PEM blocks, the
// chain's CERTIFICATE blocks leaf first and exactly one private key, and
// nothing else but blanks. It returns the chain and the key, each as PEM;
// whether they belong together and to the site is the host's to check.
// Refusals never quote what was sent.
func readTLSBundle(stdin io.Reader) (chain, key []byte, err error) {
	if stdin == nil {
		return nil, nil, Refused("%s: nothing on stdin", CmdTLS)
	}
	data, err := io.ReadAll(io.LimitReader(stdin, maxTLSBundle+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxTLSBundle {
		return nil, nil, Refused("%s: more than %d bytes", CmdTLS, maxTLSBundle)
	}
	return splitTLSBundle(data)
}

// splitTLSBundle splits data into the chain's PEM and the key's PEM.
func splitTLSBundle(data []byte) (chain, key []byte, err error) {
	var certs, keys int
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if len(b.Headers) > 0 {
			return nil, nil, Refused("%s: a PEM block with headers (an encrypted key?)", CmdTLS)
		}
		switch b.Type {
		case "CERTIFICATE":
			chain = append(chain, pem.EncodeToMemory(b)...)
			certs++
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			if keys++; keys > 1 {
				return nil, nil, Refused("%s: more than one private key", CmdTLS)
			}
			key = pem.EncodeToMemory(b)
		default:
			return nil, nil, Refused("%s: a PEM block of type %q", CmdTLS, clip(b.Type, 40))
		}
		if certs > 10 {
			return nil, nil, Refused("%s: a chain of more than 10 certificates", CmdTLS)
		}
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, nil, Refused("%s: something other than PEM blocks", CmdTLS)
	}
	if certs == 0 {
		return nil, nil, Refused("%s: no certificate", CmdTLS)
	}
	if keys == 0 {
		return nil, nil, Refused("%s: no private key", CmdTLS)
	}
	return chain, key, nil
}
