//! `case export` / `case import` (the Akte) between the two databases, and a
//! database backup restored: the real binary on real databases.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Bin, TestApp, TestDb};

/// A case with a letter, an upload, a deadline with a reminder sent, and a
/// notice number: everything an Akte carries.
pub(crate) async fn full_case(app: &TestApp) -> String {
    let n = app.open_antrag("Kreis Unna").await.file_number.to_string();
    app.engine
        .fire(app.fire(&n, "pruefen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    let docs = app.engine.case_documents(&n).await.unwrap();
    let pdf = app.app.documents().bytes(&docs[0].sha256).await.unwrap();
    app.engine
        .upload(
            &n,
            &amtspost::case::Actor::new("unna", "applicant"),
            "Kreis Unna",
            "Stellenplan 2012.pdf",
            &pdf,
            20 * 1024 * 1024,
        )
        .await
        .unwrap();
    app.engine
        .fire(app.fire(&n, "nachfordern", "meier", "clerk", json!({})))
        .await
        .unwrap();
    app.clock.set(crate::support::at("2012-03-29T05:00:00Z"));
    let r = app.engine.remind(false).await.unwrap();
    assert_eq!(r.reminders.len(), 1, "a reminder: {r:?}");
    app.engine
        .fire(app.fire(&n, "unterlagen_da", "meier", "clerk", json!({})))
        .await
        .unwrap();
    approve(app, &n, 2).await;
    n
}

/// Proposed by one clerk, approved by another (four eyes): a notice number.
async fn approve(app: &TestApp, n: &str, posts: u32) -> amtspost::case::CaseView {
    app.engine
        .fire(app.fire(
            n,
            "vorschlagen",
            "meier",
            "clerk",
            json!({"decision": "bewilligen", "posts": posts}),
        ))
        .await
        .unwrap();
    app.engine
        .fire(app.fire(n, "bewilligen", "schulz", "approver", json!({})))
        .await
        .unwrap()
}

/// Opens a second case (after a backup, on a restored database).
const OPEN_SOEST: &[&str] = &[
    "case",
    "open",
    "antrag",
    "--actor",
    "eingang",
    "--role",
    "clerk",
    "--set",
    "name=Kreis Soest",
    "--party",
    "applicant=Kreis Soest",
];

fn show(bin: &Bin, n: &str) -> serde_json::Value {
    without_days_left(bin.run(&["--json", "case", "show", n]).json())
}

/// Days left are counted from the command's "now", not stored.
fn without_days_left(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(ds) = v["deadlines"].as_array_mut() {
        for d in ds {
            d.as_object_mut().unwrap().remove("days_left");
        }
    }
    v
}

async fn export_and_import_into_the_other_database(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = full_case(&app).await;
    app.app.close().await;
    let source = Bin::new(&db);
    let zip = db.dir.path().join("akte.zip");
    let out = source
        .run(&["case", "export", &n, "-o", zip.to_str().unwrap()])
        .ok();
    assert!(out.contains("Akte written to"), "{out}");
    // Never over an existing file.
    let again = source
        .run(&["case", "export", &n, "-o", zip.to_str().unwrap()])
        .fails();
    assert!(again.contains("exists already"), "{again}");

    let other = if db.is_postgres() {
        TestDb::sqlite().await
    } else {
        TestDb::postgres().await
    };
    let target = Bin::new(&other);
    target.run(&["init"]).ok();
    let imported = target.run(&["case", "import", zip.to_str().unwrap()]).ok();
    assert!(
        imported.contains(&format!("{n}: imported in state bewilligt")),
        "{imported}"
    );
    assert!(imported.contains("1 letter(s), 1 upload(s)"), "{imported}");

    // The case reads the same on both sides, its chain verifies there, and
    // its letter and upload are the same bytes.
    assert_eq!(show(&source, &n), show(&target, &n));
    target.run(&["audit", "verify"]).ok();
    target.run(&["document", "verify"]).ok();
    let app2 = TestApp::new(&other).await;
    let docs = app2.engine.case_documents(&n).await.unwrap();
    let uploads = app2.engine.uploads(&n).await.unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].file_name, "Stellenplan 2012.pdf");
    let bytes = app2.app.documents().bytes(&docs[0].sha256).await.unwrap();
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), docs[0].sha256);
    // The reminder already sent is not sent again, the deadline is met.
    assert_eq!(other.count("SELECT COUNT(*) FROM reminders").await, 1);
    // The registers go on after the imported numbers.
    let next = app2
        .open_antrag("Kreis Soest")
        .await
        .file_number
        .to_string();
    assert_eq!(next, "AN-2012-0002");
    app2.engine
        .fire(app2.fire(&next, "pruefen", "meier", "clerk", json!({})))
        .await
        .unwrap();
    let v = approve(&app2, &next, 1).await;
    assert_eq!(v.data["notice_number"], "B-2012-002");
    app2.app.close().await;

    // Importing it again is refused, and changes nothing.
    let cases = other.count("SELECT COUNT(*) FROM cases").await;
    let twice = target
        .run(&["case", "import", zip.to_str().unwrap()])
        .fails();
    assert!(
        twice.contains(&format!("a case with the file number {n} already exists")),
        "{twice}"
    );
    assert_eq!(other.count("SELECT COUNT(*) FROM cases").await, cases);
}

