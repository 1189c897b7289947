//! `case export --format xdomea|xdomea-archive`: xdomea 3.0.0 messages
//! (Abgabe 0401, Aussonderung 0503) of the demo's cases and of a closed test
//! case, validated with a real XML Schema validator (`xmllint --schema`)
//! against amtspost's schema of the parts it writes
//! (`tests/reference/xdomea/`), their element order and code lists checked
//! against the official schema's, their documents compared byte for byte
//! with the stored ones, their UUIDs compared across two exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::on_both_databases;
use crate::support::{Bin, TestApp, TestDb};

const NS: &str = "urn:xoev-de:xdomea:schema:3.0.0";

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/xdomea/amtspost-xdomea-3.0.0.xsd")
}

/// Validates `xml` with xmllint; the validator's complaint on failure.
fn xmllint(xml: &[u8], dir: &Path) -> Result<(), String> {
    let file = dir.join("message.xml");
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema())
        .arg(&file)
        .output()
        .expect("xmllint runs (package libxml2-utils; .ci/run installs it)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A ZIP's entries by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    crate::akte::unzip(bytes).into_iter().collect()
}

/// `case export N --format FORMAT -o DIR`.
fn export(bin: &Bin, n: &str, format: &str, dir: &Path) -> crate::support::Run {
    bin.run(&[
        "case",
        "export",
        n,
        "--format",
        format,
        "-o",
        dir.to_str().unwrap(),
    ])
}

/// The messages written into `dir`, by file name.
fn messages(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// The official order of a type's children (xdomea-Baukasten.xsd and the
/// message types); a message may leave elements out, never reorder them.
fn official_order(parent: &str) -> &'static [&'static str] {
    match parent {
        "Kopf" => &[
            "ProzessID",
            "Nachrichtentyp",
            "Erstellungszeitpunkt",
            "Absender",
            "Empfaenger",
            "SendendesSystem",
            "Hinweis",
            "AnwendungsspezifischeErweiterung",
            "AnwendungsspezifischeErweiterungXML",
            "WeitererEmpfaenger",
            "Importbestaetigung",
            "RueckmeldungArchivkennung",
            "Empfangsbestaetigung",
        ],
        "Vorgang" => &[
            "Identifikation",
            "AllgemeineMetadaten",
            "ArchivspezifischeMetadaten",
            "Aktenbetreff",
            "Typ",
            "ZdA",
            "ZdADatum",
            "Laufzeit",
            "HistorienProtokollInformation",
            "InternerGeschaeftsgang",
            "Dokument",
            "Verweis",
            "Kontakt",
            "Teilvorgang",
        ],
        "Dokument" => &[
            "Identifikation",
            "AllgemeineMetadaten",
            "FremdesGeschaeftszeichen",
            "Posteingangsdatum",
            "Postausgangsdatum",
            "DatumDesSchreibens",
            "Bezug",
            "Hier",
            "Bearbeiter",
            "Typ",
            "HistorienProtokollInformation",
            "InternerGeschaeftsgang",
            "Version",
            "Verweis",
            "Anlage",
            "Absender",
            "Empfaenger",
            "WeitererKontakt",
        ],
        "AllgemeineMetadaten" => &[
            "Betreff",
            "Kennzeichen",
            "Federfuehrung",
            "Aktenfuehrung",
            "Vertraulichkeitsstufe",
            "Bemerkung",
            "Medium",
            "Aktenplaneinheit",
        ],
        "HistorienProtokollInformation" => &[
            "MetadatumName",
            "MetadatumAlterWert",
            "MetadatumNeuerWert",
            "Akteur",
            "DatumUhrzeit",
            "Bemerkung",
            "Aktion",
        ],
        "Format" => &["Name", "SonstigerName", "Version", "Primaerdokument"],
        "Primaerdokument" => &[
            "Dateiname",
            "DateinameOriginal",
            "Ersteller",
            "DatumUhrzeit",
            "SignaturSiegel",
        ],
        "Kontakt" | "Absender" | "Empfaenger" => &[
            "Behoerdenkennung",
            "Institution",
            "Organisationseinheit",
            "Name",
            "Taetigkeit",
            "Zustaendigkeit",
            "Anschrift",
            "Kommunikation",
            "Rolle",
            "UnstrukturierteAnschrift",
            "Geburt",
        ],
        "Verweis" => &["ID", "SGOTyp", "SGOKennzeichen", "Bemerkung"],
        "ArchivspezifischeMetadaten" => &[
            "Aufbewahrungsdauer",
            "Aussonderungsart",
            "Kennung",
            "Bewertungsvorschlag",
            "Aufbewahrungsende",
        ],
        _ => &[],
    }
}

