-- Reachability changed_at (issue 8): a node's reachability.changed_at is
-- when its state last changed, not its last heartbeat. healthy_since is
-- the first heartbeat of the node's current unbroken run (no gap of
-- stale_after or more); while the node is healthy it is changed_at.
-- Existing rows start their run at their last heartbeat, the best the
-- stored data can tell.

-- +goose Up
ALTER TABLE node_agents ADD COLUMN healthy_since BIGINT;
UPDATE node_agents SET healthy_since = last_heartbeat_at;

-- +goose Down
ALTER TABLE node_agents DROP COLUMN healthy_since;
