-- Rebalance batches, kept in the store beside the moves they drive (they
-- were JSON files in one control plane's data directory): every replica
-- sees them, and a backup of the store holds them. data is the batch as
-- the API shows it (JSON); state is copied out of it for queries.
CREATE TABLE rebalance_batches (
	id         TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