fn children<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element()).collect()
}

/// Every element's children in the official order, every xdomea element
/// in the namespace.
fn check_order(n: roxmltree::Node) {
    let order = official_order(n.tag_name().name());
    let names: Vec<&str> = children(n).iter().map(|c| c.tag_name().name()).collect();
    if !order.is_empty() {
        let positions: Vec<usize> = names
            .iter()
            .map(|name| {
                order
                    .iter()
                    .position(|o| o == name)
                    .unwrap_or_else(|| panic!("<{name}> is no child of <{}>", n.tag_name().name()))
            })
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] <= w[1]),
            "<{}> children out of the official order: {names:?}",
            n.tag_name().name()
        );
    }
    for c in children(n) {
        if !matches!(c.tag_name().name(), "code" | "name") {
            assert_eq!(c.tag_name().namespace(), Some(NS), "{:?}", c.tag_name());
            check_order(c);
        }
    }
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    children(n)
        .into_iter()
        .find(|c| c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("<{}> has no <{name}>", n.tag_name().name()))
}

fn text<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    child(n, name).text().unwrap_or_default()
}

/// A code list value: (listURI, listVersionID, code).
fn code<'a>(n: roxmltree::Node<'a, '_>) -> (Option<&'a str>, Option<&'a str>, &'a str) {
    (
        n.attribute("listURI"),
        n.attribute("listVersionID"),
        text(n, "code"),
    )
}

/// What one message holds, checked.
struct Checked {
    /// Every UUID in the message (ProzessID, IDs, file names), in order.
    uuids: Vec<String>,
    /// SHA-256 of every document file in the ZIP.
    files: BTreeSet<String>,
    file_number: String,
    history: usize,
    /// Documents marked as carrying their seal.
    sealed: usize,
}

/// Checks a message ZIP against the schema, the official order and the
/// code lists, and the naming rules of the standard.
fn check(name: &str, zip: &[u8], code_expected: &str, dir: &Path) -> Checked {
    let root_name = if code_expected == "0401" {
        "Abgabe.Abgabe.0401"
    } else {
        "Aussonderung.Aussonderung.0503"
    };
    let entries = unzip(zip);
    let stem = name.strip_suffix(".zip").unwrap();
    let (process_id, message) = stem.split_once('_').unwrap();
    assert_eq!(message, root_name, "{name}");
    uuid::Uuid::parse_str(process_id).unwrap();
    let xml_bytes = &entries[&format!("{stem}.xml")];
    xmllint(xml_bytes, dir).unwrap_or_else(|e| panic!("{name}: not valid: {e}"));
    let xml = std::str::from_utf8(xml_bytes).unwrap();
    assert!(
        xml.contains(&format!("<xdomea:{root_name} xmlns:xdomea=\"{NS}\"")),
        "the prefix must be `xdomea`"
    );
    let doc = roxmltree::Document::parse(xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), root_name);
    assert_eq!(root.tag_name().namespace(), Some(NS));
    check_order(root);

    let kopf = child(root, "Kopf");
    assert_eq!(text(kopf, "ProzessID"), process_id);
    assert_eq!(
        code(child(kopf, "Nachrichtentyp")),
        (
            Some("urn:xoev-de:xdomea:codeliste:nachrichtentyp"),
            Some("2.0"),
            code_expected
        )
    );
    assert_eq!(
        text(kopf, "Importbestaetigung"),
        "1",
        "fixed in NkAbgabe/NkAussonderung"
    );
    let vorgang = child(child(root, "Schriftgutobjekt"), "Vorgang");
    let file_number = text(child(vorgang, "AllgemeineMetadaten"), "Kennzeichen").to_string();
    // Not appraised by amtspost: "zum Bewerten markiert", the archive decides.
    assert_eq!(
        code(child(
            child(
                child(vorgang, "ArchivspezifischeMetadaten"),
                "Aussonderungsart"
            ),
            "Aussonderungsart"
        )),
        (
            Some("urn:xoev-de:xdomea:codeliste:aussonderungsart"),
            Some("1.0"),
            "B"
        )
    );
    let mut uuids = vec![
        process_id.to_string(),
        text(child(vorgang, "Identifikation"), "ID").to_string(),
    ];
    let mut files = BTreeSet::new();
    let mut sealed_files = 0;
    let dokumente: Vec<_> = children(vorgang)
        .into_iter()
        .filter(|c| c.tag_name().name() == "Dokument")
        .collect();
    for &d in &dokumente {
        uuids.push(text(child(d, "Identifikation"), "ID").to_string());
        assert_eq!(
            code(child(child(d, "AllgemeineMetadaten"), "Medium")),
            (
                Some("urn:xoev-de:xdomea:codeliste:medium"),
                Some("1.0"),
                "001"
            )
        );
        let format = child(child(d, "Version"), "Format");
        assert_eq!(
            code(child(format, "Name")),
            (
                Some("urn:xoev-de:xdomea:codeliste:dateiformat"),
                Some("1.0"),
                "044"
            )
        );
        let file_name = text(child(format, "Primaerdokument"), "Dateiname");
        let (id, ext) = file_name.split_once('.').unwrap();
        assert_eq!(ext, "pdf");
        uuids.push(id.to_string());
        let bytes = entries
            .get(file_name)
            .unwrap_or_else(|| panic!("{file_name} is not in the ZIP"));
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(
            text(format, "Version"),
            std::str::from_utf8(&bytes[5..8]).unwrap()
        );
        files.insert(hex::encode(sha2::Sha256::digest(bytes)));
        // A sealed file says so: its seal is embedded (SignaturSiegelType).
        let sealed = !amtspost::seal::verify::verify_pdf(bytes, &[]).is_empty();
        let primaer = child(format, "Primaerdokument");
        let marked = children(primaer)
            .iter()
            .any(|c| c.tag_name().name() == "SignaturSiegel");
        assert_eq!(marked, sealed, "{file_name}");
        if sealed {
            assert_eq!(
                text(
                    child(primaer, "SignaturSiegel"),
                    "SignaturSiegelEingebettet"
                ),
                "1"
            );
            sealed_files += 1;
        }
    }
    assert_eq!(
        entries.len(),
        dokumente.len() + 1,
        "the ZIP holds the message and the documents' files, nothing else"
    );
    let history = children(vorgang)
        .iter()
        .filter(|c| c.tag_name().name() == "HistorienProtokollInformation")
        .count();
    if code_expected == "0503" {
        assert_eq!(
            text(vorgang, "ZdA"),
            "1",
            "only closed cases go to the archive"
        );
        assert!(!text(child(vorgang, "Laufzeit"), "Ende").is_empty());
    }
    Checked {
        uuids,
        files,
        file_number,
        history,
        sealed: sealed_files,
    }
}

