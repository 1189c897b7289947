//! Letters issued end to end: a transition whose effect renders a one-page
//! acknowledgement (Typst, in-process), stores the PDF under its hash,
//! records it and queues its mail, in one transaction. Compared with the
//! bare Typst compile and export of the same letter, on one core and on all
//! cores. Before criterion runs, a burst of 1,000 transitions submitted at
//! once, then 10,000 letters are issued, and the peak resident memory after
//! each is printed (VmHWM from /proc/self/status). Beside the unsealed
//! figure, the same letter issued with a B-B seal from a PKCS#12 key file
//! (ECDSA P-256, a throwaway test certificate): the cost of sealing.

use std::path::Path;

mod common;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amtspost::case::{Actor, Engine, FireRequest, OpenRequest};
use amtspost::clock::ManualClock;
use amtspost::config::Config;
use amtspost::letter::{LetterEngine, RenderRequest};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

struct Bench {
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

async fn setup() -> Bench {
    setup_with(false).await
}

/// A fresh app; `sealed`: every letter carries a B-B seal from a PKCS#12 file.
async fn setup_with(sealed: bool) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let mut seal = amtspost::seal::SealConfig::default();
    if sealed {
        let pki = amtspost::seal::testpki::TestPki::generate("Bezirksregierung Arnsberg").unwrap();
        let p12 = dir.path().join("siegel.p12");
        std::fs::write(&p12, pki.to_pkcs12("").unwrap()).unwrap();
        seal.mode = amtspost::seal::SealMode::Pkcs12;
        seal.pkcs12 = Some(p12);
    }
    let wf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/fixtures/workflows");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let config = Config {
        database_url: url.clone(),
        workflows_dir: wf.clone(),
        documents_dir: dir.path().join("documents"),
        seal,
        ..Config::default()
    };
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2012-03-19T08:00:00Z")
            .unwrap()
            .to_utc(),
    ));
    let app = common::app(config, clock).await;
    let engine = app.engine().clone();
    Bench { engine, _dir: dir }
}

/// Opens `n` cases, each named differently so that every PDF differs.
async fn open(engine: &Engine, n: u64, offset: u64) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut data = Map::new();
        data.insert(
            "name".into(),
            Value::from(format!("Gemeinde {}", i + offset)),
        );
        let mut parties = std::collections::BTreeMap::new();
        parties.insert(
            "applicant".to_string(),
            format!(
                "Gemeinde {} <poststelle@g{}.example.org>",
                i + offset,
                i + offset
            )
            .parse()
            .unwrap(),
        );
        out.push(
            engine
                .open(OpenRequest {
                    workflow: "antrag".into(),
                    data,
                    parties,
                    actor: Actor::new("eingang", "clerk"),
                })
                .await
                .unwrap()
                .file_number
                .to_string(),
        );
    }
    out
}

/// Issues one letter per case, `clerks` at a time.
async fn issue(engine: Arc<Engine>, cases: Vec<String>, clerks: usize) -> Duration {
    let start = Instant::now();
    let chunks: Vec<Vec<String>> = cases
        .chunks(cases.len().div_ceil(clerks).max(1))
        .map(<[String]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            for n in chunk {
                engine
                    .fire(FireRequest {
                        file_number: n.into(),
                        transition: "pruefen".into(),
                        actor: Actor::new("meier", "clerk"),
                        payload: Map::new(),
                        expected_version: None,
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The letter `pruefen` issues for case `i`, with the same data the engine
/// gives it (the office of the default configuration, the applicant as
/// recipient, the file number, the workflow's fields): the bare compile is
/// measured on the very letter the end-to-end runs issue, not a smaller one.
fn letter_data(i: u64) -> Value {
    json!({
        "office": amtspost::config::Office::default().letter_data(),
        "recipient": {"lines": [format!("Gemeinde {i}")]},
        "reference": {"ours": format!("AN-2012-{i:05}")},
        "subject": ["Ihr Antrag auf Förderung", "Eingangsbestätigung"],
        "application": {"date": "2012-03-19", "received": "2012-03-19", "subject": format!("Förderung für Gemeinde {i}")},
        "signature": {"note": "Im Auftrag", "name": "Meier"},
    })
}

fn letters(c: &mut Criterion) {
    let peak_before = peak_rss_mb();
    if std::env::var_os("AMTSPOST_BENCH_SKIP_MEMORY").is_none() {
        // A burst: 1,000 transitions with a letter each, all submitted at
        // once. The renders queue for the bounded pool (one slot per core)
        // instead of all holding a Typst compile in memory together.
        let rt = runtime(2);
        let bench = rt.block_on(setup());
        let cases = rt.block_on(open(&bench.engine, 1_000, 1_000_000));
        let took = rt.block_on(issue(bench.engine.clone(), cases, 1_000));
        println!(
            "memory: a burst of 1,000 transitions submitted at once, each rendering a letter: done in {:.1} s; peak RSS {:.1} MB (before: {:.1} MB)",
            took.as_secs_f64(),
            peak_rss_mb(),
            peak_before
        );
        drop(bench);
        drop(rt);
        let rt = runtime(2);
        let bench = rt.block_on(setup());
        let cases = rt.block_on(open(&bench.engine, 10_000, 0));
        let took = rt.block_on(issue(bench.engine.clone(), cases, 2));
        println!(
            "memory: 10,000 letters issued end to end in {:.1} s ({:.0}/s); peak RSS {:.1} MB (before: {:.1} MB)",
            took.as_secs_f64(),
            10_000.0 / took.as_secs_f64(),
            peak_rss_mb(),
            peak_before
        );
    }

    let mut group = c.benchmark_group("letters");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(20);

    let engine = LetterEngine::embedded();
    let mut i = 0u64;
    group.bench_function("bare_typst_compile_and_export", |b| {
        b.iter(|| {
            i += 1;
            let data = letter_data(i);
            let title = format!("Antrag (Testverfahren) AN-2012-{i:05}");
            engine
                .render(&RenderRequest {
                    template: "eingangsbestaetigung",
                    data: &data,
                    date: chrono::NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
                    title: &title,
                    author: "Bezirksregierung Arnsberg",
                })
                .unwrap()
        })
    });

    for (name, workers, sealed) in [
        ("issued_end_to_end/1_core", 1usize, false),
        ("issued_end_to_end/all_cores", 2, false),
        ("issued_end_to_end_sealed_b_b_pkcs12/1_core", 1, true),
        ("issued_end_to_end_sealed_b_b_pkcs12/all_cores", 2, true),
    ] {
        let rt = runtime(workers);
        let bench = rt.block_on(setup_with(sealed));
        let mut offset = 0u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let cases = rt.block_on(open(&bench.engine, iters, offset));
                offset += iters;
                rt.block_on(issue(bench.engine.clone(), cases, workers * 4))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, letters);
criterion_main!(benches);
