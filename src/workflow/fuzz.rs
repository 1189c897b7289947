//! Property-based fuzzing of what people write into amtspost: workflow
//! files (random mutations of the shipped ones), guard expressions, periods
//! and the values a step is fired with (`--set KEY=VALUE`, form fields,
//! API payloads). Never a panic; a refusal always says where. A fixed
//! number of cases runs in `cargo test`; the ignored `*_long` tests run many
//! more (`cargo test --release -- --ignored fuzz`). proptest keeps every
//! input that ever failed in `proptest-regressions/` (committed), and runs
//! those first on every run.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

use super::guard::GuardVars;
use super::{DataFiles, Definition, FireInput, Guard, GuardInput, load_with_data};

/// The shipped workflow files, by file name.
fn shipped() -> Vec<(String, String)> {
    crate::assets::WORKFLOWS
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "toml"))
        .map(|f| {
            (
                f.path().display().to_string(),
                f.contents_utf8().unwrap().to_string(),
            )
        })
        .collect()
}

fn data() -> DataFiles {
    let mut out = DataFiles::new();
    if let Some(dir) = crate::assets::WORKFLOWS.get_dir("data") {
        for f in dir.files() {
            out.insert(
                f.path().display().to_string(),
                f.contents_utf8().unwrap().to_string(),
            );
        }
    }
    out
}

fn templates() -> BTreeSet<String> {
    crate::letter::LetterEngine::embedded()
        .templates()
        .into_iter()
        .collect()
}

/// ki-foerderantrag, loaded once (guards and payloads are checked against it).
fn ki() -> &'static Definition {
    static KI: std::sync::OnceLock<Definition> = std::sync::OnceLock::new();
    KI.get_or_init(|| {
        let (name, text) = shipped()
            .into_iter()
            .find(|(n, _)| n.contains("ki-foerderantrag"))
            .unwrap();
        load_with_data(Path::new(&name), &text, &templates(), &data()).unwrap()
    })
}

/// One edit of a file's text: delete, insert, duplicate or drop a line,
/// or overwrite a line with noise.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, text: String },
    DuplicateLine { at: f64 },
    DropLine { at: f64 },
    ReplaceLine { at: f64, text: String },
}

/// Text a person might type into a workflow file, including TOML's and
/// CEL's punctuation, umlauts and control characters.
fn noise() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("=".to_string()),
            Just("\"".to_string()),
            Just("\"\"\"".to_string()),
            Just("[".to_string()),
            Just("]]".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just(",".to_string()),
            Just("\n".to_string()),
            Just("#".to_string()),
            Just("data.".to_string()),
            Just("to = \"nirgendwo\"".to_string()),
            Just("from = [".to_string()),
            Just("[[transitions]]".to_string()),
            Just("[[states]]".to_string()),
            Just("period = \"0W\"".to_string()),
            Just("ä".to_string()),
            Just("\u{0}".to_string()),
            Just("\t".to_string()),
            "[a-z_]{1,8}".prop_map(|s| s),
            "[0-9]{1,4}".prop_map(|s| s),
        ],
        0..6,
    )
    .prop_map(|v| v.join(""))
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1..40usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (at.clone(), noise()).prop_map(|(at, text)| Edit::Insert { at, text }),
        at.clone().prop_map(|at| Edit::DuplicateLine { at }),
        at.clone().prop_map(|at| Edit::DropLine { at }),
        (at, noise()).prop_map(|(at, text)| Edit::ReplaceLine { at, text }),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let pos = |at: f64| ((chars.len() as f64) * at) as usize;
    let mut lines: Vec<&str> = text.lines().collect();
    let line = |at: f64, n: usize| (((n as f64) * at) as usize).min(n.saturating_sub(1));
    match e {
        Edit::Delete { at, len } => {
            let p = pos(*at);
            let end = (p + len).min(chars.len());
            chars[..p].iter().chain(&chars[end..]).collect()
        }
        Edit::Insert { at, text: t } => {
            let p = pos(*at);
            let mut out: String = chars[..p].iter().collect();
            out.push_str(t);
            out.extend(&chars[p..]);
            out
        }
        Edit::DuplicateLine { at } if !lines.is_empty() => {
            let i = line(*at, lines.len());
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Edit::DropLine { at } if !lines.is_empty() => {
            lines.remove(line(*at, lines.len()));
            lines.join("\n")
        }
        Edit::ReplaceLine { at, text: t } if !lines.is_empty() => {
            let i = line(*at, lines.len());
            lines[i] = t;
            lines.join("\n")
        }
        _ => text.to_string(),
    }
}

