//! Test support: fresh databases, an engine on the fixture workflows, the binary.

pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use amtspost::app::{App, AppOptions};
use amtspost::case::{Actor, CaseView, Engine, FireRequest, OpenRequest, PartyRef};
use amtspost::clock::ManualClock;
use amtspost::config::Config;
use amtspost::letter::LetterEngine;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Runs each listed test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $db = $crate::support::TestDb::sqlite().await;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $db = $crate::support::TestDb::postgres().await;
                    $body
                }
            )*
        }
    };
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/fixtures")
}

pub fn postgres_base_url() -> String {
    std::env::var("AMTSPOST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database: a SQLite file in a temp folder, or a new schema
/// on the PostgreSQL server (dropped again when the test ends).
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("amtspost.db").display());
        TestDb {
            url,
            dir,
            schema: None,
        }
    }

    /// Fails (never skips) when the server is unreachable: CI must notice.
    pub async fn postgres() -> TestDb {
        use sqlx::Connection;
        let base = postgres_base_url();
        let schema = format!(
            "amtspost_t_{}_{}",
            std::process::id(),
            SCHEMA_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL tests need a server at {base} (set AMTSPOST_TEST_POSTGRES_URL); .ci/run starts one: {e}"
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        TestDb {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            dir: tempfile::tempdir().unwrap(),
            schema: Some(schema),
        }
    }

    /// The PostgreSQL schema the test runs in (`None` on SQLite).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub fn is_postgres(&self) -> bool {
        self.schema.is_some()
    }

    /// Runs SQL on the database behind amtspost's back: for tests that play
    /// a malicious administrator. Returns the rows affected, or the
    /// database's refusal.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64, sqlx::Error> {
        use sqlx::Connection;
        let mut affected = 0;
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await?;
            for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                affected += sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&mut conn)
                    .await?
                    .rows_affected();
            }
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
            for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                affected += sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&mut conn)
                    .await?
                    .rows_affected();
            }
        }
        Ok(affected)
    }

    /// The first column of every row as text (the query casts it), read
    /// behind amtspost's back.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        use sqlx::{Connection, Row};
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect()
        }
    }

    /// One number from the database (`SELECT COUNT(*) ...`), read behind
    /// amtspost's back.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::{Connection, Row};
        if self.is_postgres() {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get::<i64, _>(0)
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    }
}

static SCHEMA_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Drop is synchronous; clean up on a thread with its own runtime.
        let base = postgres_base_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            })
        })
        .join();
    }
}

/// Mail over SMTP to 127.0.0.1:`port` without TLS.
pub fn smtp_config(port: u16, max_attempts: u32) -> amtspost::mail::MailConfig {
    amtspost::mail::MailConfig {
        transport: amtspost::mail::Transport::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        tls: amtspost::mail::Tls::None,
        timeout_secs: 5,
        max_attempts,
        backoff_base_secs: 60,
        backoff_max_secs: 3600,
        ..Default::default()
    }
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// The application on the fixture workflows, built by [`App`] exactly as
/// the binary builds it, with a clock the test sets.
pub struct TestApp {
    pub app: App,
    /// The app's engine (a shortcut: `app.engine()`).
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
}

/// The configuration every test app starts from: the database, the given
/// workflows, documents under the test's temp folder.
pub fn test_config(db: &TestDb, workflows: &Path) -> Config {
    Config {
        database_url: db.url.clone(),
        workflows_dir: workflows.to_path_buf(),
        // No templates folder: the built-in letter and mail templates, as in
        // a fresh installation.
        templates_dir: db.dir.path().join("templates"),
        documents_dir: db.dir.path().join("documents"),
        role_addresses: [(
            "clerk".to_string(),
            "dezernat36@bra.example.org".to_string(),
        )]
        .into(),
        ..Config::default()
    }
}

impl TestApp {
    /// A courier sending to an SMTP server on 127.0.0.1:`port` without TLS.
    pub fn courier(&self, port: u16, max_attempts: u32) -> amtspost::outbox::Courier {
        self.app
            .courier_for(&smtp_config(port, max_attempts))
            .unwrap()
    }

    pub async fn new(db: &TestDb) -> TestApp {
        Self::with_workflows(db, &fixtures().join("workflows")).await
    }

    pub async fn with_letters(db: &TestDb, letters: Arc<LetterEngine>) -> TestApp {
        let config = test_config(db, &fixtures().join("workflows"));
        Self::try_build(config, Some(letters)).await.unwrap()
    }

    pub async fn with_workflows(db: &TestDb, workflows: &Path) -> TestApp {
        Self::try_build(test_config(db, workflows), None)
            .await
            .unwrap()
    }

    /// Builds the app as `amtspost serve` does (publishing every workflow).
    pub async fn try_build(
        config: Config,
        letters: Option<Arc<LetterEngine>>,
    ) -> Result<TestApp, amtspost::app::AppError> {
        let config = Arc::new(config);
        let clock = Arc::new(ManualClock::new(at("2012-03-19T08:00:00Z")));
        let app = App::build_with(
            config.clone(),
            clock.clone(),
            AppOptions {
                publish: true,
                letters,
                ..AppOptions::default()
            },
        )
        .await?;
        Ok(TestApp {
            engine: app.engine().clone(),
            app,
            clock,
        })
    }

    pub async fn open_antrag(&self, name: &str) -> CaseView {
        let mut data = Map::new();
        data.insert("name".into(), Value::from(name));
        let mut parties = std::collections::BTreeMap::new();
        parties.insert(
            "applicant".to_string(),
            format!(
                "{name} <poststelle@{}.example.org>",
                name.to_lowercase().replace(' ', "-")
            )
            .parse::<PartyRef>()
            .unwrap(),
        );
        self.engine
            .open(OpenRequest {
                workflow: "antrag".into(),
                data,
                parties,
                actor: Actor::new("eingang", "clerk"),
            })
            .await
            .unwrap()
    }

    pub fn fire(
        &self,
        case: &str,
        transition: &str,
        actor: &str,
        role: &str,
        payload: Value,
    ) -> FireRequest {
        FireRequest {
            file_number: case.into(),
            transition: transition.into(),
            actor: Actor::new(actor, role),
            payload: payload.as_object().cloned().unwrap_or_default(),
            expected_version: None,
        }
    }
}

/// The real `amtspost` binary in a temp folder, with the user's environment removed.
pub struct Bin<'a> {
    pub db: &'a TestDb,
    pub workflows: PathBuf,
}

