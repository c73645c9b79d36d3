package apply

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"ferry/internal/model"
)

func TestAppConfigDatabases(t *testing.T) {
	tests := []struct {
		file, text string
		want       []appDatabase
	}{
		{"wp-config.php", "<?php\ndefine( 'DB_NAME', 'wp_blog' );\ndefine('DB_USER', 'u');", []appDatabase{{"mysql", "wp_blog"}}},
		{"wp-config.php", `define("DB_NAME","shop");`, []appDatabase{{"mysql", "shop"}}},
		{"settings.php", "$databases['default']['default'] = array (\n  'database' => 'drupal9',\n  'username' => 'd',\n  'driver' => 'mysql',\n);",
			[]appDatabase{{"mysql", "drupal9"}}},
		{"settings.php", "$databases['default']['default'] = [\n 'driver' => 'pgsql',\n 'database' => 'dpg',\n];", []appDatabase{{"pgsql", "dpg"}}},
		{"settings.php", "$db_url = 'mysqli://user:secret@localhost/drupal6';", []appDatabase{{"mysql", "drupal6"}}},
		{"settings.php", "'driver' => 'sqlite', 'database' => 'sites/default/files/.ht.sqlite',", nil},
		{"configuration.php", "<?php\nclass JConfig {\n\tpublic $dbtype = 'mysqli';\n\tpublic $db = 'joomla';\n", []appDatabase{{"mysql", "joomla"}}},
		{"configuration.php", "\tpublic $dbtype = 'pgsql';\n\tpublic $db = 'jpg';\n", []appDatabase{{"pgsql", "jpg"}}},
		{".env", "APP_NAME=x\nDB_CONNECTION=pgsql\nDB_DATABASE=laravel # main\n", []appDatabase{{"pgsql", "laravel"}}},
		{".env", "export DB_NAME='site'\n", []appDatabase{{"mysql", "site"}}},
		{".env", `DATABASE_URL="postgresql://app:pw@127.0.0.1:5432/symfony?serverVersion=15"`, []appDatabase{{"pgsql", "symfony"}}},
		{".env", "DATABASE_URL=mysql://app:pw@localhost/sf_app\n", []appDatabase{{"mysql", "sf_app"}}},
		{".env", "# DB_DATABASE=old\nDB_HOST=x\n", nil},
		{"index.php", "define('DB_NAME', 'x');", nil},
	}
	for _, tt := range tests {
		if got := appConfigDatabases(tt.file, tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %q:\n got %v\nwant %v", tt.file, tt.text, got, tt.want)
		}
	}
}

func TestScanAppDatabases(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web/wp-config.php", "define('DB_NAME', 'shop');")                                  // registered
	write("web/blog/wp-config.php", "define('DB_NAME', 'oldblog');")                          // not registered
	write("web/d/sites/default/settings.php", "'database' => 'drupal', 'driver' => 'mysql',") // not registered
	write("web/app/.env", "DB_CONNECTION=pgsql\nDB_DATABASE=blog\n")                          // registered
	write("web/vendor/pkg/.env", "DB_DATABASE=vendored\n")                                    // skipped
	write("outside/wp-config.php", "define('DB_NAME', 'elsewhere');")
	if err := os.Symlink(filepath.Join(dir, "outside"), filepath.Join(dir, "web", "link")); err != nil {
		t.Fatal(err)
	}
	known := []model.MoveDB{{Engine: "mysql", Name: "shop"}, {Engine: "pgsql", Name: "blog", Owner: "b"}}
	got, err := ScanAppDatabases(dir, known)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.UnregisteredDB{
		{Engine: "mysql", Name: "oldblog", Config: "web/blog/wp-config.php"},
		{Engine: "mysql", Name: "drupal", Config: "web/d/sites/default/settings.php"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scanAppDatabases:\n got %+v\nwant %+v", got, want)
	}
	if got, err := ScanAppDatabases(filepath.Join(dir, "nothing"), nil); err != nil || len(got) != 0 {
		t.Errorf("no web/: %v %v", got, err)
	}
}