/// The SHA-256 of every letter and upload stored for a case.
async fn stored_files(app: &TestApp, n: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = app
        .engine
        .case_documents(n)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.sha256)
        .collect();
    for u in app.engine.uploads(n).await.unwrap() {
        out.insert(u.sha256);
    }
    out
}

/// A schema check that cannot fail is worth nothing: a message with two
/// elements swapped, or a code outside the list, is refused.
#[test]
fn the_schema_refuses_a_message_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/xdomea/minimal-0503.xml"),
    )
    .unwrap();
    xmllint(good.as_bytes(), dir.path()).unwrap();
    let swapped = good.replacen(
        "<xdomea:ZdA>1</xdomea:ZdA>\n      <xdomea:ZdADatum>2013-08-01</xdomea:ZdADatum>",
        "<xdomea:ZdADatum>2013-08-01</xdomea:ZdADatum>\n      <xdomea:ZdA>1</xdomea:ZdA>",
        1,
    );
    assert_ne!(swapped, good);
    let err = xmllint(swapped.as_bytes(), dir.path()).unwrap_err();
    assert!(err.contains("ZdADatum"), "{err}");
    let wrong_code = good.replacen("<code>0503</code>", "<code>0599</code>", 1);
    assert!(xmllint(wrong_code.as_bytes(), dir.path()).is_err());
}

