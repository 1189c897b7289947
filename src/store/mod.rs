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
        "id, case_id, template, template_hash, data_hash, sha256, size_bytes, pages, recipient, letter_date, created_at, reference"
    };
}

/// Documents joined with their cases' file numbers (read by
/// `document_with_file_number`).
macro_rules! documents_with_file_numbers {
    () => {
        "SELECT c.file_number AS case_file_number, d.id, d.case_id, d.template, d.template_hash, d.data_hash, d.sha256,
                d.size_bytes, d.pages, d.recipient, d.letter_date, d.created_at, d.reference
         FROM documents d JOIN cases c ON c.id = d.case_id"
    };
}

/// The columns `DeadlineRow::from_row` reads.
macro_rules! deadline_columns {
    () => {
        "id, case_id, name, title, due_date, status, set_at, closed_at, legal_basis, explanation"
    };
}

mod akte;
mod assignments;
mod commit;
mod outbox;
mod portal;
mod rows;
mod users;
mod worklist;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Connection, Executor, Row, Transaction};

pub use assignments::SubstitutionRow;
pub use outbox::{DueDeadline, MailRow, NewMail, PassLock};
pub use portal::{ConsentRow, DeliveryRow, NewUpload, ProvisionRow, UploadRow};
pub use users::{NewUser, SessionRow, UserRow};
pub use worklist::{WorkItem, WorkQuery};
// `CaseChange` is defined below, next to the statement that writes it.
pub use rows::{
    CaseFilter, CaseRow, DeadlineRow, DefinitionRow, DocumentRow, NewCase, NewDeadline, NewDocument,
};

use crate::domain::{CaseId, DeadlineStatus, FileNumber};
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
    /// Another transaction appended to the same case's journal first.
    #[error("the case was changed by someone else at the same moment; reload it and try again")]
    ConcurrentAppend,
    /// The task writing a group commit ended without an answer (it
    /// panicked); whether the change was stored is unknown.
    #[error("the change could not be confirmed as stored; reload the case to see whether it was")]
    BatchLost,
    /// A unique constraint refused the row.
    /// `backup` on PostgreSQL, which has its own tools.
    #[error(
        "this database is PostgreSQL: back it up with `pg_dump -Fc -f amtspost.dump DATABASE` \
         and restore with `pg_restore -d DATABASE amtspost.dump` (see the README)"
    )]
    BackupWithPgDump,
    /// An imported case's id is in use here by another case.
    #[error(
        "case id {id} is taken in this database by {file_number}; an Akte keeps its case's id, \
         because the journal's hashes cover it: import it into a database where the id is free"
    )]
    CaseIdTaken { id: i64, file_number: String },
    /// An imported case's workflow version is stored here with other content.
    #[error(
        "workflow {workflow} version {version} is stored in this database with other content than the Akte's; \
         the case cannot run on both"
    )]
    DefinitionDiffers { workflow: String, version: i64 },
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
    /// Another server already runs on this SQLite file.
    #[error(
        "another amtspost server already runs on the database {db}; stop it first (SQLite takes one server; several instances need PostgreSQL)"
    )]
    SecondServer { db: String },
    /// The SQLite server lock file could not be opened.
    #[error("cannot open the server lock {path}: {source}")]
    ServerLock {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be read back.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: String, detail: String },
    /// The database did not answer in time: locked by another writer, or
    /// every connection busy. Nothing was changed; trying again later helps.
    #[error(
        "Die Datenbank ist gerade belegt ({what}); es wurde nichts geändert. Bitte in einem Moment erneut versuchen."
    )]
    Busy { what: &'static str },
    /// The disk of the database is full. Nothing was changed.
    #[error(
        "Der Speicherplatz der Datenbank ist voll ({what}); es wurde nichts geändert. Bitte die Administration benachrichtigen."
    )]
    DiskFull { what: &'static str },
    /// A query failed.
    #[error("database error while {what}: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| classify(what, source)
}

