package cli

import (
	"github.com/spf13/pflag"

	"ferry/internal/model"
)

// registerPHPFlags adds the flags of a web-conf's PHP settings.
func registerPHPFlags(f *pflag.FlagSet, p *model.PHPSettings) {
	f.StringVar(&p.PHPVersion, "php-version", "", "web-conf PHP version, X.Y, among those its host has (default: the host's newest)")
	f.StringVar(&p.MemoryLimit, "memory-limit", "", "web-conf PHP memory_limit, 16M to 4G (default "+model.DefaultMemoryLimit+")")
	f.StringVar(&p.UploadMaxFilesize, "upload-max-filesize", "", "web-conf PHP upload_max_filesize (default "+model.DefaultUploadMaxFilesize+")")
	f.StringVar(&p.PostMaxSize, "post-max-size", "", "web-conf PHP post_max_size, at least --upload-max-filesize (default "+model.DefaultPostMaxSize+", or the upload size when larger)")
	f.IntVar(&p.MaxChildren, "max-children", 0, "web-conf PHP-FPM pm.max_children, 1 to 50 (default 5)")
}

// mergePHP lays the PHP flags given in f on top of cur.
func mergePHP(cur *model.PHPSettings, in model.PHPSettings, f *pflag.FlagSet) {
	for flag, apply := range map[string]func(){
		"php-version":         func() { cur.PHPVersion = in.PHPVersion },
		"memory-limit":        func() { cur.MemoryLimit = in.MemoryLimit },
		"upload-max-filesize": func() { cur.UploadMaxFilesize = in.UploadMaxFilesize },
		"post-max-size":       func() { cur.PostMaxSize = in.PostMaxSize },
		"max-children":        func() { cur.MaxChildren = in.MaxChildren },
	} {
		if f.Changed(flag) {
			apply()
		}
	}
}
