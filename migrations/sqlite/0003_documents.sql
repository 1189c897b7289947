-- Issued documents: the PDF lives in the content-addressed document folder
-- under its SHA-256; this row says which case, template and data made it.
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id       INTEGER NOT NULL REFERENCES cases (id),
    template      TEXT    NOT NULL,
    template_hash TEXT    NOT NULL,
    data_hash     TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    size_bytes    INTEGER NOT NULL,
    pages         INTEGER NOT NULL,
    recipient     TEXT    NOT NULL,
    letter_date   TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE INDEX documents_case ON documents (case_id);
