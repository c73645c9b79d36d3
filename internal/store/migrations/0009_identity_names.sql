-- ItemsNamed (the CNAME rule, a server name's other holders) looks item
-- identities up by the name inside them: without an index every look-up
-- read the whole table.
CREATE INDEX item_identities_name ON item_identities (name);
