-- The municipalities' portal.
--
-- Uploads: PDFs a municipality sent in (e.g. answering a Nachforderung).
-- The bytes live content-addressed in document_blobs, written in the same
-- transaction as this row and the journal event.
CREATE TABLE uploads (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     INTEGER NOT NULL REFERENCES cases (id),
    sha256      TEXT    NOT NULL,
    file_name   TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL,
    pages       INTEGER NOT NULL,
    uploaded_by TEXT    NOT NULL,
    party       TEXT    NOT NULL,
    uploaded_at TEXT    NOT NULL
);
CREATE INDEX uploads_case ON uploads (case_id);

-- Consent to notification by retrieval (§ 41 Abs. 2a VwVfG NRW), per
-- municipality: who gave it and when, and who withdrew it and when.
CREATE TABLE consents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    party        TEXT NOT NULL,
    given_by     TEXT NOT NULL,
    given_at     TEXT NOT NULL,
    withdrawn_by TEXT,
    withdrawn_at TEXT
);
CREATE INDEX consents_party ON consents (party);

-- A letter provided in the portal for retrieval instead of posted.
-- status: bereitgestellt (waiting), abgerufen (retrieved: notified the day
-- after), beendet (not retrieved within ten days: posted instead).
CREATE TABLE provisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    sha256       TEXT    NOT NULL,
    template     TEXT    NOT NULL,
    party        TEXT    NOT NULL,
    notified_on  TEXT    NOT NULL,
    provided_at  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    retrieved_at TEXT,
    retrieved_by TEXT,
    ended_at     TEXT
);
CREATE INDEX provisions_case ON provisions (case_id);
CREATE INDEX provisions_open ON provisions (status, notified_on);

-- Circulars sent to a member, and when a person of that member first read
-- it in the portal (the read receipt its author sees).
CREATE TABLE deliveries (
    case_id   INTEGER NOT NULL REFERENCES cases (id),
    party     TEXT    NOT NULL,
    queued_at TEXT    NOT NULL,
    read_at   TEXT,
    read_by   TEXT,
    PRIMARY KEY (case_id, party)
);
CREATE INDEX deliveries_party ON deliveries (party);