/// The demo's cases: a KI case as Abgabe 0401, every closed case as
/// Aussonderung 0503 (`--all --closed-before`).
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_cases_export_as_valid_xdomea_0401_and_0503() {
    let db = TestDb::sqlite().await;
    amtspost::cli::demo::scenario::run(amtspost::cli::demo::scenario::DemoOptions {
        out: db.dir.path().join("demo"),
        database_url: Some(db.url.clone()),
        progress: false,
        ..amtspost::cli::demo::scenario::DemoOptions::new(Default::default())
    })
    .await
    .expect("the demo runs through");
    let mut bin = Bin::new(&db);
    bin.workflows = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let list = bin
        .run(&["--json", "case", "list", "--workflow", "ki-foerderantrag"])
        .json();
    let n = list[0]["file_number"].as_str().unwrap().to_string();

    let abgabe = db.dir.path().join("abgabe");
    let out = export(&bin, &n, "xdomea", &abgabe).ok();
    assert!(out.contains("Abgabe.Abgabe.0401 written to"), "{out}");
    let written = messages(&abgabe);
    assert_eq!(written.len(), 1);
    let (name, zip) = written.iter().next().unwrap();
    let c = check(name, zip, "0401", db.dir.path());
    assert_eq!(c.file_number, n);
    let shown = bin.run(&["--json", "case", "show", &n]).json();
    assert_eq!(c.history, shown["history"].as_array().unwrap().len());
    assert!(!c.files.is_empty());

    let archive = db.dir.path().join("archiv");
    let out = bin
        .run(&[
            "case",
            "export",
            "--all",
            "--closed-before",
            "2014-01-01",
            "--format",
            "xdomea-archive",
            "--recipient",
            "Landesarchiv NRW",
            "-o",
            archive.to_str().unwrap(),
        ])
        .ok();
    let written = messages(&archive);
    let all = bin.run(&["--json", "case", "list"]).json();
    let closed: BTreeSet<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["closed"] == true && c["updated_at"].as_str().unwrap() < "2014-01-01")
        .map(|c| c["file_number"].as_str().unwrap())
        .collect();
    assert!(closed.len() >= 10, "{all}");
    assert_eq!(
        written.len(),
        closed.len(),
        "every closed demo case, one process each: {out}"
    );
    let mut processes = BTreeSet::new();
    let mut sealed = 0;
    for (name, zip) in &written {
        let c = check(name, zip, "0503", db.dir.path());
        assert!(processes.insert(c.uuids[0].clone()), "one process per case");
        assert!(closed.contains(c.file_number.as_str()), "{}", c.file_number);
        sealed += c.sealed;
    }
    assert!(
        sealed > 0,
        "the demo's sealed notices go to the archive marked as sealed"
    );
}

/// A closed test case: 0401 and 0503 validate, the ZIP's documents are the
/// stored bytes, and a second export carries the same UUIDs.
async fn a_closed_case_exports_with_stable_uuids(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = crate::akte::full_case(&app).await;
    let stored = stored_files(&app, &n).await;
    app.app.close().await;
    let bin = Bin::new(&db);
    let mut uuids = Vec::new();
    for (round, dir) in ["eins", "zwei"].iter().enumerate() {
        let dir = db.dir.path().join(dir);
        for (format, code) in [("xdomea", "0401"), ("xdomea-archive", "0503")] {
            export(&bin, &n, format, &dir).ok();
            let written = messages(&dir);
            let (name, zip) = written.iter().find(|(k, _)| k.contains(code)).unwrap();
            let c = check(name, zip, code, db.dir.path());
            assert_eq!(c.files, stored, "the documents, byte for byte as stored");
            if round == 0 {
                uuids.push((name.clone(), c.uuids));
            } else {
                let (first_name, first) = uuids.iter().find(|(k, _)| k.contains(code)).unwrap();
                assert_eq!(name, first_name);
                assert_eq!(&c.uuids, first, "the same objects keep their UUIDs");
            }
        }
        // Never over an existing message.
        let again = export(&bin, &n, "xdomea", &dir).fails();
        assert!(again.contains("exists already"), "{again}");
    }
    // The Vorgang and its documents keep their UUIDs across message types.
    let (a, b) = (&uuids[0].1, &uuids[1].1);
    assert_ne!(a[0], b[0], "each message type is a process of its own");
    assert_eq!(a[1..], b[1..]);
}

/// An open case does not go to the archive.
async fn an_open_case_is_not_given_to_the_archive(db: TestDb) {
    let app = TestApp::new(&db).await;
    let n = app.open_antrag("Kreis Soest").await.file_number.to_string();
    app.app.close().await;
    let bin = Bin::new(&db);
    let err = export(&bin, &n, "xdomea-archive", Path::new("archiv")).fails();
    assert!(err.contains("ist nicht abgeschlossen"), "{err}");
    let dir = db.dir.path().join("abgabe");
    export(&bin, &n, "xdomea", &dir).ok();
    let written = messages(&dir);
    let (name, zip) = written.iter().next().unwrap();
    check(name, zip, "0401", db.dir.path());
}

on_both_databases! {
    async fn a_closed_case_exports_as_valid_xdomea_with_the_stored_bytes_and_stable_uuids(db) {
        a_closed_case_exports_with_stable_uuids(db).await;
    }

    async fn an_open_case_is_refused_for_the_archive_but_handed_over(db) {
        an_open_case_is_not_given_to_the_archive(db).await;
    }
}
