-- Registration replay hardening (issue 7 row 2, node-protocol.md §4.3 as
-- docs/enrolment.md narrows it): a replay of POST /v1/register is answered
-- only while the node's current NSK has never authenticated a call, and
-- then with a fresh NSK. nsk_used_at is the first call the current NSK
-- authenticated (NULL: never used); registered_level is the protocol level
-- the node registered at (a level-2 node's replays are answered only with
-- the NSK sealed to its WireGuard key). Nodes that exist before this
-- migration count as used: no replay can hand out their NSK.

-- +goose Up
ALTER TABLE nodes ADD COLUMN nsk_used_at BIGINT;
ALTER TABLE nodes ADD COLUMN registered_level INTEGER NOT NULL DEFAULT 1;
UPDATE nodes SET nsk_used_at = updated_at;

-- +goose Down
ALTER TABLE nodes DROP COLUMN registered_level;
ALTER TABLE nodes DROP COLUMN nsk_used_at;