/// An archive's entries in order, as (name, bytes).
pub(crate) fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut e = archive.by_index(i).unwrap();
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            (e.name().to_string(), v)
        })
        .collect()
}

fn rezip(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, v) in parts {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(v).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A tampered Akte is refused with the broken item named; nothing is stored.
async fn a_tampered_akte_is_refused_and_nothing_is_stored(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = full_case(&app).await;
    app.app.close().await;
    let source = Bin::new(&db);
    let zip = db.dir.path().join("akte.zip");
    source
        .run(&["case", "export", &n, "-o", zip.to_str().unwrap()])
        .ok();

    // A forger changes the approving officer in the journal and fixes the
    // manifest's hash: the chain still gives it away, at that event.
    let bytes = std::fs::read(&zip).unwrap();
    let mut parts = unzip(&bytes);
    let seq = {
        let journal = &mut parts
            .iter_mut()
            .find(|(n, _)| n == "journal.json")
            .unwrap()
            .1;
        let mut events: serde_json::Value = serde_json::from_slice(journal).unwrap();
        let e = events
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["transition"] == "bewilligen")
            .unwrap();
        e["actor"] = json!("meier");
        let seq = e["seq"].as_i64().unwrap();
        *journal = serde_json::to_vec_pretty(&events).unwrap();
        seq
    };
    use sha2::Digest;
    let new_len = parts
        .iter()
        .find(|(n, _)| n == "journal.json")
        .unwrap()
        .1
        .len();
    let new_hash = hex::encode(sha2::Sha256::digest(
        &parts.iter().find(|(n, _)| n == "journal.json").unwrap().1,
    ));
    let manifest = &mut parts
        .iter_mut()
        .find(|(n, _)| n == "manifest.json")
        .unwrap()
        .1;
    let mut m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    // A forger who knows the format recomputes the hash and the size.
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == "journal.json" {
            f["sha256"] = json!(new_hash);
            f["bytes"] = json!(new_len);
        }
    }
    *manifest = serde_json::to_vec_pretty(&m).unwrap();
    let forged = db.dir.path().join("forged.zip");
    std::fs::write(&forged, rezip(&parts)).unwrap();

    let fresh = TestDb::sqlite().await;
    let target = Bin::new(&fresh);
    target.run(&["init"]).ok();
    let err = target
        .run(&["case", "import", forged.to_str().unwrap()])
        .fails();
    assert!(
        err.contains(&format!("journal.json: event {seq} (fired bewilligen)")),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(fresh.count("SELECT COUNT(*) FROM cases").await, 0);
    assert_eq!(fresh.count("SELECT COUNT(*) FROM document_blobs").await, 0);

    // A letter changed in the archive, manifest untouched: named by its path.
    let mut parts = unzip(&bytes);
    let (changed, pdf) = parts
        .iter_mut()
        .find(|(n, _)| n.starts_with("dokumente/"))
        .unwrap();
    let at = pdf.len() / 2;
    pdf[at] ^= 0x20;
    let changed = changed.clone();
    std::fs::write(&forged, rezip(&parts)).unwrap();
    let err = target
        .run(&["case", "import", forged.to_str().unwrap()])
        .fails();
    assert!(
        err.contains(&format!("{changed}: its SHA-256 is ")),
        "{err}"
    );
    assert_eq!(fresh.count("SELECT COUNT(*) FROM cases").await, 0);
}

