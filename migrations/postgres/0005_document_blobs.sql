-- Issued PDFs live in the database, content-addressed, written in the same
-- transaction as the document row that references them: any instance can
-- attach them to a mail, and a failed transaction leaves nothing behind.
CREATE TABLE document_blobs (
    sha256     TEXT   PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    bytes      BYTEA  NOT NULL
);

-- The number allocated in the transition that issued the letter (e.g. the
-- notice number), for file names a person can find.
ALTER TABLE documents ADD COLUMN reference TEXT;
CREATE INDEX documents_sha256 ON documents (sha256);
