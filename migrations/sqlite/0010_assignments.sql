-- Who is responsible for a case (the clerk whose Arbeitskorb it is in),
-- and who stands in for whom while someone is away (Vertretung). A case
-- without an assignment is in the Arbeitskorb of everyone who can act on it.
CREATE TABLE case_assignments (
    case_id     INTEGER PRIMARY KEY REFERENCES cases (id),
    user_name   TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL
);
CREATE INDEX case_assignments_user ON case_assignments (user_name);

-- An absence: from_date to until_date (calendar dates in Europe/Berlin,
-- both inclusive) the substitute works the absent person's Arbeitskorb.
CREATE TABLE substitutions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    absent     TEXT NOT NULL,
    substitute TEXT NOT NULL,
    from_date  TEXT NOT NULL,
    until_date TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX substitutions_substitute ON substitutions (substitute, until_date);

-- What a person last filtered their Arbeitskorb by (JSON), restored when
-- they come back.
CREATE TABLE user_preferences (
    user_name TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (user_name, name)
);
