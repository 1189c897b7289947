//! Letters issued by transitions: rendered, stored by hash, recorded and
//! journaled with the state change, or not at all.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{TestApp, fixtures, pdftotext};

on_both_databases! {
    async fn a_transition_issues_its_letter_with_the_state_change(db) {
        let app = TestApp::new(&db).await;
        let case = app.open_antrag("Kreis Unna").await;
        app.engine.fire(app.fire(&case.file_number, "pruefen", "meier", "clerk", json!({}))).await.unwrap();

        let docs = app.engine.case_documents(&case.file_number).await.unwrap();
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(doc.template, "eingangsbestaetigung");
        assert_eq!(doc.recipient, "Kreis Unna");
        assert_eq!(doc.letter_date, "2012-03-19");
        assert!(app.app.documents().verify(&[]).await.unwrap().problems.is_empty());

        let text = pdftotext(&app.app.documents().bytes(&doc.sha256).await.unwrap());
        assert!(text.contains("Kreis Unna"), "{text}");
        assert!(text.contains(case.file_number.as_str()), "{text}");
        assert!(text.contains("Förderung für Kreis Unna"), "{text}");
        assert!(text.contains("19.03.2012"), "{text}");

        let history = app.engine.history(&case.file_number).await.unwrap();
        let issued = history.iter().find(|e| e.kind == "letter_issued").expect("journaled");
        assert_eq!(issued.payload["sha256"], doc.sha256.as_str());
        assert!(app.engine.audit(None).await.unwrap().broken.is_empty());
    }

    async fn a_broken_template_leaves_the_case_where_it_was(db) {
        // A copy of the templates with a typo in the acknowledgement.
        let templates = db.dir.path().join("templates");
        copy_dir(&fixtures().join("../../../templates"), &templates);
        let path = templates.join("eingangsbestaetigung.typ");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("data.application"));
        std::fs::write(&path, text.replacen("data.application", "data.applikation", 1)).unwrap();
        let letters = std::sync::Arc::new(amtspost::letter::LetterEngine::from_dir(&templates).unwrap());
        let app = TestApp::with_letters(&db, letters).await;

        let case = app.open_antrag("Kreis Unna").await;
        let err = app
            .engine
            .fire(app.fire(&case.file_number, "pruefen", "meier", "clerk", json!({})))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("eingangsbestaetigung.typ:"), "names the template file and line: {msg}");
        assert!(msg.contains("applikation"), "{msg}");

        let now = app.engine.show(&case.file_number).await.unwrap();
        assert_eq!(now.state, "eingegangen");
        assert_eq!(now.version, case.version);
        assert_eq!(app.engine.history(&case.file_number).await.unwrap().len(), 1);
        assert!(app.engine.case_documents(&case.file_number).await.unwrap().is_empty());
        assert_eq!(db.count("SELECT COUNT(*) FROM documents").await, 0, "no document row");
        assert_eq!(db.count("SELECT COUNT(*) FROM document_blobs").await, 0, "no stored PDF");
        assert_eq!(db.count("SELECT COUNT(*) FROM outbox").await, 0, "no mail");
        let files = walk(db.dir.path());
        assert!(
            files.iter().all(|f| !f.extension().is_some_and(|e| e == "pdf")),
            "no PDF file is left behind: {files:?}"
        );
    }

    async fn a_lost_version_race_leaves_no_document_behind(db) {
        let app = TestApp::new(&db).await;
        for round in 0..3 {
            let case = app.open_antrag(&format!("Kreis {round}")).await;
            // Two clerks acknowledge the same application at once, each with
            // a different name in the data, so their letters differ.
            let mut a = app.fire(&case.file_number, "pruefen", "meier", "clerk", json!({"name": format!("Kreis {round} A")}));
            let mut b = app.fire(&case.file_number, "pruefen", "schulz", "clerk", json!({"name": format!("Kreis {round} B")}));
            a.expected_version = Some(case.version);
            b.expected_version = Some(case.version);
            let (ra, rb) = tokio::join!(app.engine.fire(a), app.engine.fire(b));
            assert_eq!([ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count(), 1, "{ra:?} / {rb:?}");
            let docs = app.engine.case_documents(&case.file_number).await.unwrap();
            assert_eq!(docs.len(), 1, "only the winner's letter is recorded");
            let winner = if ra.is_ok() { "A" } else { "B" };
            let text = pdftotext(&app.app.documents().bytes(&docs[0].sha256).await.unwrap());
            assert!(text.contains(&format!("Kreis {round} {winner}")), "the winner's letter: {text}");
        }
        // Every stored PDF belongs to a recorded document: the losers' PDFs
        // were rolled back with their transactions.
        let orphans = db
            .count("SELECT COUNT(*) FROM document_blobs b WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.sha256 = b.sha256)")
            .await;
        assert_eq!(orphans, 0);
        assert_eq!(db.count("SELECT COUNT(*) FROM document_blobs").await, 3);
        assert!(app.app.documents().verify(&[]).await.unwrap().problems.is_empty());
    }
}

pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}
