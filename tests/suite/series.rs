//! Serienbriefe: `letter render TEMPLATE --rows FILE --out-dir DIR`, the
//! real binary on a CSV as a German spreadsheet exports it and on JSON Lines.

use crate::support::{Bin, TestDb, pdftotext};

/// What every letter shares: the example's office and signature.
fn base(dir: &std::path::Path) -> std::path::PathBuf {
    let example: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("templates/examples/eingangsbestaetigung.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut base = example.as_object().unwrap().clone();
    for key in ["recipient", "reference", "subject", "application"] {
        base.remove(key);
    }
    let path = dir.join("gemeinsam.json");
    std::fs::write(&path, serde_json::to_vec(&base).unwrap()).unwrap();
    path
}

/// A CSV with a BOM, semicolons, quoted cells, umlauts, numbered columns
/// for lists; its fourth line has a date the template refuses.
fn rows_csv(dir: &std::path::Path) -> std::path::PathBuf {
    let mut csv = String::from(
        "\u{feff}reference.ours;recipient.lines.0;recipient.lines.1;subject.0;subject.1;application.date;application.received;application.subject\n",
    );
    for (i, name) in [
        "Kreis Unna",
        "Stadt Lünen",
        "Gemeinde Möhnesee",
        "Kreis Soest",
        "Stadt Hamm",
    ]
    .iter()
    .enumerate()
    {
        let date = if i == 2 { "15.04.2013" } else { "2013-04-15" };
        csv.push_str(&format!(
            "KI-2013/{:04};{name};\"Der Bürgermeister; Integration\";Ihr Antrag auf Förderung;Eingangsbestätigung;{date};2013-04-17;Förderung für {name}\n",
            i + 1
        ));
    }
    let path = dir.join("empfaenger.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn a_serienbrief_from_csv_writes_one_letter_per_row_names_the_bad_row_and_combines_the_rest() {
    let db = futures_block(TestDb::sqlite());
    let bin = Bin::new(&db);
    let dir = db.dir.path();
    let (base, rows) = (base(dir), rows_csv(dir));
    let out = dir.join("briefe");
    let all = dir.join("alle.pdf");
    let args = |out: &std::path::Path| {
        vec![
            "letter".to_string(),
            "render".into(),
            "eingangsbestaetigung".into(),
            "--data".into(),
            base.display().to_string(),
            "--rows".into(),
            rows.display().to_string(),
            "--out-dir".into(),
            out.display().to_string(),
            "--name-by".into(),
            "reference.ours".into(),
            "--date".into(),
            "2013-04-18".into(),
        ]
    };
    let mut first = args(&out);
    first.extend(["--combine".to_string(), all.display().to_string()]);
    let run = bin.run(&first.iter().map(String::as_str).collect::<Vec<_>>());
    // One row failed: the exit code says so, the others were written.
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let said = format!("{}{}", run.stdout(), run.stderr());
    assert!(
        said.contains(&format!(
            "{}:4: template eingangsbestaetigung failed to compile",
            rows.display()
        )),
        "{said}"
    );
    assert!(
        said.contains("15.04.2013"),
        "the template's message: {said}"
    );
    assert!(said.contains("4 of 5 letters written"), "{said}");
    let files = pdfs_in(&out);
    assert_eq!(
        files,
        [
            "KI-2013_0001.pdf",
            "KI-2013_0002.pdf",
            "KI-2013_0004.pdf",
            "KI-2013_0005.pdf"
        ]
    );
    let unna = pdftotext(&std::fs::read(out.join("KI-2013_0001.pdf")).unwrap());
    assert!(
        unna.contains("Der Bürgermeister; Integration")
            && unna.contains("Förderung für Kreis Unna"),
        "{unna}"
    );
    assert!(
        unna.contains("Bezirksregierung Arnsberg"),
        "the shared data: {unna}"
    );
    // The combined PDF: every letter on pages of its own, in row order.
    let combined = pdftotext(&std::fs::read(&all).unwrap());
    let pages: Vec<&str> = combined
        .split('\u{c}')
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(pages.len(), 4, "{combined}");
    for (page, name) in pages
        .iter()
        .zip(["Kreis Unna", "Stadt Lünen", "Kreis Soest", "Stadt Hamm"])
    {
        assert!(page.contains(&format!("Förderung für {name}")), "{page}");
    }
    // Deterministic: the same rows give the same bytes.
    let again = dir.join("nochmal");
    bin.run(&args(&again).iter().map(String::as_str).collect::<Vec<_>>());
    for f in &files {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }

    // --fail-fast: the series stops at the bad row; what was done is kept.
    let fast = dir.join("schnell");
    let mut a = args(&fast);
    a.push("--fail-fast".into());
    let run = bin.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout().contains("2 of 5 letters written")
            && run.stdout().contains("2 not rendered (--fail-fast)"),
        "{}",
        run.stdout()
    );
    let done = pdfs_in(&fast);
    assert_eq!(done, ["KI-2013_0001.pdf", "KI-2013_0002.pdf"]);
}

#[test]
fn a_serienbrief_from_json_lines_is_named_by_line_and_a_name_clash_is_the_rows_error() {
    let db = futures_block(TestDb::sqlite());
    let bin = Bin::new(&db);
    let dir = db.dir.path();
    let base = base(dir);
    let row = |name: &str, ours: &str| {
        serde_json::json!({
            "reference": {"ours": ours},
            "recipient": {"lines": [name]},
            "subject": ["Ihr Antrag", "Eingangsbestätigung"],
            "application": {"date": "2013-04-15", "received": "2013-04-17", "subject": format!("Förderung für {name}")},
        })
        .to_string()
    };
    let jsonl = format!(
        "{}\n\n{}\n{}\nkein json\n",
        row("Kreis Unna", "A/1"),
        row("Stadt Hamm", "A/2"),
        row("Kreis Soest", "A/1")
    );
    let rows = dir.join("zeilen.jsonl");
    std::fs::write(&rows, jsonl).unwrap();
    let out = dir.join("nach-zeile");
    let run = bin.run(&[
        "letter",
        "render",
        "eingangsbestaetigung",
        "--data",
        base.to_str().unwrap(),
        "--rows",
        rows.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--date",
        "2013-04-18",
    ]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout()
            .contains(&format!("{}:5: not JSON", rows.display())),
        "{}",
        run.stdout()
    );
    let files = pdfs_in(&out);
    assert_eq!(files, ["00001.pdf", "00003.pdf", "00004.pdf"]);

    let named = dir.join("nach-zeichen");
    let run = bin.run(&[
        "letter",
        "render",
        "eingangsbestaetigung",
        "--data",
        base.to_str().unwrap(),
        "--rows",
        rows.to_str().unwrap(),
        "--out-dir",
        named.to_str().unwrap(),
        "--name-by",
        "reference.ours",
    ]);
    assert!(
        run.stdout()
            .contains(":4: --name-by: A_1.pdf is already the letter of line 1"),
        "{}",
        run.stdout()
    );
    assert!(pdftotext(&std::fs::read(named.join("A_1.pdf")).unwrap()).contains("Kreis Unna"));
}

/// The file names in a folder, sorted.
fn pdfs_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
