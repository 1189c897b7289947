//! The Akte's format: a round trip, and each way of tampering with it
//! refused with the first broken item named.

use std::io::{Read, Write};

use serde_json::json;

use super::*;
use crate::journal::{EventKind, NewEvent, chain};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

const SOURCE_TOML: &str = "id = \"antrag\"\nversion = 1\n";

fn sample() -> CaseFile {
    let pdf = b"%PDF-1.7 the letter".to_vec();
    let upload = b"%PDF-1.7 the upload".to_vec();
    let at = chrono::DateTime::parse_from_rfc3339("2012-03-19T08:00:00Z")
        .unwrap()
        .to_utc();
    let event = |kind, transition: Option<&str>, payload| NewEvent {
        actor: "meier".into(),
        role: "clerk".into(),
        kind,
        transition: transition.map(str::to_owned),
        payload,
    };
    let journal = chain(
        7,
        0,
        crate::journal::GENESIS,
        at,
        vec![
            event(EventKind::Opened, None, json!({"state": "eingegangen"})),
            event(
                EventKind::Fired,
                Some("pruefen"),
                json!({"from": "eingegangen", "to": "in_pruefung"}),
            ),
            event(
                EventKind::LetterIssued,
                None,
                json!({"sha256": sha(&pdf), "template": "eingangsbestaetigung"}),
            ),
            event(
                EventKind::UploadReceived,
                None,
                json!({"sha256": sha(&upload)}),
            ),
        ],
    );
    let head = journal.last().unwrap().hash.clone();
    CaseFile {
        case: CaseRecord {
            id: 7,
            file_number: "AN-2012-0007".into(),
            workflow_id: "antrag".into(),
            workflow_version: 1,
            state: "in_pruefung".into(),
            data: json!({"name": "Kreis Unna"}).as_object().unwrap().clone(),
            parties: json!({"applicant": {"name": "Kreis Unna"}}),
            version: 2,
            last_seq: 4,
            head_hash: head,
            opened_at: "2012-03-19T08:00:00.000000Z".into(),
            updated_at: "2012-03-19T08:00:00.000000Z".into(),
        },
        definition: DefinitionRecord {
            workflow_id: "antrag".into(),
            version: 1,
            content_hash: sha(SOURCE_TOML.as_bytes()),
            path: "workflows/antrag.toml".into(),
            registered_at: "2012-03-19T08:00:00.000000Z".into(),
            source: SOURCE_TOML.into(),
        },
        journal,
        deadlines: vec![DeadlineRecord {
            name: "unterlagen".into(),
            title: "Nachreichung".into(),
            due_date: "2012-04-02".into(),
            status: "open".into(),
            set_at: "2012-03-19T08:00:00.000000Z".into(),
            closed_at: None,
            legal_basis: Some("§ 25 VwVfG NRW".into()),
            explanation: json!({"steps": []}),
            reminders: vec![ReminderRecord {
                step: "7d".into(),
                recipient: "applicant".into(),
                due_date: "2012-04-02".into(),
                status: "queued".into(),
                created_at: "2012-03-26T05:00:00.000000Z".into(),
            }],
        }],
        documents: vec![DocumentRecord {
            template: "eingangsbestaetigung".into(),
            template_hash: "t".repeat(64),
            data_hash: "d".repeat(64),
            sha256: sha(&pdf),
            size_bytes: pdf.len() as i64,
            pages: 1,
            recipient: "Kreis Unna".into(),
            letter_date: "2012-03-19".into(),
            created_at: "2012-03-19T08:00:00.000000Z".into(),
            reference: None,
            file: String::new(),
        }],
        uploads: vec![UploadRecord {
            sha256: sha(&upload),
            file_name: "Stellenplan 2012.pdf".into(),
            size_bytes: upload.len() as i64,
            pages: 1,
            uploaded_by: "unna".into(),
            party: "Kreis Unna".into(),
            uploaded_at: "2012-03-20T08:00:00.000000Z".into(),
            file: String::new(),
        }],
        history: Some(Default::default()),
        blobs: [(sha(&pdf), pdf), (sha(&upload), upload)].into(),
    }
}

/// The archive's entries, in order.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut e = a.by_index(i).unwrap();
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            (e.name().to_string(), v)
        })
        .collect()
}