/// Loads a mutated file: accepted, or refused with every problem located
/// inside the file and named after it.
fn check_mutated(file: usize, edits: &[Edit]) -> Result<(), TestCaseError> {
    let files = shipped();
    let (name, text) = &files[file % files.len()];
    let mut text = text.clone();
    for e in edits {
        text = apply(&text, e);
    }
    let lines = text.lines().count().max(1);
    if let Err(problems) = load_with_data(Path::new(name), &text, &templates(), &data()) {
        prop_assert!(!problems.is_empty());
        for p in problems {
            prop_assert!(
                p.line >= 1 && p.line <= lines + 1,
                "{p} (file has {lines} lines)"
            );
            prop_assert!(p.to_string().starts_with(name.as_str()), "{p}");
            prop_assert!(!p.message.trim().is_empty(), "{p}");
        }
    }
    Ok(())
}

/// Guard expressions made of CEL's pieces and the workflow's fields.
fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("data.kommune".to_string()),
            Just("data.stellen_paedagogik".to_string()),
            Just("data.konzept_themen".to_string()),
            Just("data.nope".to_string()),
            Just("today".to_string()),
            Just("==".to_string()),
            Just("<=".to_string()),
            Just("&&".to_string()),
            Just("||".to_string()),
            Just("!".to_string()),
            Just("?".to_string()),
            Just(":".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(" in ".to_string()),
            Just("size(".to_string()),
            Just(".startsWith(".to_string()),
            Just("'Kreis'".to_string()),
            Just("\"ü".to_string()),
            Just("null".to_string()),
            Just("1".to_string()),
            Just("2.5".to_string()),
            Just("-".to_string()),
            Just("/ 0".to_string()),
            Just(",".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
        ],
        0..12,
    )
    .prop_map(|v| v.join(" "))
}

/// JSON values of every type, as a payload could carry them.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        Just(Value::String("2012-02-30".into())),
        Just(Value::String("2013-07-31".into())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    let names: Vec<String> = ki().fields.keys().cloned().collect();
    prop_oneof![prop::sample::select(names), "[a-z_]{1,10}".prop_map(|s| s),]
}

/// Compiles and evaluates a random guard against random data.
fn check_guard(expr: &str, data: &Map<String, Value>) -> Result<(), TestCaseError> {
    let def = ki();
    match Guard::compile(expr, None, &GuardVars::new(&def.fields)) {
        Ok(g) => {
            let _ = g.allows(&GuardInput {
                data,
                payload: &Map::new(),
                actor: "becker",
                role: "clerk",
                state: "in_pruefung",
                today: chrono::NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
                rates: &Map::new(),
            });
        }
        Err(p) => {
            prop_assert!(p.offset <= expr.len(), "offset {} in {expr:?}", p.offset);
            prop_assert!(!p.message.is_empty());
        }
    }
    Ok(())
}