/// A failed query as what it means for the people waiting on it: a locked
/// or busy database and a full disk have their own German message (the
/// driver's "pool timed out" or "database or disk is full" says nothing a
/// clerk can act on); anything else stays a query error with its cause.
fn classify(what: &'static str, source: sqlx::Error) -> StoreError {
    match &source {
        sqlx::Error::PoolTimedOut => StoreError::Busy { what },
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let message = db.message().to_ascii_lowercase();
            // SQLite: SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_FULL (13)
            // and their extended codes; PostgreSQL: 53100 disk_full,
            // 55P03 lock_not_available.
            let base = code.parse::<i64>().map(|c| c & 0xff).unwrap_or(-1);
            if base == 13
                || code == "53100"
                || message.contains("disk is full")
                || message.contains("no space left")
            {
                StoreError::DiskFull { what }
            } else if base == 5
                || base == 6
                || code == "55P03"
                || message.contains("database is locked")
            {
                StoreError::Busy { what }
            } else {
                StoreError::Query { what, source }
            }
        }
        _ => StoreError::Query { what, source },
    }
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

/// A case with everything recorded about it, from one read transaction.
#[derive(Debug, Clone)]
pub struct CaseSnapshot {
    pub case: CaseRow,
    /// Newest first.
    pub deadlines: Vec<DeadlineRow>,
    pub events: Vec<Event>,
    pub documents: Vec<DocumentRow>,
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
    /// The URL it was opened with (for PostgreSQL's LISTEN connection).
    url: Arc<str>,
    /// Concurrent changes written together ([`commit`]).
    committer: Arc<commit::Committer>,
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
            .acquire_timeout(Duration::from_secs(30))
            // sqlx pings every connection it hands out by default: a round
            // trip before every query. Check only a connection that sat idle
            // (it may have been dropped by the server or a firewall meanwhile);
            // one in steady use fails loudly on its next query if it broke.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < Duration::from_secs(5) {
                        return Ok(true);
                    }
                    Ok(conn.ping().await.is_ok())
                })
            });
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
            url: url.into(),
            committer: Arc::default(),
        })
    }

    /// One round trip: is the database there?
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(q("checking the database"))?;
        Ok(())
    }

    /// The one-server lock of a SQLite database: an exclusive lock on
    /// `<file>.server-lock`, held while the returned file is open (the
    /// operating system drops it when the process ends, also on kill -9).
    /// A second `serve` on the same file gets [`StoreError::SecondServer`].
    /// `None` on PostgreSQL (where instances share work) and for an
    /// in-memory database.
    pub fn server_lock(&self) -> Result<Option<std::fs::File>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let path = self
            .url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.starts_with(':') {
            return Ok(None);
        }
        let lock_path = format!("{path}.server-lock");
        let io = |source| StoreError::ServerLock {
            path: lock_path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::SecondServer {
                db: path.to_string(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
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

    /// Writes a consistent copy of a SQLite database to `file` (`VACUUM
    /// INTO`: one read transaction, so writers go on meanwhile).
    pub async fn backup_to(&self, file: &std::path::Path) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            return Err(StoreError::BackupWithPgDump);
        }
        sqlx::query("VACUUM INTO $1")
            .bind(file.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await
            .map_err(q("copying the database"))?;
        Ok(())
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
        Ok(Tx {
            tx,
            backend: self.backend,
            _guard: guard,
        })
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

    /// The cases of `workflow` whose field `field` names `file_number`
    /// (the calls for funds of one grant), oldest first. Uses the
    /// `(workflow_id, state)` index for the workflow; the JSON field is
    /// read per row of that workflow.
    pub async fn linked_cases(
        &self,
        workflow: &str,
        field: &str,
        file_number: &str,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let sql = match self.backend {
            Backend::Postgres => concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE workflow_id = $1 AND (data::jsonb ->> $2) = $3 ORDER BY id"
            ),
            _ => concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE workflow_id = $1 AND json_extract(data, '$.' || $2) = $3 ORDER BY id"
            ),
        };
        let rows = sqlx::query(sql)
            .bind(workflow)
            .bind(field)
            .bind(file_number)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading linked cases"))?;
        rows.iter().map(CaseRow::from_row).collect()
    }

    /// Cases of `workflow` whose date field `field` lies before `before`
    /// (ISO dates compare as text), oldest first: the candidates for a
    /// linked case the reminder pass opens (`[links.*.start]`).
    pub async fn cases_with_date_before(
        &self,
        workflow: &str,
        field: &str,
        before: &str,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let sql = match self.backend {
            Backend::Postgres => concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE workflow_id = $1 AND (data::jsonb ->> $2) < $3 ORDER BY id"
            ),
            _ => concat!(
                "SELECT ",
                case_columns!(),
                " FROM cases WHERE workflow_id = $1 AND json_extract(data, '$.' || $2) < $3 ORDER BY id"
            ),
        };
        let rows = sqlx::query(sql)
            .bind(workflow)
            .bind(field)
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading cases by a date field"))?;
        rows.iter().map(CaseRow::from_row).collect()
    }

    /// The file numbers the cases of `workflow` name in their link field
    /// `field` (one read, not one per candidate).
    pub async fn linked_file_numbers(
        &self,
        workflow: &str,
        field: &str,
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let sql = match self.backend {
            Backend::Postgres => {
                "SELECT DISTINCT (data::jsonb ->> $2) AS linked FROM cases WHERE workflow_id = $1 AND (data::jsonb ->> $2) IS NOT NULL"
            }
            _ => {
                "SELECT DISTINCT json_extract(data, '$.' || $2) AS linked FROM cases WHERE workflow_id = $1 AND json_extract(data, '$.' || $2) IS NOT NULL"
            }
        };
        let rows = sqlx::query(sql)
            .bind(workflow)
            .bind(field)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading linked file numbers"))?;
        rows.iter().map(|r| get::<String>(r, "linked")).collect()
    }

    /// A case with its deadlines (newest first), journal and documents,
    /// read in one transaction so that they agree with each other.
    pub async fn case_snapshot(
        &self,
        file_number: &str,
    ) -> Result<Option<CaseSnapshot>, StoreError> {
        let what = "reading a case with its history";
        let mut tx = self.pool.begin().await.map_err(q(what))?;
        if self.backend == Backend::Postgres {
            tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await
                .map_err(q(what))?;
        }
        let Some(case) = sqlx::query(concat!(
            "SELECT ",
            case_columns!(),
            " FROM cases WHERE file_number = $1"
        ))
        .bind(file_number)
        .fetch_optional(&mut *tx)
        .await
        .map_err(q(what))?
        .map(|r| CaseRow::from_row(&r))
        .transpose()?
        else {
            return Ok(None);
        };
        let deadlines = sqlx::query(concat!(
            "SELECT ",
            deadline_columns!(),
            " FROM deadlines WHERE case_id = $1 ORDER BY id DESC"
        ))
        .bind(case.id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?
        .iter()
        .map(DeadlineRow::from_row)
        .collect::<Result<_, _>>()?;
        let events = sqlx::query(
            "SELECT case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash
             FROM journal WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case.id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?
        .iter()
        .map(rows::event_from_row)
        .collect::<Result<_, _>>()?;
        let documents = sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE case_id = $1 ORDER BY id"
        ))
        .bind(case.id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?
        .iter()
        .map(DocumentRow::from_row)
        .collect::<Result<_, _>>()?;
        tx.commit().await.map_err(q(what))?;
        Ok(Some(CaseSnapshot {
            case,
            deadlines,
            events,
            documents,
        }))
    }

    /// Who fired each of the named transitions on a case (four-eyes rule).
    pub async fn actors_of(
        &self,
        case_id: CaseId,
        transitions: &[String],
    ) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in transitions {
            let rows = sqlx::query(
                "SELECT DISTINCT actor FROM journal WHERE case_id = $1 AND transition = $2 AND kind = 'fired'",
            )
            .bind(case_id.0)
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
    pub async fn deadlines_of(&self, case_id: CaseId) -> Result<Vec<DeadlineRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            deadline_columns!(),
            " FROM deadlines WHERE case_id = $1 ORDER BY id DESC"
        ))
        .bind(case_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading deadlines"))?;
        rows.iter().map(DeadlineRow::from_row).collect()
    }

    /// Documents of one case, or of all cases, oldest first.
    pub async fn documents(&self, case_id: Option<CaseId>) -> Result<Vec<DocumentRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE ($1 < 0 OR case_id = $1) ORDER BY id"
        ))
        .bind(case_id.map_or(-1, |c| c.0))
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
    pub async fn events(&self, case_id: CaseId) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash
             FROM journal WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading the journal"))?;
        rows.iter().map(rows::event_from_row).collect()
    }

    /// Every case's id, file number and head hash, for `audit verify`.
    pub async fn case_heads(&self) -> Result<Vec<(CaseId, FileNumber, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, file_number, head_hash FROM cases ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(q("listing cases to verify"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    CaseId(get(r, "id")?),
                    FileNumber::new(get::<String>(r, "file_number")?),
                    get(r, "head_hash")?,
                ))
            })
            .collect()
    }

    // ---- document bytes ----

    /// The bytes of a stored document, by content hash.
    pub async fn document_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query("SELECT bytes FROM document_blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading a document"))?
            .map(|r| get(&r, "bytes"))
            .transpose()
    }

    /// Documents with the file number of their case, of one case or all,
    /// oldest first: what `document export` writes out.
    pub async fn documents_with_file_numbers(
        &self,
        file_number: Option<&str>,
    ) -> Result<Vec<(FileNumber, DocumentRow)>, StoreError> {
        let rows = sqlx::query(concat!(
            documents_with_file_numbers!(),
            " WHERE ($1 = '' OR c.file_number = $1) ORDER BY d.id"
        ))
        .bind(file_number.unwrap_or(""))
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing documents"))?;
        rows.iter().map(document_with_file_number).collect()
    }

    /// The documents recorded under a content hash, with their cases'
    /// file numbers (the same PDF can be issued on several cases).
    pub async fn documents_by_sha256(
        &self,
        sha256: &str,
    ) -> Result<Vec<(FileNumber, DocumentRow)>, StoreError> {
        let rows = sqlx::query(concat!(
            documents_with_file_numbers!(),
            " WHERE d.sha256 = $1 ORDER BY d.id"
        ))
        .bind(sha256)
        .fetch_all(&self.pool)
        .await
        .map_err(q("finding a document"))?;
        rows.iter().map(document_with_file_number).collect()
    }

    /// Content hashes that documents reference but whose bytes are not in
    /// the database (a database from before documents moved into it).
    pub async fn documents_without_bytes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT d.sha256 FROM documents d
             LEFT JOIN document_blobs b ON b.sha256 = d.sha256
             WHERE b.sha256 IS NULL ORDER BY d.sha256",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("finding documents to import"))?;
        rows.iter().map(|r| get(r, "sha256")).collect()
    }

    /// Stores bytes under their content hash (idempotent).
    pub async fn put_document_bytes(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.put_bytes(sha256, bytes).await?;
        tx.commit().await
    }
}