impl<'a> Bin<'a> {
    pub fn new(db: &'a TestDb) -> Bin<'a> {
        Bin {
            db,
            workflows: fixtures().join("workflows"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_amtspost"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AMTSPOST_DATABASE_URL", &self.db.url)
            .env("AMTSPOST_WORKFLOWS_DIR", &self.workflows)
            .env(
                "AMTSPOST_DOCUMENTS_DIR",
                self.db.dir.path().join("documents"),
            )
            .env("AMTSPOST_NOW", "2012-03-19T09:00:00+01:00")
            .current_dir(self.db.dir.path())
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("the binary runs");
        Run(out)
    }
}

/// What a run of the binary printed.
pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.0.status.success(),
            "expected success, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    #[track_caller]
    pub fn fails(&self) -> String {
        assert!(
            !self.0.status.success(),
            "expected failure\nstdout:\n{}",
            self.stdout()
        );
        self.stderr()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.ok()).expect("--json prints JSON")
    }
}

/// The text of a PDF, laid out, via poppler's `pdftotext`.
pub fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed; .ci/run installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PostgreSQL session that takes a lock and holds it, so that a test can
/// wait until its contenders all wait behind it (seen in `pg_stat_activity`)
/// and so force a race instead of leaving it to timing.
pub struct PgHolder {
    conn: sqlx::PgConnection,
    watch: sqlx::PgConnection,
    pid: i32,
}

impl PgHolder {
    /// Opens a transaction and runs `lock` (e.g. `SELECT ... FOR UPDATE`,
    /// `LOCK TABLE ...`) in it.
    pub async fn hold(db: &TestDb, lock: &str) -> PgHolder {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(lock.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
        let pid: i32 = sqlx::query("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        // The activity view is a snapshot per transaction: watch from outside.
        let watch = sqlx::PgConnection::connect(&db.url).await.unwrap();
        PgHolder { conn, watch, pid }
    }

    /// Waits until `n` sessions wait, transitively, behind the holder.
    pub async fn until_waiting(&mut self, n: i64) {
        use sqlx::Row;
        let start = std::time::Instant::now();
        loop {
            let waiting: i64 = sqlx::query(
                "WITH RECURSIVE chain(pid) AS (
                     SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))
                     UNION
                     SELECT a.pid FROM pg_stat_activity a JOIN chain c ON c.pid = ANY(pg_blocking_pids(a.pid))
                 ) SELECT count(*) FROM chain",
            )
            .bind(self.pid)
            .fetch_one(&mut self.watch)
            .await
            .unwrap()
            .get(0);
            if waiting >= n {
                return;
            }
            assert!(
                start.elapsed().as_secs() < 60,
                "only {waiting} of {n} writers reached the database"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Ends the transaction: the waiting sessions go on, all at once.
    pub async fn release(mut self) {
        sqlx::query("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .unwrap();
    }
}
