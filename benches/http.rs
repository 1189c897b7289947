//! The HTTP server under load: 100,000 cases on SQLite and on PostgreSQL,
//! 32 concurrent clients, measured by `oha` (crates.io; `cargo install oha`)
//! with latency correction for coordinated omission: first the throughput
//! of each page, then p50/p99 at a fixed rate of half that throughput,
//! where a request that should have started earlier counts its waiting time.
//!
//! Pages: the Arbeitskorb, a Fallseite, and `GET /api/v1/cases/{file_number}`
//! (a random case of the 100,000 each time). Aims: p99 under 50 ms for a
//! Fallseite, at least 1,000 requests/s for the API read on 2 cores.
//!
//! `cargo bench --bench http` (needs the PostgreSQL server and `oha` on PATH;
//! `AMTSPOST_BENCH_SECONDS` sets the length of each run, default 10).

use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

mod common;

use amtspost::clock::ManualClock;
use amtspost::identity::UserSpec;

const CASES: i64 = 100_000;
const CLIENTS: &str = "32";

/// 100,000 KI applications in review, each with an open deadline, spread
/// over two years so the Arbeitskorb has to order them.
async fn fill(url: &str, postgres: bool, version: i64) {
    let series = if postgres {
        "SELECT g::bigint AS n FROM generate_series(1, $N) AS g"
    } else {
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $N) SELECT n FROM s"
    };
    let date = if postgres {
        "to_char(DATE '2012-10-01' + (n * 7919 % 730)::int, 'YYYY-MM-DD')"
    } else {
        "date('2012-10-01', '+' || (n * 7919 % 730) || ' days')"
    };
    let all = series.replace("$N", &CASES.to_string());
    let data = r#"{"kommune":"Kreis Unna","kommune_art":"Kreis","antrag_datum":"2012-09-26","antrag_eingang":"2012-09-28","bearbeiter_name":"Anna Becker"}"#;
    let parties = r#"{"applicant":{"name":"Kreis Unna","email":"poststelle@kreis-unna.example.org","address":["Friedrich-Ebert-Straße 17","59425 Unna"]}}"#;
    let sql = format!(
        "INSERT INTO cases (file_number, workflow_id, workflow_version, state, data, parties, version, last_seq, head_hash, opened_at, updated_at)
           SELECT 'KI-2012-' || n, 'ki-foerderantrag', {version}, 'in_pruefung', '{data}', '{parties}', 1, 0, 'x',
                  '2012-09-28T07:00:00Z', '2012-09-28T07:00:00Z' FROM ({all}) AS c;
         INSERT INTO deadlines (case_id, name, title, due_date, status, set_at, explanation)
           SELECT n, 'nachreichung', 'Nachreichung der Unterlagen', {date}, 'open', '2012-10-01', '{{}}' FROM ({all}) AS d",
    );
    common::execute(url, &sql).await;
    let analyze = if postgres {
        "ANALYZE cases; ANALYZE deadlines"
    } else {
        "ANALYZE"
    };
    common::execute(url, analyze).await;
}

/// One oha run; `rate` fixes the request rate (with latency correction).
fn oha(url: &str, token: &str, seconds: u64, rate: Option<f64>, random: bool) -> Value {
    let mut cmd = Command::new("oha");
    cmd.args(["--no-tui", "--output-format", "json", "-c", CLIENTS, "-z"])
        .arg(format!("{seconds}s"))
        .args(["-H", &format!("Authorization: Bearer {token}")]);
    if let Some(q) = rate {
        cmd.args(["-q", &format!("{q:.0}"), "--latency-correction"]);
    }
    if random {
        cmd.arg("--rand-regex-url");
    }
    cmd.arg(url);
    let out = cmd
        .output()
        .expect("the HTTP benchmark needs oha on PATH: cargo install oha");
    assert!(
        out.status.success(),
        "oha failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oha prints JSON")
}

/// Requests/s, p50 and p99 in ms, and the share of 200 answers.
fn figures(v: &Value) -> (f64, f64, f64, f64) {
    let rps = v["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0);
    let ms = |p: &str| v["latencyPercentiles"][p].as_f64().unwrap_or(f64::NAN) * 1000.0;
    let codes = v["statusCodeDistribution"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let all: f64 = codes.values().filter_map(Value::as_f64).sum();
    let ok = codes.get("200").and_then(Value::as_f64).unwrap_or(0.0) / all.max(1.0);
    assert!(ok > 0.99, "not every answer was 200: {codes:?}");
    (rps, ms("p50"), ms("p99"), ok)
}

fn run(postgres: bool, seconds: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = match std::env::var("AMTSPOST_BENCH_KEEP") {
        Ok(d) => {
            std::fs::create_dir_all(&d).unwrap();
            tempfile::Builder::new()
                .disable_cleanup(true)
                .tempdir_in(d)
                .unwrap()
        }
        Err(_) => dir,
    };
    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    let (addr, token, _server) = rt.block_on(async {
        let url = common::database_url(postgres, dir.path(), "http").await;
        let config = amtspost::config::Config {
            database_url: url.clone(),
            workflows_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/workflows").into(),
            templates_dir: dir.path().join("templates"),
            documents_dir: dir.path().join("documents"),
            ..Default::default()
        };
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2012-10-15T08:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let app = common::app(config, clock).await;
        let version = app.catalog().current("ki-foerderantrag").unwrap().version;
        fill(&url, postgres, version).await;
        let roles = app.known_roles();
        app.identity()
            .add_user(
                UserSpec {
                    name: "becker".into(),
                    display_name: Some("Anna Becker".into()),
                    roles: vec!["clerk".into()],
                    party: None,
                    password: Some("sicheres-passwort-2012".into()),
                },
                &roles,
            )
            .await
            .unwrap();
        let token = app.identity().new_token("becker").await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = amtspost::http::router(app).unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        (addr, token, server)
    });
    let base = format!("http://{addr}");
    let pages = [
        (
            "Arbeitskorb",
            format!("{base}/arbeitskorb?mine=true"),
            false,
        ),
        (
            "GET /api/v1/cases?mine=true",
            format!("{base}/api/v1/cases?mine=true"),
            false,
        ),
        ("Fallseite", format!("{base}/faelle/KI-2012-4711"), false),
        (
            "GET /api/v1/cases/{file_number}",
            format!(
                "http://127[.]0[.]0[.]1:{}/api/v1/cases/KI-2012-[1-9][0-9]{{0,4}}",
                addr.port()
            ),
            true,
        ),
    ];
    println!("\n{backend}, {CASES} cases, {CLIENTS} clients, {seconds} s per run");
    println!(
        "{:<34} {:>10} {:>12} {:>9} {:>9} {:>8}",
        "page", "max req/s", "fixed req/s", "p50 ms", "p99 ms", "ok"
    );
    for (name, url, random) in pages {
        // Warm up (connections, caches), then the throughput, then a fixed rate.
        oha(&url, &token, 2, None, random);
        let (max, _, _, _) = figures(&oha(&url, &token, seconds, None, random));
        let rate = (max * 0.5).max(1.0);
        let (got, p50, p99, ok) = figures(&oha(&url, &token, seconds, Some(rate), random));
        println!(
            "{name:<34} {max:>10.0} {got:>12.0} {p50:>9.1} {p99:>9.1} {:>7.1}%",
            ok * 100.0
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks a backend.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let seconds = std::env::var("AMTSPOST_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for (postgres, name) in [(false, "sqlite"), (true, "postgres")] {
        if filter.as_deref().is_none_or(|f| name.contains(f)) {
            run(postgres, seconds);
        }
    }
}