/// The database backup the README describes, restored: `amtspost backup`
/// (VACUUM INTO) for SQLite, `pg_dump -Fc` and `pg_restore` into a new
/// database for PostgreSQL. The restored database holds what the backup
/// held, its chains and documents verify, and work goes on on it.
async fn a_backup_restores_what_it_held(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = full_case(&app).await;
    app.app.close().await;
    let bin = Bin::new(&db);
    let before = show(&bin, &n);
    let (restored_url, cleanup) = if let Some(schema) = db.schema() {
        let base = crate::support::postgres_base_url();
        let dump = db.dir.path().join("amtspost.dump");
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(std::process::Command::new("pg_dump")
            .args(["-Fc", "-n", schema, "-f"])
            .arg(&dump)
            .arg(&base));
        let name = format!("{schema}_restored");
        let (server, _) = base.rsplit_once('/').unwrap();
        let admin = format!("{server}/postgres");
        run(std::process::Command::new("psql")
            .arg(&admin)
            .args(["-c", &format!("DROP DATABASE IF EXISTS {name}")]));
        run(std::process::Command::new("psql")
            .arg(&admin)
            .args(["-c", &format!("CREATE DATABASE {name}")]));
        run(std::process::Command::new("pg_restore")
            .args(["-d", &format!("{server}/{name}")])
            .arg(&dump));
        (
            format!("{server}/{name}?options=-c%20search_path%3D{schema}"),
            Some((admin, name)),
        )
    } else {
        let copy = db.dir.path().join("backup.db");
        let out = bin.run(&["backup", copy.to_str().unwrap()]).ok();
        assert!(out.contains("database copied to"), "{out}");
        let again = bin.run(&["backup", copy.to_str().unwrap()]).fails();
        assert!(again.contains("exists already"), "{again}");
        (format!("sqlite://{}", copy.display()), None)
    };
    // The live database moves on after the backup.
    bin.run(OPEN_SOEST).ok();

    let restored = |args: &[&str]| {
        let out = bin
            .command(args)
            .env("AMTSPOST_DATABASE_URL", &restored_url)
            .output()
            .unwrap();
        crate::support::Run(out)
    };
    restored(&["audit", "verify"]).ok();
    restored(&["document", "verify"]).ok();
    let after = without_days_left(restored(&["--json", "case", "show", &n]).json());
    assert_eq!(after, before);
    let list = restored(&["--json", "case", "list"]).json();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the case opened after the backup is not in it"
    );
    // Work goes on on the restored database.
    let opened = restored(&[&["--json"], OPEN_SOEST].concat()).json();
    assert_eq!(opened["file_number"], "AN-2012-0002");
    if let Some((admin, name)) = cleanup {
        let _ = std::process::Command::new("psql")
            .arg(&admin)
            .args([
                "-c",
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ])
            .output();
    }
}

/// Rewrites `akte.json` (and adds parts) as a forger who knows the format
/// would: every hash and size in the manifest made to match.
fn forge(
    bytes: &[u8],
    edit: impl FnOnce(&mut serde_json::Value, &mut Vec<(String, Vec<u8>)>),
) -> Vec<u8> {
    forge_parts(bytes, |parts| {
        let mut akte: serde_json::Value =
            serde_json::from_slice(&parts.iter().find(|(n, _)| n == "akte.json").unwrap().1)
                .unwrap();
        let mut added = Vec::new();
        edit(&mut akte, &mut added);
        parts.iter_mut().find(|(n, _)| n == "akte.json").unwrap().1 =
            serde_json::to_vec_pretty(&akte).unwrap();
        parts.extend(added);
    })
}

/// Rewrites any parts of an Akte, then makes the manifest match them.
fn forge_parts(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    use sha2::Digest;
    let mut parts = unzip(bytes);
    edit(&mut parts);
    let files: Vec<serde_json::Value> = parts
        .iter()
        .filter(|(n, _)| n != "manifest.json")
        .map(|(n, v)| {
            json!({"path": n, "sha256": hex::encode(sha2::Sha256::digest(v)), "bytes": v.len()})
        })
        .collect();
    let manifest = &mut parts
        .iter_mut()
        .find(|(n, _)| n == "manifest.json")
        .unwrap()
        .1;
    let mut m: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    m["files"] = json!(files);
    *manifest = serde_json::to_vec_pretty(&m).unwrap();
    rezip(&parts)
}

