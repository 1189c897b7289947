//! The store: all SQL lives here, behind one interface with a SQLite and a
//! PostgreSQL side.
//!
//! Both run through sqlx's `Any` driver with the same statements (`$1`
//! parameters, `ON CONFLICT`, `RETURNING` work on both); what differs (types,
//! identity columns, the append-only trigger) lives in the per-database
//! migrations under `migrations/sqlite` and `migrations/postgres`, applied on
//! connect. Times are stored as RFC 3339 UTC text, JSON as text.

/// The columns `CaseRow::from_row` reads, as a literal so queries stay static strings.
macro_rules! case_columns {
    () => {
        "id, file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at"
    };
}

/// The columns `DocumentRow::from_row` reads.
macro_rules! document_columns {
    () => {
        "id, case_id, template, template_hash, data_hash, sha256, size_bytes, pages, recipient, letter_date, created_at"
    };
}

/// The columns `DeadlineRow::from_row` reads.
macro_rules! deadline_columns {
    () => {
        "id, case_id, name, title, due_date, status, set_at, closed_at, legal_basis, explanation"
    };
}

mod outbox;
mod rows;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

pub use outbox::{DueDeadline, MailRow, NewMail};
pub use rows::{
    CaseFilter, CaseRow, DeadlineRow, DefinitionRow, DocumentRow, NewCase, NewDeadline,
};

use crate::journal::Event;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the store, with what was being attempted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database we support.
    #[error("database URL `{0}` is not supported; use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// Schema migrations failed.
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Someone else changed the case since it was read.
    #[error(
        "case {file_number} was changed by someone else since it was read (expected version {expected}); reload it and try again"
    )]
    Conflict { file_number: String, expected: i64 },
    /// A unique constraint refused the row.
    #[error("{what} already exists")]
    Duplicate { what: String },
    /// A workflow file was edited without raising its version while cases use it.
    #[error(
        "workflow `{workflow}` version {version} was changed but {cases} case(s) use that version; raise `version` in the file to publish the change"
    )]
    DefinitionFrozen {
        workflow: String,
        version: i64,
        cases: i64,
    },
    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: String, detail: String },
    /// A query failed.
    #[error("database error while {what}: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

/// Counts for an overview, see [`Store::stats`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// (workflow, state, cases)
    pub cases: Vec<(String, String, i64)>,
    /// (kind, status, mails)
    pub mail: Vec<(String, String, i64)>,
    /// (deadline name, status, count)
    pub deadlines: Vec<(String, String, i64)>,
    /// (template, documents)
    pub documents: Vec<(String, i64)>,
}

