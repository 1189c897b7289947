-- Deadlines set by transitions; `status` is open, met, expired or superseded.
CREATE TABLE deadlines (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     BIGINT  NOT NULL REFERENCES cases (id),
    name        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    due_date    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    set_at      TEXT    NOT NULL,
    closed_at   TEXT,
    legal_basis TEXT,
    explanation TEXT    NOT NULL
);
CREATE INDEX deadlines_case ON deadlines (case_id, name);
CREATE INDEX deadlines_open_due ON deadlines (status, due_date);
