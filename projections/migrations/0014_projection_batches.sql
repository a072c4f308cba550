-- The projector writes one block for the events of every partition it holds (the fixed
-- cost of an insert into events and its materialized views, about 0.2 s on the embedded
-- engine, is paid once per batch, not once per partition). The write-ahead rows of one
-- batch carry its deduplication token, which names the range of every partition in it:
-- a replay after a crash re-reads the same ranges and inserts them as the same block.
-- Rows written before this column existed keep '' (a batch of one partition, as before).

ALTER TABLE projection_positions ADD COLUMN IF NOT EXISTS batch String DEFAULT '';
