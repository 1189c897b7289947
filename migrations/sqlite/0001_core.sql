-- Core tables: workflow versions, number sequences, cases and their journal.
CREATE TABLE workflow_definitions (
    workflow_id   TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    content_hash  TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    registered_at TEXT    NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE sequences (
    register_name TEXT    NOT NULL,
    seq_year      INTEGER NOT NULL,
    last_value    INTEGER NOT NULL,
    PRIMARY KEY (register_name, seq_year)
);

CREATE TABLE cases (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    file_number      TEXT    NOT NULL,
    workflow_id      TEXT    NOT NULL,
    workflow_version INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    data             TEXT    NOT NULL,
    parties          TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    head_hash        TEXT    NOT NULL,
    opened_at        TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    CONSTRAINT cases_file_number_key UNIQUE (file_number),
    FOREIGN KEY (workflow_id, workflow_version) REFERENCES workflow_definitions (workflow_id, version)
);
CREATE INDEX cases_workflow_state ON cases (workflow_id, state);

CREATE TABLE journal (
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    seq         INTEGER NOT NULL,
    recorded_at TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    transition  TEXT,
    payload     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX journal_transition ON journal (case_id, transition);

-- The journal is append-only: nothing may change or remove an event.
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only: events cannot be changed');
END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only: events cannot be deleted');
END;