/// A connection pool to one database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; queueing writers here instead of
    /// in SQLite's busy handler (which sleeps and retries) keeps throughput
    /// up under concurrent clerks. `None` on PostgreSQL, which locks rows.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Store {
    /// Opens (and for SQLite creates) the database and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let connect_url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            // WAL lets readers work while one writer commits; NORMAL sync is
            // durable across application crashes in WAL mode. The busy timeout
            // makes concurrent writers queue instead of failing.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(url),
                source,
            })?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let write_lock =
            (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Store {
            pool,
            backend,
            write_lock,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes all connections, waiting for those in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Holds SQLite's single-writer slot for a write outside a transaction.
    async fn write_guard(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// Starts a write transaction. Every write goes through one, so that a
    /// state change, its journal events and its effects land together or not at all.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let guard = self.write_guard().await;
        let tx = self
            .pool
            .begin()
            .await
            .map_err(q("starting a transaction"))?;
        Ok(Tx { tx, _guard: guard })
    }

    // ---- workflow definitions ----

    /// Records a workflow version, refusing a changed content under a version
    /// that cases already use. Returns `true` if the stored content changed.
    pub async fn register_definition(
        &self,
        workflow: &str,
        version: i64,
        content_hash: &str,
        source: &str,
        path: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO workflow_definitions (workflow_id, version, content_hash, source, path, registered_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workflow_id, version) DO NOTHING",
        )
        .bind(workflow)
        .bind(version)
        .bind(content_hash)
        .bind(source)
        .bind(path)
        .bind(now)
        .execute(&mut *tx.tx)
        .await
        .map_err(q("registering a workflow version"))?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(true);
        }
        let stored: String = sqlx::query(
            "SELECT content_hash FROM workflow_definitions WHERE workflow_id = $1 AND version = $2",
        )
        .bind(workflow)
        .bind(version)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(q("reading a workflow version"))?
        .try_get("content_hash")
        .map_err(q("reading a workflow version"))?;
        if stored == content_hash {
            return Ok(false);
        }
        let cases: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM cases WHERE workflow_id = $1 AND workflow_version = $2",
        )
        .bind(workflow)
        .bind(version)
        .fetch_one(&mut *tx.tx)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(q("counting the cases of a workflow version"))?;
        if cases > 0 {
            return Err(StoreError::DefinitionFrozen {
                workflow: workflow.into(),
                version,
                cases,
            });
        }
        sqlx::query(
            "UPDATE workflow_definitions SET content_hash = $3, source = $4, path = $5, registered_at = $6
             WHERE workflow_id = $1 AND version = $2",
        )
        .bind(workflow)
        .bind(version)
        .bind(content_hash)
        .bind(source)
        .bind(path)
        .bind(now)
        .execute(&mut *tx.tx)
        .await
        .map_err(q("updating an unused workflow version"))?;
        tx.commit().await?;
        Ok(true)
    }

    /// A stored workflow version, as cases opened on it see it.
    pub async fn definition(
        &self,
        workflow: &str,
        version: i64,
    ) -> Result<Option<DefinitionRow>, StoreError> {
        sqlx::query(
            "SELECT workflow_id, version, content_hash, source, path FROM workflow_definitions
             WHERE workflow_id = $1 AND version = $2",
        )
        .bind(workflow)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a workflow version"))?
        .map(|r| DefinitionRow::from_row(&r))
        .transpose()
    }

    // ---- cases ----

    pub async fn case_by_number(&self, file_number: &str) -> Result<Option<CaseRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE file_number = $1"
        ))
        .bind(file_number)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a case"))?
        .map(|r| CaseRow::from_row(&r))
        .transpose()
    }

    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE ($1 = '' OR workflow_id = $1) AND ($2 = '' OR state = $2) ORDER BY id LIMIT $3"
        ))
        .bind(filter.workflow.as_deref().unwrap_or(""))
        .bind(filter.state.as_deref().unwrap_or(""))
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing cases"))?;
        rows.iter().map(CaseRow::from_row).collect()
    }

    /// Who fired each of the named transitions on a case (four-eyes rule).
    pub async fn actors_of(
        &self,
        case_id: i64,
        transitions: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in transitions {
            let rows = sqlx::query(
                "SELECT DISTINCT actor FROM journal WHERE case_id = $1 AND transition = $2 AND kind = 'fired'",
            )
            .bind(case_id)
            .bind(t.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading who fired earlier steps"))?;
            let actors = rows
                .iter()
                .map(|r| r.try_get::<String, _>("actor"))
                .collect::<Result<Vec<_>, _>>()
                .map_err(q("reading who fired earlier steps"))?;
            out.insert(t.clone(), actors);
        }
        Ok(out)
    }

    /// A case's deadlines, newest first.
    pub async fn deadlines_of(&self, case_id: i64) -> Result<Vec<DeadlineRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            deadline_columns!(),
            " FROM deadlines WHERE case_id = $1 ORDER BY id DESC"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading deadlines"))?;
        rows.iter().map(DeadlineRow::from_row).collect()
    }

    /// Documents of one case, or of all cases, oldest first.
    pub async fn documents(&self, case_id: Option<i64>) -> Result<Vec<DocumentRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE ($1 < 0 OR case_id = $1) ORDER BY id"
        ))
        .bind(case_id.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading documents"))?;
        rows.iter().map(DocumentRow::from_row).collect()
    }

    /// Counts for an overview: cases by workflow and state, documents,
    /// mail by kind and status, deadlines by status.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let triples = |rows: Vec<AnyRow>,
                       a: &str,
                       b: &str|
         -> Result<Vec<(String, String, i64)>, StoreError> {
            rows.iter()
                .map(|r| Ok((get(r, a)?, get(r, b)?, get(r, "n")?)))
                .collect()
        };
        let cases = sqlx::query("SELECT workflow_id, state, COUNT(*) AS n FROM cases GROUP BY workflow_id, state ORDER BY workflow_id, state")
            .fetch_all(&self.pool).await.map_err(q("counting cases"))?;
        let mail = sqlx::query("SELECT kind, status, COUNT(*) AS n FROM outbox GROUP BY kind, status ORDER BY kind, status")
            .fetch_all(&self.pool).await.map_err(q("counting mail"))?;
        let deadlines = sqlx::query("SELECT name, status, COUNT(*) AS n FROM deadlines GROUP BY name, status ORDER BY name, status")
            .fetch_all(&self.pool).await.map_err(q("counting deadlines"))?;
        let documents = sqlx::query("SELECT template, '' AS x, COUNT(*) AS n FROM documents GROUP BY template ORDER BY template")
            .fetch_all(&self.pool).await.map_err(q("counting documents"))?;
        Ok(Stats {
            cases: triples(cases, "workflow_id", "state")?,
            mail: triples(mail, "kind", "status")?,
            deadlines: triples(deadlines, "name", "status")?,
            documents: triples(documents, "template", "x")?
                .into_iter()
                .map(|(t, _, n)| (t, n))
                .collect(),
        })
    }

    // ---- journal ----

    /// A case's events in order.
    pub async fn events(&self, case_id: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash
             FROM journal WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading the journal"))?;
        rows.iter().map(rows::event_from_row).collect()
    }

    /// Every case's id, file number and head hash, for `audit verify`.
    pub async fn case_heads(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, file_number, head_hash FROM cases ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(q("listing cases to verify"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id").map_err(q("listing cases to verify"))?,
                    r.try_get("file_number")
                        .map_err(q("listing cases to verify"))?,
                    r.try_get("head_hash")
                        .map_err(q("listing cases to verify"))?,
                ))
            })
            .collect()
    }

    /// Runs raw SQL: for tests that play a malicious administrator.
    #[doc(hidden)]
    pub async fn execute_unchecked(&self, sql: &str) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(q("raw SQL"))?;
        let mut affected = 0;
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            affected += sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut *conn)
                .await
                .map_err(q("raw SQL"))?
                .rows_affected();
        }
        Ok(affected)
    }
}