/// One write transaction.
pub struct Tx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    /// Held until commit or rollback (SQLite only).
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(q("committing"))
    }

    /// Documents of one case, oldest first, as this transaction sees them
    /// (with those it issued itself).
    pub async fn documents_of(&mut self, case_id: CaseId) -> Result<Vec<DocumentRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE case_id = $1 ORDER BY id"
        ))
        .bind(case_id.0)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(q("reading documents"))?;
        rows.iter().map(DocumentRow::from_row).collect()
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
    pub async fn insert_case(&mut self, c: &NewCase<'_>) -> Result<CaseId, StoreError> {
        let r = sqlx::query(
            "INSERT INTO cases (file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $8) RETURNING id",
        )
        .bind(c.file_number)
        .bind(c.workflow_id)
        .bind(c.workflow_version)
        .bind(c.state)
        .bind(json_text(c.data))
        .bind(serde_json::to_string(c.parties).expect("parties serialise"))
        .bind(crate::journal::GENESIS)
        .bind(c.at)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(|e| constraint_error(e, "opening a case"))?;
        r.try_get("id").map(CaseId).map_err(q("opening a case"))
    }

    /// Moves a case on and appends its chained events, if nobody else
    /// moved it since `expected_version` was read.
    pub async fn advance_case(&mut self, change: &CaseChange<'_>) -> Result<(), StoreError> {
        advance_case(&mut *self.tx, self.backend, change).await
    }

    /// Starts a deadline; an open one of the same name on the case is superseded.
    pub async fn insert_deadline(&mut self, d: &NewDeadline<'_>) -> Result<i64, StoreError> {
        sqlx::query(
            "UPDATE deadlines SET status = 'superseded', closed_at = $3
             WHERE case_id = $1 AND name = $2 AND status = 'open'",
        )
        .bind(d.case_id.0)
        .bind(d.name)
        .bind(d.at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("superseding a deadline"))?;
        sqlx::query(
            "INSERT INTO deadlines (case_id, name, title, due_date, status, set_at, legal_basis, explanation)
             VALUES ($1, $2, $3, $4, 'open', $5, $6, $7) RETURNING id",
        )
        .bind(d.case_id.0)
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
        case_id: CaseId,
        name: &str,
        status: DeadlineStatus,
        at: &str,
    ) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE deadlines SET status = $3, closed_at = $4
             WHERE case_id = $1 AND name = $2 AND status = 'open'",
        )
        .bind(case_id.0)
        .bind(name)
        .bind(status.as_str())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map(|r| r.rows_affected())
        .map_err(q("closing a deadline"))
    }

    /// Stores bytes under their content hash, once.
    pub async fn put_bytes(&mut self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO document_blobs (sha256, size_bytes, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(bytes.len() as i64)
        .bind(bytes)
        .execute(&mut *self.tx)
        .await
        .map_err(q("storing a document"))?;
        Ok(())
    }

    /// Records an issued document with its bytes, in this transaction.
    pub async fn insert_document(&mut self, new: &NewDocument<'_>) -> Result<i64, StoreError> {
        self.put_bytes(&new.row.sha256, new.pdf).await?;
        let d = new.row;
        sqlx::query(
            "INSERT INTO documents (case_id, template, template_hash, data_hash, sha256, size_bytes, pages, recipient, letter_date, created_at, reference)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(d.case_id.0)
        .bind(d.template.as_str())
        .bind(d.template_hash.as_str())
        .bind(d.data_hash.as_str())
        .bind(d.sha256.as_str())
        .bind(d.size_bytes)
        .bind(d.pages)
        .bind(d.recipient.as_str())
        .bind(d.letter_date.as_str())
        .bind(d.created_at.as_str())
        .bind(d.reference.as_deref())
        .fetch_one(&mut *self.tx)
        .await
        .and_then(|r| r.try_get("id"))
        .map_err(q("recording a document"))
    }
}

/// A case moving on: its new state and data and the events that say why.
pub struct CaseChange<'a> {
    pub id: CaseId,
    pub file_number: &'a str,
    pub expected_version: i64,
    pub state: &'a str,
    pub data: &'a Map<String, Value>,
    /// Chained onto the case's head; the last one is the new head.
    pub events: &'a [Event],
    pub at: &'a str,
}

