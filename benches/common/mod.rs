//! What the benchmarks share: a fresh database URL, the SMTP sink.

use std::path::Path;

#[allow(dead_code)]
/// A fresh database for one benchmark: a SQLite file in `dir`, or a new
/// schema on the PostgreSQL server at `AMTSPOST_TEST_POSTGRES_URL`.
pub async fn database_url(postgres: bool, dir: &Path, tag: &str) -> String {
    if !postgres {
        return format!("sqlite://{}", dir.join(format!("{tag}.db")).display());
    }
    use sqlx::Connection;
    let base = std::env::var("AMTSPOST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("amtspost_bench_{tag}_{}", std::process::id());
    let mut c = sqlx::PgConnection::connect(&base)
        .await
        .expect("the PostgreSQL benchmark needs a server (AMTSPOST_TEST_POSTGRES_URL)");
    for sql in [
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }
    format!("{base}?options=-c%20search_path%3D{schema}")
}

/// Runs `;`-separated SQL on a database behind amtspost's back, to fill it
/// with bulk data faster than the engine would.
#[allow(dead_code)]
pub async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

/// The application as a server builds it (every workflow published).
#[allow(dead_code)]
pub async fn app(
    config: amtspost::config::Config,
    clock: std::sync::Arc<amtspost::clock::ManualClock>,
) -> amtspost::app::App {
    amtspost::app::App::build_with(
        std::sync::Arc::new(config),
        clock,
        amtspost::app::AppOptions {
            publish: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// The SMTP server of the tests (tests/smtp_sink.py, aiosmtpd) on a free
/// port of 127.0.0.1, writing what it receives to a folder; stopped on drop.
#[allow(dead_code)]
pub struct Sink(std::process::Child, pub u16);

#[allow(dead_code)]
impl Sink {
    pub fn start(dir: &Path) -> Sink {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py"))
            .args(["--dir", dir.to_str().unwrap(), "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .expect("READY <port>")
            .parse()
            .unwrap();
        Sink(child, port)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}