fn rezip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Changes one entry and, if `fix_manifest`, the manifest's hash for it
/// (a forger who knows the format).
fn tamper(zip: &[u8], path: &str, fix_manifest: bool, f: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut es = entries(zip);
    let (_, bytes) = es.iter_mut().find(|(n, _)| n == path).unwrap();
    f(bytes);
    let new_hash = sha(bytes);
    let new_len = bytes.len();
    if fix_manifest {
        let (_, m) = es.iter_mut().find(|(n, _)| n == MANIFEST).unwrap();
        let mut manifest: serde_json::Value = serde_json::from_slice(m).unwrap();
        for file in manifest["files"].as_array_mut().unwrap() {
            if file["path"] == path {
                file["sha256"] = json!(new_hash);
                file["bytes"] = json!(new_len);
            }
        }
        *m = serde_json::to_vec_pretty(&manifest).unwrap();
    }
    rezip(&es)
}

fn refusal(bytes: &[u8]) -> String {
    read(bytes, "akte.zip").unwrap_err().to_string()
}

#[test]
fn an_akte_reads_back_as_written() {
    let file = sample();
    let zip = write(&file, "2026-12-02T08:00:00.000000Z").unwrap();
    let back = read(&zip, "akte.zip").unwrap();
    assert_eq!(back.case, file.case);
    assert_eq!(back.definition, file.definition);
    assert_eq!(back.journal, file.journal);
    assert_eq!(back.deadlines, file.deadlines);
    assert_eq!(back.blobs, file.blobs);
    assert_eq!(
        back.documents[0].file,
        "dokumente/001-eingangsbestaetigung.pdf"
    );
    assert_eq!(back.uploads[0].file, "uploads/001-Stellenplan_2012.pdf");
    let names: Vec<String> = entries(&zip).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "akte.json",
            "journal.json",
            "verfahren.toml",
            "dokumente/001-eingangsbestaetigung.pdf",
            "uploads/001-Stellenplan_2012.pdf"
        ]
    );
}

#[test]
fn a_changed_letter_is_named() {
    let zip = write(&sample(), "2026-12-02T08:00:00Z").unwrap();
    let pdf = "dokumente/001-eingangsbestaetigung.pdf";
    let bad = tamper(&zip, pdf, false, |b| b[3] ^= 1);
    let e = refusal(&bad);
    assert!(
        e.starts_with(&format!("akte.zip: {pdf}: its SHA-256 is ")),
        "{e}"
    );
    assert!(e.contains("nothing was imported"), "{e}");
    // With the manifest forged too, the letter no longer matches its row.
    let bad = tamper(&zip, pdf, true, |b| b[3] ^= 1);
    let e = refusal(&bad);
    assert!(
        e.starts_with(&format!("akte.zip: {pdf}: it is not the letter")),
        "{e}"
    );
}

#[test]
fn a_changed_journal_event_is_named_by_its_number() {
    let zip = write(&sample(), "2026-12-02T08:00:00Z").unwrap();
    let bad = tamper(&zip, JOURNAL, true, |b| {
        let mut events: serde_json::Value = serde_json::from_slice(b).unwrap();
        events[1]["actor"] = json!("mallory");
        *b = serde_json::to_vec_pretty(&events).unwrap();
    });
    let e = refusal(&bad);
    assert!(
        e.starts_with("akte.zip: journal.json: event 2 (fired pruefen): "),
        "{e}"
    );
    // A deleted event.
    let bad = tamper(&zip, JOURNAL, true, |b| {
        let mut events: serde_json::Value = serde_json::from_slice(b).unwrap();
        events.as_array_mut().unwrap().remove(2);
        *b = serde_json::to_vec_pretty(&events).unwrap();
    });
    let e = refusal(&bad);
    assert!(e.starts_with("akte.zip: journal.json: event 4"), "{e}");
    assert!(e.contains("event 3 is missing"), "{e}");
}

#[test]
fn a_changed_case_row_is_caught_by_the_head_hash() {
    let zip = write(&sample(), "2026-12-02T08:00:00Z").unwrap();
    let bad = tamper(&zip, AKTE, true, |b| {
        let mut akte: serde_json::Value = serde_json::from_slice(b).unwrap();
        akte["case"]["head_hash"] = json!("0".repeat(64));
        *b = serde_json::to_vec_pretty(&akte).unwrap();
    });
    let e = refusal(&bad);
    assert!(
        e.starts_with("akte.zip: akte.json: its case is not the one the manifest names"),
        "{e}"
    );
    // The data changed, the state too: the journal does not end there, but
    // the data is not hashed by the journal; the manifest catches the edit.
    let bad = tamper(&zip, AKTE, false, |b| {
        let s = String::from_utf8(b.clone())
            .unwrap()
            .replace("Kreis Unna", "Kreis Soest");
        *b = s.into_bytes();
    });
    let e = refusal(&bad);
    assert!(e.starts_with("akte.zip: akte.json: its SHA-256 is "), "{e}");
}