/// A forged `akte.json` with a consistent manifest: every datum is checked
/// against the replay of the journal, the first differing item named, and
/// nothing stored. The unforged Akte still imports.
async fn a_forged_akte_json_is_refused_by_the_replay(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = full_case(&app).await;
    let pdf = {
        let docs = app.engine.case_documents(&n).await.unwrap();
        app.app.documents().bytes(&docs[0].sha256).await.unwrap()
    };
    app.app.close().await;
    let zip = db.dir.path().join("akte.zip");
    Bin::new(&db)
        .run(&["case", "export", &n, "-o", zip.to_str().unwrap()])
        .ok();
    let bytes = std::fs::read(&zip).unwrap();

    type Edit = Box<dyn FnOnce(&mut serde_json::Value, &mut Vec<(String, Vec<u8>)>)>;
    let forgeries: Vec<(&str, Edit)> = vec![
        (
            "akte.json: data.posts",
            Box::new(|a, _| a["case"]["data"]["posts"] = json!(20)),
        ),
        (
            "akte.json: state",
            Box::new(|a, _| a["case"]["state"] = json!("abgelehnt")),
        ),
        (
            "akte.json: deadlines",
            Box::new(|a, _| {
                a["deadlines"].as_array_mut().unwrap().clear();
            }),
        ),
        (
            "akte.json: uploads",
            Box::new(move |a, added| {
                use sha2::Digest;
                let mut upload = a["uploads"][0].clone();
                let mut other = pdf.clone();
                other.extend_from_slice(b"\n% Nachtrag\n");
                upload["sha256"] = json!(hex::encode(sha2::Sha256::digest(&other)));
                upload["size_bytes"] = json!(other.len());
                upload["file_name"] = json!("Nachtrag.pdf");
                upload["file"] = json!("uploads/002-Nachtrag.pdf");
                a["uploads"].as_array_mut().unwrap().push(upload);
                added.push(("uploads/002-Nachtrag.pdf".to_string(), other));
            }),
        ),
        (
            "akte.json: mail",
            Box::new(|a, _| {
                let mail = a["history"]["mail"].as_array_mut().unwrap();
                assert!(!mail.is_empty(), "the letters went by mail too");
                mail.remove(0);
            }),
        ),
        (
            "akte.json: parties.applicant.email",
            Box::new(|a, _| {
                a["case"]["parties"]["applicant"]["email"] = json!("kasse@example.net")
            }),
        ),
    ];
    let fresh = fresh_like(&db).await;
    let target = Bin::new(&fresh);
    target.run(&["init"]).ok();
    let forged = db.dir.path().join("forged.zip");
    for (item, edit) in forgeries {
        std::fs::write(&forged, forge(&bytes, edit)).unwrap();
        let err = target
            .run(&["case", "import", forged.to_str().unwrap()])
            .fails();
        assert!(err.contains(item), "{item}: {err}");
        assert!(err.contains("aus dem Journal folgt"), "{err}");
        assert!(err.contains("nothing was imported"), "{err}");
        assert_eq!(fresh.count("SELECT COUNT(*) FROM cases").await, 0, "{item}");
        assert_eq!(
            fresh.count("SELECT COUNT(*) FROM uploads").await,
            0,
            "{item}"
        );
    }
    // The Akte as exported imports, and verifies there.
    let ok = target.run(&["case", "import", zip.to_str().unwrap()]).ok();
    assert!(ok.contains(&format!("{n}: imported")), "{ok}");
    let audit = target.run(&["audit", "verify"]).ok();
    assert!(
        audit.contains("every case is what its journal replays to"),
        "{audit}"
    );
}

/// Moves the end of the deadline `name`'s `deadline_set` event in `events`
/// (a case's journal, in order) a week later, end and reasoning, and
/// recomputes that event's hash and every later one's, as a forger who
/// knows the format would: the chain stays intact. Returns the event's
/// index, the journaled end and the forged one.
pub(crate) fn forge_deadline_end(
    events: &mut [amtspost::journal::Event],
    name: &str,
) -> (usize, String, String) {
    use amtspost::journal::{EventKind, hash_of};
    let i = events
        .iter()
        .position(|e| e.kind == EventKind::DeadlineSet && e.payload["deadline"] == name)
        .expect("the case set the deadline");
    let due = events[i].payload["due"].as_str().unwrap().to_string();
    let later = (chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").unwrap()
        + chrono::Days::new(7))
    .to_string();
    events[i].payload["due"] = json!(later);
    events[i].payload["explanation"]["end"] = json!(later);
    for k in i..events.len() {
        if k > 0 {
            events[k].prev_hash = events[k - 1].hash.clone();
        }
        events[k].hash = hash_of(&events[k]);
    }
    (i, due, later)
}

/// 2012-04-12 as the replay's messages write it: 12.04.2012.
pub(crate) fn german_date(date: &str) -> String {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .format("%d.%m.%Y")
        .to_string()
}

/// An empty database of the same kind as `db`.
async fn fresh_like(db: &TestDb) -> TestDb {
    if db.is_postgres() {
        TestDb::postgres().await
    } else {
        TestDb::sqlite().await
    }
}