/// One write transaction.
pub struct Tx {
    tx: Transaction<'static, Any>,
    /// Held until commit or rollback (SQLite only).
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(q("committing"))
    }

    /// The next number of a register's sequence for a year: gap-free, since
    /// it is taken inside the transaction that uses it and rolled back with it.
    pub async fn next_number(&mut self, register: &str, year: i32) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO sequences (register_name, seq_year, last_value) VALUES ($1, $2, 1)
             ON CONFLICT (register_name, seq_year) DO UPDATE SET last_value = sequences.last_value + 1
             RETURNING last_value",
        )
        .bind(register)
        .bind(i64::from(year))
        .fetch_one(&mut *self.tx)
        .await
        .and_then(|r| r.try_get("last_value"))
        .map_err(q("taking the next number"))
    }

    /// Raises a register's sequence for a year to at least `last` (e.g. to
    /// continue a numbering kept elsewhere before amtspost); never lowers it.
    pub async fn raise_sequence(
        &mut self,
        register: &str,
        year: i32,
        last: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sequences (register_name, seq_year, last_value) VALUES ($1, $2, $3)
             ON CONFLICT (register_name, seq_year) DO UPDATE SET last_value =
               CASE WHEN sequences.last_value < excluded.last_value THEN excluded.last_value ELSE sequences.last_value END",
        )
        .bind(register)
        .bind(i64::from(year))
        .bind(last)
        .execute(&mut *self.tx)
        .await
        .map_err(q("raising a sequence"))?;
        Ok(())
    }

    /// Inserts a new case and returns its id.
    pub async fn insert_case(&mut self, c: &NewCase<'_>) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO cases (file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $8) RETURNING id",
        )
        .bind(c.file_number)
        .bind(c.workflow_id)
        .bind(c.workflow_version)
        .bind(c.state)
        .bind(json_text(c.data))
        .bind(c.parties.to_string())
        .bind(crate::journal::GENESIS)
        .bind(c.at)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(|e| unique_or(e, "opening a case", |_| format!("case {}", c.file_number)))?;
        r.try_get("id").map_err(q("opening a case"))
    }

    /// Moves a case on, if nobody else did since `expected_version` was read.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_case(
        &mut self,
        id: i64,
        file_number: &str,
        expected_version: i64,
        state: &str,
        data: &Map<String, Value>,
        last_seq: i64,
        head_hash: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let n = sqlx::query(
            "UPDATE cases SET state = $3, data = $4, version = version + 1, last_seq = $5, head_hash = $6, updated_at = $7
             WHERE id = $1 AND version = $2",
        )
        .bind(id)
        .bind(expected_version)
        .bind(state)
        .bind(json_text(data))
        .bind(last_seq)
        .bind(head_hash)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("updating a case"))?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                file_number: file_number.into(),
                expected: expected_version,
            })
        }
    }

    /// Starts a deadline; an open one of the same name on the case is superseded.
    pub async fn insert_deadline(&mut self, d: &NewDeadline<'_>) -> Result<i64, StoreError> {
        sqlx::query(
            "UPDATE deadlines SET status = 'superseded', closed_at = $3
             WHERE case_id = $1 AND name = $2 AND status = 'open'",
        )
        .bind(d.case_id)
        .bind(d.name)
        .bind(d.at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("superseding a deadline"))?;
        sqlx::query(
            "INSERT INTO deadlines (case_id, name, title, due_date, status, set_at, legal_basis, explanation)
             VALUES ($1, $2, $3, $4, 'open', $5, $6, $7) RETURNING id",
        )
        .bind(d.case_id)
        .bind(d.name)
        .bind(d.title)
        .bind(d.due_date)
        .bind(d.at)
        .bind(d.legal_basis)
        .bind(d.explanation.to_string())
        .fetch_one(&mut *self.tx)
        .await
        .and_then(|r| r.try_get("id"))
        .map_err(q("setting a deadline"))
    }

    /// Closes a case's open deadline (met or expired); returns how many were open.
    pub async fn close_deadline(
        &mut self,
        case_id: i64,
        name: &str,
        status: &str,
        at: &str,
    ) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE deadlines SET status = $3, closed_at = $4
             WHERE case_id = $1 AND name = $2 AND status = 'open'",
        )
        .bind(case_id)
        .bind(name)
        .bind(status)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map(|r| r.rows_affected())
        .map_err(q("closing a deadline"))
    }

    /// Records an issued document.
    pub async fn insert_document(&mut self, d: &DocumentRow) -> Result<i64, StoreError> {
        sqlx::query(
            "INSERT INTO documents (case_id, template, template_hash, data_hash, sha256, size_bytes, pages, recipient, letter_date, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(d.case_id)
        .bind(d.template.as_str())
        .bind(d.template_hash.as_str())
        .bind(d.data_hash.as_str())
        .bind(d.sha256.as_str())
        .bind(d.size_bytes)
        .bind(d.pages)
        .bind(d.recipient.as_str())
        .bind(d.letter_date.as_str())
        .bind(d.created_at.as_str())
        .fetch_one(&mut *self.tx)
        .await
        .and_then(|r| r.try_get("id"))
        .map_err(q("recording a document"))
    }

    /// Appends chained events to the journal.
    pub async fn append_events(&mut self, events: &[Event]) -> Result<(), StoreError> {
        for e in events {
            sqlx::query(
                "INSERT INTO journal (case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(e.case_id)
            .bind(e.seq)
            .bind(e.recorded_at.as_str())
            .bind(e.actor.as_str())
            .bind(e.role.as_str())
            .bind(e.kind.as_str())
            .bind(e.transition.as_deref())
            .bind(e.payload.to_string())
            .bind(e.prev_hash.as_str())
            .bind(e.hash.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(|err| unique_or(err, "writing the journal", |_| format!("event {} of case {}", e.seq, e.case_id)))?;
        }
        Ok(())
    }
}

fn json_text(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).expect("a JSON map always serialises")
}

/// Turns a unique violation into `Duplicate`, anything else into `Query`.
fn unique_or(e: sqlx::Error, what: &'static str, name: impl FnOnce(&str) -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Duplicate {
            what: name(db.constraint().unwrap_or("")),
        };
    }
    StoreError::Query { what, source: e }
}

/// Hides a password in a URL before it goes into a message.
fn redact(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

pub(crate) fn get<T>(r: &AnyRow, col: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    r.try_get(col).map_err(|e| StoreError::Corrupt {
        what: format!("column `{col}`"),
        detail: e.to_string(),
    })
}
