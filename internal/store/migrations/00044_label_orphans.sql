-- Label Definition deletion (issue 16, internal/labels): the assignments a
-- Definition deleted with on_delete=orphan leaves behind, detached from any
-- Definition (the Definition row is gone; its id and qualified key are
-- kept here as they were). Selectors, lists and policies never see them.
-- Portable SQL for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE label_assignments_orphaned (
    object_kind    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    definition_id  TEXT NOT NULL,
    qualified_key  TEXT NOT NULL,
    value          TEXT NOT NULL,
    assigned_by    TEXT NOT NULL,
    assigned_at    BIGINT NOT NULL,
    orphaned_at    BIGINT NOT NULL,
    PRIMARY KEY (object_kind, object_id, definition_id, value)
);
CREATE INDEX label_assignments_orphaned_object ON label_assignments_orphaned (object_kind, object_id);

-- +goose Down
DROP TABLE label_assignments_orphaned;
