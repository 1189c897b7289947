-- Reminders sent (or passed over) per deadline, step and recipient: the
-- unique key makes "at most once" a database fact, across processes.
CREATE TABLE reminders (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deadline_id BIGINT  NOT NULL REFERENCES deadlines (id),
    step        TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    due_date    TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    CONSTRAINT reminders_once UNIQUE (deadline_id, step, recipient)
);

-- Mail waiting to go out, written in the transaction that causes it.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT    NOT NULL,
    case_id         BIGINT  REFERENCES cases (id),
    kind            TEXT    NOT NULL,
    recipients      TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    attachments     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    CONSTRAINT outbox_message_id_key UNIQUE (message_id)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