#[test]
fn missing_extra_and_unreadable_parts_are_named() {
    let zip = write(&sample(), "2026-12-02T08:00:00Z").unwrap();
    let mut es = entries(&zip);
    es.retain(|(n, _)| !n.starts_with("uploads/"));
    let e = refusal(&rezip(&es));
    assert!(
        e.starts_with("akte.zip: uploads/001-Stellenplan_2012.pdf: the manifest lists it, the archive does not hold it"),
        "{e}"
    );
    let mut es = entries(&zip);
    es.push(("dokumente/extra.pdf".into(), b"%PDF".to_vec()));
    let e = refusal(&rezip(&es));
    assert!(
        e.starts_with(
            "akte.zip: dokumente/extra.pdf: the archive holds it, the manifest does not list it"
        ),
        "{e}"
    );
    let mut es = entries(&zip);
    es.retain(|(n, _)| n != MANIFEST);
    assert!(refusal(&rezip(&es)).starts_with("akte.zip: manifest.json: it is missing"));
    let bad = tamper(&zip, JOURNAL, true, |b| b.truncate(b.len() / 2));
    let e = refusal(&bad);
    assert!(e.starts_with("akte.zip: journal.json line "), "{e}");
    let e = refusal(b"PK\x03\x04 not really");
    assert!(
        e.starts_with("akte.zip: not a readable Akte (zip archive)"),
        "{e}"
    );
}

#[test]
fn a_letter_without_its_event_or_an_event_without_its_letter_is_refused() {
    let mut file = sample();
    file.documents.clear();
    let zip = write(&file, "2026-12-02T08:00:00Z").unwrap();
    let e = refusal(&zip);
    assert!(
        e.starts_with("akte.zip: journal.json: a letter_issued event records the letter"),
        "{e}"
    );
    let mut file = sample();
    let extra = b"%PDF-1.7 a letter nobody issued".to_vec();
    let mut doc = file.documents[0].clone();
    doc.sha256 = sha(&extra);
    doc.size_bytes = extra.len() as i64;
    file.blobs.insert(doc.sha256.clone(), extra);
    file.documents.push(doc);
    let zip = write(&file, "2026-12-02T08:00:00Z").unwrap();
    let e = refusal(&zip);
    assert!(
        e.starts_with("akte.zip: dokumente/002-eingangsbestaetigung.pdf: no letter_issued event"),
        "{e}"
    );
}

#[test]
fn a_newer_format_or_a_changed_workflow_source_is_refused() {
    let zip = write(&sample(), "2026-12-02T08:00:00Z").unwrap();
    let bad = tamper(&zip, MANIFEST, false, |b| {
        let mut m: serde_json::Value = serde_json::from_slice(b).unwrap();
        m["format_version"] = json!(FORMAT_VERSION + 1);
        *b = serde_json::to_vec(&m).unwrap();
    });
    assert!(refusal(&bad).contains("is newer than this amtspost reads"));
    let bad = tamper(&zip, SOURCE, true, |b| b.extend_from_slice(b"# edited\n"));
    let e = refusal(&bad);
    assert!(
        e.starts_with(
            "akte.zip: verfahren.toml: its SHA-256 is not the workflow version's content hash"
        ),
        "{e}"
    );
}

#[test]
fn hostile_archives_are_refused_before_anything_is_inflated() {
    let good = write(&sample(), "2013-01-01T00:00:00Z").unwrap();
    // A name that leaves the archive.
    for name in ["../akte.json", "/etc/passwd", "a\\..\\b"] {
        let mut es = entries(&good);
        es.push((name.to_string(), b"x".to_vec()));
        let r = refusal(&rezip(&es));
        assert!(r.contains("leaves the archive"), "{name}: {r}");
    }
    // A zip bomb: 20 MB of zeros stored in a few kilobytes.
    let mut es = entries(&good);
    es.push(("bombe.pdf".to_string(), vec![0u8; 20 << 20]));
    let bomb = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in &es {
            w.start_file(
                name.as_str(),
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    assert!(bomb.len() < 1 << 20, "the bomb is small: {}", bomb.len());
    let r = refusal(&bomb);
    assert!(
        r.contains("bombe.pdf") && r.contains("inflates more than"),
        "{r}"
    );
    // A manifest whose size for a part is not the part's.
    let mut es = entries(&good);
    let (_, m) = es.iter_mut().find(|(n, _)| n == MANIFEST).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(m).unwrap();
    manifest["files"][0]["bytes"] = json!(1);
    let first = manifest["files"][0]["path"].as_str().unwrap().to_string();
    *m = serde_json::to_vec_pretty(&manifest).unwrap();
    let r = refusal(&rezip(&es));
    assert!(
        r.contains(&first) && r.contains("the manifest says 1"),
        "{r}"
    );
}