/// The journal columns, in the order [`advance_case`] binds them.
const JOURNAL_COLUMNS: &str =
    "case_id, seq, recorded_at, actor, role, kind, transition, payload, prev_hash, hash";

/// Writes a [`CaseChange`] on one connection. PostgreSQL does the update
/// and the journal insert in one statement (a data-modifying CTE: the rows
/// are inserted only if the update found the expected version); SQLite,
/// which has no such CTE, in two (the caller's transaction makes them
/// atomic). The journal rows go in one multi-row INSERT either way.
async fn advance_case(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    change: &CaseChange<'_>,
) -> Result<(), StoreError> {
    let last = change.events.last().expect("a change has events");
    let conflict = || StoreError::Conflict {
        file_number: change.file_number.into(),
        expected: change.expected_version,
    };
    let update = "UPDATE cases SET state = $3, data = $4, version = version + 1, last_seq = $5, head_hash = $6, updated_at = $7
                  WHERE id = $1 AND version = $2";
    // Only `$n` markers are formatted into the statement, never values.
    let rows = |first: usize, typed: bool| -> String {
        let casts = [
            "::bigint", "::bigint", "::text", "::text", "::text", "::text", "::text", "::text",
            "::text", "::text",
        ];
        (0..change.events.len())
            .map(|i| {
                let cols: Vec<String> = (0..10)
                    .map(|c| {
                        let n = first + i * 10 + c;
                        if typed {
                            format!("${n}{}", casts[c])
                        } else {
                            format!("${n}")
                        }
                    })
                    .collect();
                format!("({})", cols.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = match backend {
        Backend::Postgres => format!(
            "WITH moved AS ({update} RETURNING id)
             INSERT INTO journal ({JOURNAL_COLUMNS})
             SELECT v.* FROM (VALUES {}) AS v({JOURNAL_COLUMNS}) WHERE EXISTS (SELECT 1 FROM moved)",
            rows(8, true)
        ),
        Backend::Sqlite => {
            let n = sqlx::query(update)
                .bind(change.id.0)
                .bind(change.expected_version)
                .bind(change.state)
                .bind(json_text(change.data))
                .bind(last.seq)
                .bind(last.hash.as_str())
                .bind(change.at)
                .execute(&mut *conn)
                .await
                .map_err(q("updating a case"))?
                .rows_affected();
            if n != 1 {
                return Err(conflict());
            }
            format!(
                "INSERT INTO journal ({JOURNAL_COLUMNS}) VALUES {}",
                rows(1, false)
            )
        }
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if backend == Backend::Postgres {
        query = query
            .bind(change.id.0)
            .bind(change.expected_version)
            .bind(change.state)
            .bind(json_text(change.data))
            .bind(last.seq)
            .bind(last.hash.as_str())
            .bind(change.at);
    }
    query = bind_events(query, change.events);
    let inserted = query
        .execute(&mut *conn)
        .await
        .map_err(|err| constraint_error(err, "writing the journal"))?
        .rows_affected();
    if inserted != change.events.len() as u64 {
        return Err(conflict());
    }
    Ok(())
}

/// Binds a change's journal rows in [`JOURNAL_COLUMNS`] order.
fn bind_events<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    events: &'q [Event],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    for e in events {
        query = query
            .bind(e.case_id)
            .bind(e.seq)
            .bind(e.recorded_at.as_str())
            .bind(e.actor.as_str())
            .bind(e.role.as_str())
            .bind(e.kind.as_str())
            .bind(e.transition.as_deref())
            .bind(e.payload.to_string())
            .bind(e.prev_hash.as_str())
            .bind(e.hash.as_str());
    }
    query
}

fn document_with_file_number(r: &AnyRow) -> Result<(FileNumber, DocumentRow), StoreError> {
    Ok((
        FileNumber::new(get::<String>(r, "case_file_number")?),
        DocumentRow::from_row(r)?,
    ))
}

fn json_text(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).expect("a JSON map always serialises")
}

/// Turns a constraint violation into the domain error its constraint
/// stands for (by the constraint's name, or on SQLite, which names no
/// constraint, by the columns in its message); anything else into `Query`.
fn constraint_error(e: sqlx::Error, what: &'static str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let name = db.constraint().unwrap_or("");
        let message = db.message();
        if name == "journal_pkey" || message.contains("journal.case_id, journal.seq") {
            // Two transactions chained onto the same head at once.
            return StoreError::ConcurrentAppend;
        }
        if name == "cases_file_number_key" || message.contains("cases.file_number") {
            return StoreError::Duplicate {
                what: "a case with this file number".into(),
            };
        }
        if name == "users_name_key" || message.contains("users.name") {
            return StoreError::Duplicate {
                what: "a user with this name".into(),
            };
        }
        return StoreError::Duplicate {
            what: format!("a row ({name})"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_reads_as_such_in_german_and_changes_nothing() {
        let e = classify("writing a case", sqlx::Error::PoolTimedOut);
        assert!(matches!(e, StoreError::Busy { .. }), "{e}");
        assert!(
            e.to_string().starts_with("Die Datenbank ist gerade belegt"),
            "{e}"
        );
        let case = crate::case::CaseError::from(e);
        assert_eq!(case.kind(), crate::case::ErrorKind::Unavailable);
        let other = classify("reading", sqlx::Error::RowNotFound);
        assert!(matches!(other, StoreError::Query { .. }));
    }
}