/// Fires every transition of ki-foerderantrag from every state with a
/// random payload: refused or accepted, and a refusal about a value names
/// a field that was given or the workflow declares.
fn check_payload(payload: &Map<String, Value>) -> Result<(), TestCaseError> {
    let def = ki();
    let data = Map::new();
    let priors = std::collections::BTreeMap::new();
    let rates = Map::new();
    for state in &def.states {
        for t in &def.transitions {
            let r = def.plan(&FireInput {
                state: &state.name,
                transition: &t.name,
                actor: "becker",
                role: t.roles.first().map(String::as_str).unwrap_or("clerk"),
                data: &data,
                payload,
                taken: &data,
                prior_actors: &priors,
                today: chrono::NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
                rates: &rates,
            });
            if let Err(super::WorkflowError::InvalidField { field, .. }) = r {
                prop_assert!(
                    payload.contains_key(&field) || def.fields.contains_key(&field),
                    "refusal names `{field}`"
                );
            }
        }
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Failures are written to, and replayed first from, a file that is
        // committed (tests/regressions/): a case that once broke stays tested.
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "tests/regressions/workflow-fuzz.txt",
            ),
        )),
        ..Config::default()
    })
}

fn workflow_files(cases: u32) {
    runner(cases)
        .run(
            &(0..8usize, prop::collection::vec(edit(), 1..4)),
            |(file, edits)| check_mutated(file, &edits),
        )
        .unwrap();
}

fn guards(cases: u32) {
    runner(cases)
        .run(
            &(
                expression(),
                prop::collection::btree_map(field_name(), value(), 0..5),
            ),
            |(expr, data)| check_guard(&expr, &data.into_iter().collect()),
        )
        .unwrap();
}

fn periods(cases: u32) {
    runner(cases)
        .run(&"\\PC{0,8}", |text| {
            if let Err(e) = crate::deadline::Period::from_str(&text) {
                prop_assert!(e.to_string().contains(&format!("\"{text}\"")), "{e}");
            }
            Ok(())
        })
        .unwrap();
}

fn payloads(cases: u32) {
    runner(cases)
        .run(
            &prop::collection::btree_map(field_name(), value(), 0..6),
            |m| check_payload(&m.into_iter().collect()),
        )
        .unwrap();
}

#[test]
fn mutated_workflow_files_are_refused_with_located_errors_never_a_panic() {
    workflow_files(48);
}

#[test]
fn random_guard_expressions_compile_or_point_into_themselves() {
    guards(2_000);
}

#[test]
fn random_periods_are_refused_naming_the_text() {
    periods(500);
}

#[test]
fn random_payloads_are_refused_naming_the_field_never_a_panic() {
    payloads(24);
}

#[test]
#[ignore]
fn fuzz_workflow_files_long() {
    workflow_files(5_000);
}

#[test]
#[ignore]
fn fuzz_guards_long() {
    guards(50_000);
}

#[test]
#[ignore]
fn fuzz_periods_long() {
    periods(200_000);
}

#[test]
#[ignore]
fn fuzz_payloads_long() {
    payloads(2_000);
}

/// The fuzzers' failures are kept: a failing case is written to the
/// regressions file and is the first case tried on the next run.
#[test]
fn a_failure_is_persisted_and_replayed_first() {
    let dir = tempfile::tempdir().unwrap();
    let file: &'static str = Box::leak(
        dir.path()
            .join("r.txt")
            .to_string_lossy()
            .into_owned()
            .into_boxed_str(),
    );
    let make = || {
        TestRunner::new(Config {
            cases: 256,
            source_file: Some(file!()),
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(file),
            )),
            ..Config::default()
        })
    };
    let original = std::sync::Mutex::new(None);
    let failed = make().run(&(0u32..10_000), |x| {
        if x >= 5_000 {
            original.lock().unwrap().get_or_insert(x);
        }
        prop_assert!(x < 5_000);
        Ok(())
    });
    assert!(failed.is_err());
    let saved = std::fs::read_to_string(file).unwrap();
    assert!(saved.lines().any(|l| l.starts_with("cc ")), "{saved}");
    let first = std::sync::Mutex::new(None);
    let _ = make().run(&(0u32..10_000), |x| {
        first.lock().unwrap().get_or_insert(x);
        Ok(())
    });
    assert_eq!(
        *first.lock().unwrap(),
        *original.lock().unwrap(),
        "the failing case is replayed first"
    );
}
