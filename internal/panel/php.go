package panel

import (
	"context"
	"errors"
	"fmt"

	"ferry/internal/model"
	"ferry/internal/store"
)

// settlePHP checks a web-conf's PHP version against the PHP-FPM versions
// its host's node last reported, and without a version gives it the
// host's newest: the spec then says what the site runs, and a newer PHP
// installed later changes no site by itself. A host that has reported no
// versions (an older node, or none yet) leaves both to the node, which
// refuses a version it lacks when it applies the item.
func settlePHP(ctx context.Context, tx store.Tx, it *model.Item) error {
	if it.Kind != model.KindWebConf || (it.Spec.PHP != nil && !*it.Spec.PHP) {
		return nil
	}
	h, err := tx.GetHost(ctx, it.Host)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(h.PHPVersions) == 0 {
		return nil
	}
	v, err := model.CheckPHPVersion(it.Spec.PHPVersion, h.PHPVersions)
	if err != nil {
		return &model.FieldError{Field: "spec.php_version", Message: fmt.Sprintf("host %s %v", h.Name, err)}
	}
	it.Spec.PHPVersion = v
	return nil
}

// reportedPHP checks the PHP-FPM versions a node reports, which end up in
// messages and are compared with the sites' versions, and sorts them.
func reportedPHP(versions []string) ([]string, error) {
	if len(versions) > 100 {
		return nil, &model.FieldError{Field: "php_versions", Message: fmt.Sprintf("%d versions; a host has a few", len(versions))}
	}
	for _, v := range versions {
		if got, err := model.ParsePHPVersion(v); err != nil || got != v {
			return nil, &model.FieldError{Field: "php_versions", Message: fmt.Sprintf("%q is not a PHP version (X.Y)", v)}
		}
	}
	return model.SortPHPVersions(versions), nil
}
