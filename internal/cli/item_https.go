package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"ferry/internal/model"
)

// httpsFlags are a web-conf's HTTPS settings as flags.
type httpsFlags struct {
	source       string
	certFile     string
	keyFile      string
	redirectHTTP bool
	hsts         bool
}

// httpsFlagNames are the flags httpsFlags registers.
var httpsFlagNames = []string{"https", "cert-file", "key-file", "redirect-http", "hsts"}

func (h *httpsFlags) register(f *pflag.FlagSet) {
	f.StringVar(&h.source, "https", "", "web-conf HTTPS certificate: acme (the host obtains and renews one), own (--cert-file and --key-file), or none")
	f.StringVar(&h.certFile, "cert-file", "", "web-conf --https own: the certificate chain, PEM, leaf first")
	f.StringVar(&h.keyFile, "key-file", "", "web-conf --https own: the certificate's private key, PEM, unencrypted (never shown again)")
	f.BoolVar(&h.redirectHTTP, "redirect-http", false, "web-conf with HTTPS: redirect plain HTTP to HTTPS (ACME challenges stay on HTTP)")
	f.BoolVar(&h.hsts, "hsts", false, "web-conf with HTTPS: send Strict-Transport-Security")
}

func (h *httpsFlags) changed(f *pflag.FlagSet) bool { return httpsFlagsChanged(f) }

func httpsFlagsChanged(f *pflag.FlagSet) bool {
	for _, n := range httpsFlagNames {
		if f.Changed(n) {
			return true
		}
	}
	return false
}

// read returns the settings the flags give, with the files' contents.
func (h *httpsFlags) read() (model.HTTPSSpec, error) {
	out := model.HTTPSSpec{Source: h.source, RedirectHTTP: h.redirectHTTP, HSTS: h.hsts}
	for _, r := range []struct {
		flag, file string
		dst        *string
	}{{"--cert-file", h.certFile, &out.Cert}, {"--key-file", h.keyFile, &out.Key}} {
		if r.file == "" {
			continue
		}
		data, err := readPEMFile(r.file)
		if err != nil {
			return out, usageError{fmt.Errorf("%s: %w", r.flag, err)}
		}
		*r.dst = data
	}
	return out, nil
}

// readPEMFile reads a certificate or key file, refusing one larger than a
// PEM chain can sensibly be.
func readPEMFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, model.MaxPEMSize+1))
	if err != nil {
		return "", err
	}
	if len(data) > model.MaxPEMSize {
		return "", fmt.Errorf("%s is larger than %d bytes, too large for a certificate chain or key", name, model.MaxPEMSize)
	}
	return string(data), nil
}

// layerHTTPS lays the HTTPS flags given in f (their values in in) on top
// of base, the spec's settings so far. --https none turns HTTPS off.
func layerHTTPS(base *model.HTTPSSpec, in *model.HTTPSSpec, f *pflag.FlagSet) *model.HTTPSSpec {
	var out model.HTTPSSpec
	if base != nil {
		out = *base
	}
	if in == nil {
		in = &model.HTTPSSpec{}
	}
	if f.Changed("https") {
		out.Source = in.Source
		if in.Source != model.HTTPSOwn {
			out.Cert, out.Key = "", ""
		}
	}
	if f.Changed("cert-file") {
		out.Cert = in.Cert
	}
	if f.Changed("key-file") {
		out.Key = in.Key
	}
	if f.Changed("redirect-http") {
		out.RedirectHTTP = in.RedirectHTTP
	}
	if f.Changed("hsts") {
		out.HSTS = in.HSTS
	}
	if out.Source == "none" {
		return nil
	}
	return &out
}
