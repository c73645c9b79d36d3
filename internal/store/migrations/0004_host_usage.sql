-- What a node measured on its host, for move plans: the size of each
-- order's files and of each database, the databases the orders' app
-- configs name, and the database servers it could not reach.
ALTER TABLE hosts ADD COLUMN usage_report TEXT NOT NULL DEFAULT '{}';
