-- Core tables: workflow versions, number sequences, cases and their journal.
CREATE TABLE workflow_definitions (
    workflow_id   TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    content_hash  TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    path          TEXT   NOT NULL,
    registered_at TEXT   NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE sequences (
    register_name TEXT   NOT NULL,
    seq_year      BIGINT NOT NULL,
    last_value    BIGINT NOT NULL,
    PRIMARY KEY (register_name, seq_year)
);

CREATE TABLE cases (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_number      TEXT   NOT NULL,
    workflow_id      TEXT   NOT NULL,
    workflow_version BIGINT NOT NULL,
    state            TEXT   NOT NULL,
    data             TEXT   NOT NULL,
    parties          TEXT   NOT NULL,
    version          BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL,
    head_hash        TEXT   NOT NULL,
    opened_at        TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    CONSTRAINT cases_file_number_key UNIQUE (file_number),
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflow_definitions (workflow_id, version)
);
CREATE INDEX cases_workflow_state ON cases (workflow_id, state);

CREATE TABLE journal (
    case_id     BIGINT NOT NULL REFERENCES cases (id),
    seq         BIGINT NOT NULL,
    recorded_at TEXT   NOT NULL,
    actor       TEXT   NOT NULL,
    role        TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    transition  TEXT,
    payload     TEXT   NOT NULL,
    prev_hash   TEXT   NOT NULL,
    hash        TEXT   NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX journal_transition ON journal (case_id, transition);

-- The journal is append-only: nothing may change or remove an event.
CREATE FUNCTION journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: events cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER journal_no_update_or_delete
    BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_no_truncate
    BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
