//! Transitions per second with persistence and journal: every fire checks
//! role, payload and a CEL guard, and commits the state change with its
//! hash-chained event. The clerks fire the same 8 cases over and over, so
//! after the first fire each one starts from the row the engine's fire
//! before wrote (its cache of recent cases) instead of reading it; the
//! write still checks the version, as every fire does. Runs on SQLite (a file, WAL) and on the
//! PostgreSQL server at `AMTSPOST_TEST_POSTGRES_URL`
//! (default postgres://postgres@127.0.0.1:5432/test), sequentially and with
//! 8 concurrent clerks on 8 cases.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use amtspost::case::{Actor, Engine, FireRequest, OpenRequest};
use amtspost::clock::ManualClock;
use amtspost::config::Config;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

const WORKFLOW: &str = r#"
id = "vermerk"
version = 1
title = "Vermerke"
register = "VM"
[roles]
clerk = "Sachbearbeitung"
[fields]
name = { type = "string", required = true }
count = { type = "integer" }
[[states]]
name = "offen"
initial = true
[[states]]
name = "erledigt"
final = true
[[transitions]]
name = "vermerken"
from = "offen"
to = "offen"
roles = ["clerk"]
requires = ["count"]
guards = [{ expr = "data.count >= 0", message = "count must not be negative" }]
[[transitions]]
name = "erledigen"
from = "offen"
to = "erledigt"
roles = ["clerk"]
"#;

struct Bench {
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

async fn setup(postgres: bool) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(wf.join("vermerk.toml"), WORKFLOW).unwrap();
    let url = common::database_url(postgres, dir.path(), "transitions").await;
    let config = Config {
        database_url: url.clone(),
        workflows_dir: wf.clone(),
        ..Config::default()
    };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = common::app(config, clock).await;
    let engine = app.engine().clone();
    Bench { engine, _dir: dir }
}

async fn open(engine: &Engine, i: usize) -> String {
    let mut data = Map::new();
    data.insert("name".into(), Value::from(format!("Fall {i}")));
    engine
        .open(OpenRequest {
            workflow: "vermerk".into(),
            data,
            parties: Default::default(),
            actor: Actor::new("bench", "clerk"),
        })
        .await
        .unwrap()
        .file_number
        .to_string()
}

async fn fire(engine: &Engine, case: &str, n: u64) {
    engine
        .fire(FireRequest {
            file_number: case.into(),
            transition: "vermerken".into(),
            actor: Actor::new("bench", "clerk"),
            payload: json!({"count": n}).as_object().unwrap().clone(),
            expected_version: None,
        })
        .await
        .unwrap();
}

/// Fires `iters` transitions spread over `clerks` cases, one task per case.
async fn run(engine: Arc<Engine>, cases: Arc<Vec<String>>, clerks: usize, iters: u64) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clerks {
        let engine = engine.clone();
        let case = cases[c].clone();
        let share = iters / clerks as u64 + u64::from((c as u64) < iters % clerks as u64);
        tasks.push(tokio::spawn(async move {
            for n in 0..share {
                fire(&engine, &case, n).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn transitions(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("fire_transition");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));
    for (name, postgres) in [("sqlite", false), ("postgres", true)] {
        let bench = rt.block_on(setup(postgres));
        let cases = Arc::new(rt.block_on(async {
            let mut v = Vec::new();
            for i in 0..8 {
                v.push(open(&bench.engine, i).await);
            }
            v
        }));
        for clerks in [1usize, 8] {
            let engine = bench.engine.clone();
            let cases = cases.clone();
            group.bench_function(format!("{name}/{clerks}_concurrent"), |b| {
                b.to_async(&rt)
                    .iter_custom(|iters| run(engine.clone(), cases.clone(), clerks, iters));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, transitions);
criterion_main!(benches);