/// A deadline's end forged in the journal as a forger who knows the format
/// would: the `deadline_set` event's end and reasoning moved a week, every
/// later event's hash recomputed (the chain is intact), the case's head
/// hash (in `akte.json` and the manifest), the Akte's deadline row and the
/// manifest's file hashes made to match. Nothing
/// but the deadline calculator can tell: the replay recomputes the end from
/// the workflow and the case data and names the deadline.
async fn a_forged_deadline_end_is_refused_by_the_replay(db: TestDb) {
    use amtspost::journal::Event;
    let app = TestApp::new(&db).await;
    let n = full_case(&app).await;
    app.app.close().await;
    let zip = db.dir.path().join("akte.zip");
    Bin::new(&db)
        .run(&["case", "export", &n, "-o", zip.to_str().unwrap()])
        .ok();
    let bytes = std::fs::read(&zip).unwrap();
    let mut forged_seq = 0;
    let mut ends = (String::new(), String::new());
    let forged = forge_parts(&bytes, |parts| {
        let part = |parts: &mut Vec<(String, Vec<u8>)>, name: &str| -> usize {
            parts.iter().position(|(n, _)| n == name).unwrap()
        };
        let j = part(parts, "journal.json");
        let mut events: Vec<Event> = serde_json::from_slice(&parts[j].1).unwrap();
        let (i, due, later) = forge_deadline_end(&mut events, "unterlagen");
        forged_seq = events[i].seq;
        let head = events.last().unwrap().hash.clone();
        parts[j].1 = serde_json::to_vec_pretty(&events).unwrap();
        let a = part(parts, "akte.json");
        let mut akte: serde_json::Value = serde_json::from_slice(&parts[a].1).unwrap();
        akte["case"]["head_hash"] = json!(head);
        let mut rows = 0;
        for d in akte["deadlines"].as_array_mut().unwrap() {
            if d["name"] == "unterlagen" && d["due_date"] == json!(due) {
                d["due_date"] = json!(later);
                d["explanation"]["end"] = json!(later);
                rows += 1;
            }
        }
        assert_eq!(rows, 1, "the Akte's deadline row follows the forged event");
        parts[a].1 = serde_json::to_vec_pretty(&akte).unwrap();
        let m = part(parts, "manifest.json");
        let mut manifest: serde_json::Value = serde_json::from_slice(&parts[m].1).unwrap();
        manifest["head_hash"] = json!(head);
        parts[m].1 = serde_json::to_vec_pretty(&manifest).unwrap();
        ends = (due, later);
    });
    let forged_file = db.dir.path().join("forged.zip");
    std::fs::write(&forged_file, forged).unwrap();

    let fresh = fresh_like(&db).await;
    let target = Bin::new(&fresh);
    target.run(&["init"]).ok();
    let err = target
        .run(&["case", "import", forged_file.to_str().unwrap()])
        .fails();
    assert!(
        err.contains(&format!("journal.json: event {forged_seq} (deadline_set)")),
        "{err}"
    );
    assert!(err.contains("(`unterlagen`)"), "names the deadline: {err}");
    assert!(
        err.contains(&format!(
            "endet laut Journal am {}, nach dem Verfahren und den Falldaten am {}",
            german_date(&ends.1),
            german_date(&ends.0)
        )),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(fresh.count("SELECT COUNT(*) FROM cases").await, 0);
    assert_eq!(fresh.count("SELECT COUNT(*) FROM deadlines").await, 0);
    // The Akte as exported imports: its deadlines recompute to what it says.
    let ok = target.run(&["case", "import", zip.to_str().unwrap()]).ok();
    assert!(ok.contains(&format!("{n}: imported")), "{ok}");
}

on_both_databases! {
    async fn a_deadline_end_forged_with_a_consistent_chain_is_refused_naming_the_deadline(db) {
        a_forged_deadline_end_is_refused_by_the_replay(db).await;
    }

    async fn a_forged_akte_json_with_a_consistent_manifest_is_refused_naming_the_item(db) {
        a_forged_akte_json_is_refused_by_the_replay(db).await;
    }

    async fn a_backup_is_restored_with_its_chains_and_documents(db) {
        a_backup_restores_what_it_held(db).await;
    }

    async fn an_akte_moves_a_case_to_the_other_database_intact(db) {
        export_and_import_into_the_other_database(db).await;
    }

    async fn a_tampered_akte_is_refused_with_the_broken_item_named(db) {
        a_tampered_akte_is_refused_and_nothing_is_stored(db).await;
    }
}
