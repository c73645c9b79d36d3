package dbengine

import (
	"fmt"
	"strings"
)

// QuoteError is a name or string that cannot be written into SQL: an
// impossible request, which no retry can mend.
type QuoteError struct{ msg string }

// Error says which name cannot be quoted, and for what.
func (e *QuoteError) Error() string { return e.msg }

func quoteErrorf(format string, args ...any) error {
	return &QuoteError{fmt.Sprintf(format, args...)}
}

// MySQLIdent quotes a MariaDB identifier in backticks.
func MySQLIdent(s string) (string, error) {
	if s == "" || strings.ContainsRune(s, 0) {
		return "", quoteErrorf("%q cannot be a mariadb identifier", s)
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`", nil
}

// MySQLString quotes a MariaDB string literal. It refuses backslashes
// instead of escaping them, so the literal means the same whether or not the
// server runs with NO_BACKSLASH_ESCAPES.
func MySQLString(s string) (string, error) {
	if strings.ContainsAny(s, "\\\x00") {
		return "", quoteErrorf("%q cannot be a mariadb string literal", s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// MySQLGrantDB quotes a database name for GRANT and REVOKE, where _ and %
// are wildcards unless escaped: a grant on my_db must not also open myXdb.
func MySQLGrantDB(name string) (string, error) {
	escaped := strings.NewReplacer(`_`, `\_`, `%`, `\%`).Replace(name)
	return MySQLIdent(escaped)
}

// MySQLAccount returns 'name'@'localhost'.
func MySQLAccount(name string) (string, error) {
	q, err := MySQLString(name)
	if err != nil {
		return "", err
	}
	return q + "@'localhost'", nil
}

// PgIdent quotes a PostgreSQL identifier in double quotes.
func PgIdent(s string) (string, error) {
	if s == "" || strings.ContainsRune(s, 0) {
		return "", quoteErrorf("%q cannot be a postgresql identifier", s)
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`, nil
}

// PgString quotes a PostgreSQL string literal. It refuses backslashes, so
// the literal means the same with standard_conforming_strings off, and psql
// never sees a backslash command.
func PgString(s string) (string, error) {
	if strings.ContainsAny(s, "\\\x00") {
		return "", quoteErrorf("%q cannot be a postgresql string literal", s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}
