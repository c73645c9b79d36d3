-- What a node reports about its host's PHP: the PHP-FPM versions
-- installed (X.Y, oldest first), among which its web-confs choose.
ALTER TABLE hosts ADD COLUMN php_versions TEXT NOT NULL DEFAULT '[]';
