-- Node reports are bounded per node and go with the node (issue 7 row 12).
-- size_bytes is an entry's stored size (report key, content type and
-- payload, in bytes) that the per-node quota sums; rows written before
-- this migration get their character count, a close lower bound. What
-- nodes removed before it left behind in node_reports and node_agents is
-- deleted: the node-removal transaction now deletes it (events.ForgetNode).

-- +goose Up
ALTER TABLE node_reports ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE node_reports SET size_bytes = LENGTH(report_key) + LENGTH(content_type) + LENGTH(payload);
DELETE FROM node_reports WHERE node_id NOT IN (SELECT id FROM nodes WHERE revoked_at IS NULL);
DELETE FROM node_agents WHERE node_id NOT IN (SELECT id FROM nodes WHERE revoked_at IS NULL);

-- +goose Down
ALTER TABLE node_reports DROP COLUMN size_bytes;
