//! Tests of the letter engine. Tests that read the PDF's text use poppler's
//! `pdftotext` (Debian package `poppler-utils`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{EMBEDDED, LetterEngine, LetterError, RenderRequest, Rendered};

const ALL_TEMPLATES: [&str; 11] = [
    "ablehnungsbescheid",
    "aenderungsbescheid",
    "anlage",
    "eingangsbestaetigung",
    "erinnerung",
    "nachforderung",
    "rundschreiben",
    "schreiben",
    "vordruck",
    "widerrufsbescheid",
    "zuwendungsbescheid",
];

fn example(name: &str) -> Value {
    let file = EMBEDDED
        .get_file(format!("examples/{name}.json"))
        .unwrap_or_else(|| panic!("templates/examples/{name}.json missing"));
    serde_json::from_slice(file.contents()).expect("example is valid JSON")
}

/// The letter date each example is meant for.
fn example_date(name: &str) -> NaiveDate {
    let (y, m, d) = match name {
        "rundschreiben" | "anlage" => (2012, 3, 19),
        "eingangsbestaetigung" => (2013, 4, 19),
        "nachforderung" => (2013, 4, 22),
        "erinnerung" => (2013, 5, 10),
        "ablehnungsbescheid" => (2013, 6, 3),
        "aenderungsbescheid" => (2013, 9, 20),
        "schreiben" => (2012, 11, 16),
        "vordruck" => (2012, 10, 15),
        "widerrufsbescheid" => (2014, 8, 29),
        _ => (2013, 6, 28),
    };
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn render(engine: &LetterEngine, name: &str, data: &Value) -> Result<Rendered, LetterError> {
    engine.render(&RenderRequest {
        template: name,
        data,
        date: example_date(name),
        title: "Testbrief",
        author: "Bezirksregierung Arnsberg",
    })
}

fn compile_error(result: Result<Rendered, LetterError>) -> String {
    match result {
        Err(LetterError::Compile { message, .. }) => message,
        Err(other) => panic!("expected a compile error, got {other}"),
        Ok(_) => panic!("expected a compile error, got a PDF"),
    }
}

fn pdftotext(pdf: &[u8], args: &[&str]) -> String {
    let mut child = Command::new("pdftotext")
        .args(args)
        .args(["-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext not found: apt-get install poppler-utils");
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh folder with a copy of the embedded letter templates.
fn temp_template_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("amtspost-letter-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    fn copy(from: &include_dir::Dir<'_>, to: &std::path::Path) {
        for file in from.files() {
            let name = file.path().to_str().unwrap();
            if name.ends_with(".typ") {
                let path = to.join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, file.contents()).unwrap();
            }
        }
        for sub in from.dirs() {
            copy(sub, to);
        }
    }
    copy(&EMBEDDED, &dir);
    dir
}

#[test]
fn lists_the_letter_templates() {
    let engine = LetterEngine::embedded();
    assert_eq!(engine.templates(), ALL_TEMPLATES);
    assert!(engine.has_template("zuwendungsbescheid"));
    assert!(!engine.has_template("layout"));
    assert!(!engine.has_template("nope"));
    assert!(engine.template_hash("layout").is_none());
}

#[test]
fn every_template_renders_its_example() {
    let engine = LetterEngine::embedded();
    for name in ALL_TEMPLATES {
        let rendered =
            render(&engine, name, &example(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rendered.pdf.starts_with(b"%PDF-"), "{name}");
        assert!(rendered.pages >= 1, "{name}");
        assert_eq!(rendered.sha256, hex::encode(Sha256::digest(&rendered.pdf)));
        assert_eq!(Some(rendered.template_hash), engine.template_hash(name));
    }
}

#[test]
fn rendering_is_deterministic() {
    let engine = LetterEngine::embedded();
    let data = example("zuwendungsbescheid");
    let a = render(&engine, "zuwendungsbescheid", &data).unwrap();
    let b = render(&engine, "zuwendungsbescheid", &data).unwrap();
    let c = render(&LetterEngine::embedded(), "zuwendungsbescheid", &data).unwrap();
    assert_eq!(a.pdf, b.pdf);
    assert_eq!(a.pdf, c.pdf);
    assert_eq!(a.sha256, c.sha256);
}

#[test]
fn renders_concurrently_with_identical_output() {
    let engine = std::sync::Arc::new(LetterEngine::embedded());
    let expected = render(&engine, "nachforderung", &example("nachforderung"))
        .unwrap()
        .pdf;
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let name = ALL_TEMPLATES[i % ALL_TEMPLATES.len()];
                render(&engine, name, &example(name)).unwrap();
                render(&engine, "nachforderung", &example("nachforderung"))
                    .unwrap()
                    .pdf
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}

#[test]
fn today_is_the_request_date_and_amounts_are_german() {
    let engine = LetterEngine::embedded();
    let mut data = example("zuwendungsbescheid");
    data["grant"]["amount"] = json!(1_234_567.891);
    data["expenses"]["items"] =
        json!([{"label": "Personal", "amount": "1234567.89"}, {"label": "Sach", "amount": 0.5}]);
    let rendered = engine
        .render(&RenderRequest {
            template: "zuwendungsbescheid",
            data: &data,
            date: NaiveDate::from_ymd_opt(2012, 3, 19).unwrap(),
            title: "t",
            author: "a",
        })
        .unwrap();
    let text = pdftotext(&rendered.pdf, &[]);
    assert!(text.contains("19.03.2012"), "{text}");
    assert!(text.contains("1.234.567,89 EUR"), "{text}");
    assert!(text.contains("1.234.568,39 EUR"), "sum: {text}");
    assert!(text.contains("0,50 EUR"), "{text}");
}

#[test]
fn hostile_data_appears_literally() {
    let engine = LetterEngine::embedded();
    let hostile = r#"A#b *c* _d_ [e] $f$ \g <h> @i =j #panic("x") }"#;
    let mut data = example("eingangsbestaetigung");
    data["recipient"]["lines"][0] = json!(hostile);
    data["subject"] = json!(hostile);
    data["notes"] = json!([
        "- keine Liste",
        "= keine Überschrift",
        "+ kein Enum",
        hostile
    ]);
    let rendered = render(&engine, "eingangsbestaetigung", &data).unwrap();
    let text = pdftotext(&rendered.pdf, &[]);
    assert!(
        text.matches(hostile).count() >= 3,
        "hostile text not literal:\n{text}"
    );
    for line in ["- keine Liste", "= keine Überschrift", "+ kein Enum"] {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "{line:?} missing:\n{text}"
        );
    }
}

#[test]
fn missing_field_names_template_line_and_field() {
    let engine = LetterEngine::embedded();
    let mut data = example("zuwendungsbescheid");
    data["grant"].as_object_mut().unwrap().remove("purpose");
    let message = compile_error(render(&engine, "zuwendungsbescheid", &data));

    let source = std::str::from_utf8(
        EMBEDDED
            .get_file("zuwendungsbescheid.typ")
            .unwrap()
            .contents(),
    )
    .unwrap();
    let (line, text) = source
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("grant.purpose"))
        .unwrap();
    // Typst points at the missing key; columns count characters, not bytes.
    let byte = text.find("grant.purpose").unwrap() + "grant.".len();
    let col = text[..byte].chars().count() + 1;
    let expected = format!(
        "templates/zuwendungsbescheid.typ:{}:{col}: error: dictionary does not contain key \"purpose\"",
        line + 1
    );
    assert!(
        message.contains(&expected),
        "expected {expected:?} in:\n{message}"
    );
}

#[test]
fn missing_field_in_layout_is_named_too() {
    let engine = LetterEngine::embedded();
    let mut data = example("erinnerung");
    data["office"].as_object_mut().unwrap().remove("name");
    let message = compile_error(render(&engine, "erinnerung", &data));
    assert!(message.contains("templates/layout.typ:"), "{message}");
    assert!(
        message.contains("dictionary does not contain key \"name\""),
        "{message}"
    );
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let dir = temp_template_dir("syntax");
    std::fs::write(
        dir.join("nachforderung.typ"),
        "#import \"layout.typ\": *\n#let data = json(\"/data.json\")\n#show: letter.with(data)\nText #let x = (1, 2\n",
    )
    .unwrap();
    let engine = LetterEngine::from_dir(&dir).unwrap();
    let message = compile_error(render(&engine, "nachforderung", &example("nachforderung")));
    let expected = format!(
        "{}:4:15: error: unclosed delimiter",
        dir.join("nachforderung.typ").display()
    );
    assert!(
        message.starts_with(&expected),
        "expected {expected:?} in:\n{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_dir_reads_templates_and_hash_covers_the_layout() {
    let dir = temp_template_dir("hash");
    let engine = LetterEngine::from_dir(&dir).unwrap();
    let embedded = LetterEngine::embedded();
    assert_eq!(engine.templates(), ALL_TEMPLATES);
    for name in ALL_TEMPLATES {
        assert_eq!(
            engine.template_hash(name),
            embedded.template_hash(name),
            "{name}"
        );
    }
    let data = example("rundschreiben");
    let a = render(&engine, "rundschreiben", &data).unwrap();
    assert_eq!(
        a.pdf,
        render(&embedded, "rundschreiben", &data).unwrap().pdf
    );

    // Changing the shared layout changes every template's hash.
    let layout = dir.join("layout.typ");
    let mut text = std::fs::read_to_string(&layout).unwrap();
    text.push_str("\n// changed\n");
    std::fs::write(&layout, text).unwrap();
    let changed = LetterEngine::from_dir(&dir).unwrap();
    for name in ALL_TEMPLATES {
        assert_ne!(
            changed.template_hash(name),
            embedded.template_hash(name),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let missing = std::env::temp_dir().join("amtspost-letter-does-not-exist");
    assert!(matches!(
        LetterEngine::from_dir(&missing),
        Err(LetterError::Io { .. })
    ));
}

#[test]
fn unknown_template_is_an_error() {
    let engine = LetterEngine::embedded();
    let result = render(&engine, "layout", &json!({}));
    assert!(matches!(result, Err(LetterError::UnknownTemplate(_))));
    let result = render(&engine, "../etc/passwd", &json!({}));
    assert!(matches!(result, Err(LetterError::UnknownTemplate(_))));
}

/// Words of `pdftotext -bbox` on page 1 as (text, x_min mm, y_min mm).
fn words_mm(pdf: &[u8]) -> Vec<(String, f64, f64)> {
    let xml = pdftotext(pdf, &["-bbox", "-f", "1", "-l", "1"]);
    let attr = |line: &str, name: &str| -> f64 {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + line[start..].find('"').unwrap();
        line[start..end].parse::<f64>().unwrap() * 25.4 / 72.0
    };
    xml.lines()
        .filter(|l| l.trim_start().starts_with("<word "))
        .map(|l| {
            let text = l[l.find('>').unwrap() + 1..l.rfind("</word>").unwrap()].to_owned();
            (text, attr(l, "xMin"), attr(l, "yMin"))
        })
        .collect()
}

fn assert_din_positions(form: &str, top: f64, info_top: f64) {
    let engine = LetterEngine::embedded();
    let mut data = example("nachforderung");
    data["form"] = json!(form);
    data["recipient"]["lines"][0] = json!("Empfängerzeile");
    let rendered = render(&engine, "nachforderung", &data).unwrap();
    let words = words_mm(&rendered.pdf);
    let find = |w: &str| {
        words
            .iter()
            .find(|(t, _, _)| t == w)
            .unwrap_or_else(|| panic!("{w} not on page 1: {words:?}"))
            .clone()
    };
    // First recipient line: text at 25 mm, inside the Anschriftzone
    // (address field top + 17.7 mm ... + 45 mm).
    let (_, x, y) = find("Empfängerzeile");
    assert!(
        (x - 25.0).abs() <= 1.0,
        "form {form}: recipient x = {x:.2} mm"
    );
    assert!(
        y >= top + 17.7 && y <= top + 45.0,
        "form {form}: recipient y = {y:.2} mm"
    );
    // Return address: text at 25 mm, inside the Zusatz- und Vermerkzone.
    let (_, x, y) = find("Seibertzstraße");
    assert!(
        x > 25.0 && y >= top && y < top + 17.7,
        "form {form}: return address at {x:.2}/{y:.2}"
    );
    let (_, x, _) = words
        .iter()
        .find(|(t, _, y)| t == "Bezirksregierung" && *y > top)
        .unwrap();
    assert!(
        (x - 25.0).abs() <= 1.0,
        "form {form}: return address x = {x:.2} mm"
    );
    // Info block: 125 mm from the left, starting at its top.
    let (_, x, y) = find("Ihr");
    assert!(
        (x - 125.0).abs() <= 1.0,
        "form {form}: info block x = {x:.2} mm"
    );
    assert!(
        (y - info_top).abs() <= 1.0,
        "form {form}: info block y = {y:.2} mm"
    );
}

#[test]
fn din_5008_form_b_positions() {
    assert_din_positions("B", 45.0, 50.0);
}

#[test]
fn din_5008_form_a_positions() {
    assert_din_positions("A", 27.0, 32.0);
}

#[test]
fn invalid_form_is_reported() {
    let engine = LetterEngine::embedded();
    let mut data = example("nachforderung");
    data["form"] = json!("C");
    let message = compile_error(render(&engine, "nachforderung", &data));
    assert!(message.contains("templates/layout.typ:"), "{message}");
    assert!(message.contains("form muss"), "{message}");
}

/// Validates every example with Apache PDFBox Preflight (a PDF/A-1b validator;
/// Debian: `apt-get install libpdfbox2-java libactivation-java libjaxb-api-java`).
///
/// Preflight knows only PDF/A-1, so the letters are also exported as PDF/A-1b
/// (same content, PDF 1.4 rules) and that file must pass. The real output
/// (PDF/A-2b + PDF/UA-1) is checked too, and every finding must be one that is
/// explained by Preflight applying part-1 rules to a part-2 file: the ICC
/// profile version (v4 is allowed from PDF/A-2 on) and the PDF/UA
/// identification namespace `pdfuaid` (which Preflight does not resolve
/// through the extension schema the file declares). The same holds for the
/// letter with the office's seal (issue 26). Files are left in
/// `$TMPDIR/amtspost-preflight/`. Needs Java and Debian's PDFBox Preflight
/// (`.ci/run` installs them): it fails, never skips, when they are missing.
#[test]
fn preflight_validation() {
    use super::PdfStandard;
    let jars = [
        "preflight",
        "pdfbox2",
        "fontbox2",
        "xmpbox",
        "commons-logging",
        "javax.activation",
        "jaxb-api",
    ];
    let cp = jars.map(|j| format!("/usr/share/java/{j}.jar")).join(":");
    let dir = std::env::temp_dir().join("amtspost-preflight");
    std::fs::create_dir_all(&dir).unwrap();
    let engine = LetterEngine::embedded();
    let validate = |path: &std::path::Path| -> (bool, Vec<String>) {
        let out = Command::new("java")
            .args(["-cp", &cp, "org.apache.pdfbox.preflight.Validator_A1b"])
            .arg(path)
            .output()
            .expect("java not found");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // The validator's own verdict, one way or the other: silence (a
        // crash, a missing class) is no pass.
        let valid = text.contains("is a valid PDF/A-1b file");
        assert!(
            valid || text.contains("is not a valid PDF/A-1b file"),
            "Preflight gave no verdict on {}:\n{text}\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let findings = text
            .lines()
            .filter(|l| l.contains(" : "))
            .map(|l| {
                l.trim_end_matches(" on page 1")
                    .trim_end_matches(" on page 2")
                    .to_owned()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        (valid, findings)
    };
    for name in ALL_TEMPLATES {
        let data = example(name);
        let req = RenderRequest {
            template: name,
            data: &data,
            date: example_date(name),
            title: name,
            author: "Bezirksregierung Arnsberg",
        };
        let a1b = engine.render_with(&req, &[PdfStandard::A_1b]).unwrap();
        let path = dir.join(format!("{name}-a1b.pdf"));
        std::fs::write(&path, &a1b.pdf).unwrap();
        let (valid, findings) = validate(&path);
        assert!(valid, "{name} as PDF/A-1b: {findings:?}");

        let real = engine.render(&req).unwrap();
        // The same letter with the office's seal (issue 26): the signature
        // in an incremental update must not cost the PDF/A conformance.
        let sealed = sealed_for_preflight(&real.pdf);
        for (label, pdf) in [("a2b-ua1", &real.pdf), ("a2b-ua1-sealed", &sealed)] {
            let path = dir.join(format!("{name}-{label}.pdf"));
            std::fs::write(&path, pdf).unwrap();
            let (_, findings) = validate(&path);
            for f in &findings {
                assert!(
                    f.contains("Invalid version of the ICCProfile")
                        || f.contains("http://www.aiim.org/pdfua/ns/id/"),
                    "{name} ({label}) as PDF/A-2b + PDF/UA-1: unexpected finding {f}"
                );
            }
            // Preflight stops checking the metadata at its first finding there
            // (the PDF/UA namespace it does not know). So the rest is checked on
            // a copy with what part-1 rules cannot accept in a part-2 file
            // neutralised, byte for byte the same length (the cross-reference
            // table stays right): the PDF/UA identification and part 2.
            let mut copy = pdf.clone();
            for (from, to) in [
                (
                    &b"<pdfuaid:part>1</pdfuaid:part>"[..],
                    &b"                              "[..],
                ),
                (
                    &b" xmlns:pdfuaid=\"http://www.aiim.org/pdfua/ns/id/\""[..],
                    &b"                                                 "[..],
                ),
                (
                    &b"<pdfaid:part>2</pdfaid:part>"[..],
                    &b"<pdfaid:part>1</pdfaid:part>"[..],
                ),
            ] {
                assert_eq!(from.len(), to.len());
                let at = copy
                    .windows(from.len())
                    .position(|w| w == from)
                    .unwrap_or_else(|| {
                        panic!(
                            "{name}: {} not in the XMP metadata",
                            String::from_utf8_lossy(from)
                        )
                    });
                copy[at..at + from.len()].copy_from_slice(to);
            }
            let path = dir.join(format!("{name}-{label}-metadata.pdf"));
            std::fs::write(&path, &copy).unwrap();
            let (_, rest) = validate(&path);
            for f in &rest {
                assert!(
                    f.contains("Invalid version of the ICCProfile"),
                    "{name}: the metadata has a finding besides the PDF/UA namespace: {f}"
                );
            }
        }
        eprintln!("{name}: PDF/A-1b valid; PDF/A-2b+UA-1 (also sealed) checked with part-1 rules");
    }
}

/// `pdf` sealed at B-B with a throwaway test seal, as the issuing step does.
fn sealed_for_preflight(pdf: &[u8]) -> Vec<u8> {
    crate::seal::testpki::TestPki::generate("Bezirksregierung Arnsberg")
        .unwrap()
        .seal_blocking(pdf.to_vec(), chrono::Utc::now())
}

// ------------------------------------------------------------------ issue 13

/// The text of `template` rendered from `data` on `date`, whitespace collapsed.
fn text_on(template: &str, data: &Value, date: (i32, u32, u32)) -> String {
    let engine = LetterEngine::embedded();
    let rendered = engine
        .render(&RenderRequest {
            template,
            data,
            date: NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
            title: "Testbrief",
            author: "Bezirksregierung Arnsberg",
        })
        .unwrap_or_else(|e| panic!("{template}: {e}"));
    pdftotext(&rendered.pdf, &[])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_grant_to_a_municipality_follows_the_vvg_and_is_made_as_zuweisung() {
    let data = example("zuwendungsbescheid");
    let text = text_on("zuwendungsbescheid", &data, (2013, 6, 28));
    for needle in [
        "im Wege der Festbetragsfinanzierung als Zuweisung gewährt",
        "Verwaltungsvorschriften für Zuwendungen an Gemeinden (GV) zu § 44 LHO (VVG)",
        "50.000,00 EUR je Vollzeitstelle",
        "20.000,00 EUR für die halbe Stelle der Assistenzkraft und Jahr",
        "insgesamt 170.000,00 EUR",
        "ANBest-G",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("nicht rückzahlbarer Zuschuss"), "{text}");
    assert!(
        !text.contains("Höchstbetrag"),
        "a Festbetrag is no cap:\n{text}"
    );
    assert!(!text.contains("(VV)"), "{text}");

    // A recipient that is not a Gemeinde (GV): VV, Zuschuss, ANBest-P.
    let mut other = data.clone();
    other["municipal"] = json!(false);
    other["provisions"]
        .as_object_mut()
        .unwrap()
        .remove("anbest");
    let text = text_on("zuwendungsbescheid", &other, (2013, 6, 28));
    assert!(
        text.contains("als nicht rückzahlbarer Zuschuss gewährt"),
        "{text}"
    );
    assert!(
        text.contains("Verwaltungsvorschriften zu § 44 LHO (VV)"),
        "{text}"
    );
    assert!(text.contains("ANBest-P"), "{text}");

    // The cap belongs to Anteil-, Fehlbedarf- and Vollfinanzierung.
    for (kind, extra) in [
        ("Vollfinanzierung", json!({})),
        ("Anteilfinanzierung", json!({"share_percent": 80})),
        ("Fehlbedarfsfinanzierung", json!({})),
    ] {
        let mut d = data.clone();
        d["financing"]["kind"] = json!(kind);
        for (k, v) in extra.as_object().unwrap() {
            d["financing"][k] = v.clone();
        }
        let text = text_on("zuwendungsbescheid", &d, (2021, 6, 28));
        assert!(
            text.contains("Der Zuwendungsbetrag ist ein Höchstbetrag."),
            "{kind}: {text}"
        );
    }
}

/// Electronic filing is offered only where and when the court accepted it
/// (OVG NRW, press release of 28.12.2012): the OVG and the VG Minden before
/// 2013, every administrative court from 01.01.2013 (LEGAL-REVIEW-2 N1).
#[test]
fn electronic_filing_is_offered_only_where_and_when_the_court_accepted_it() {
    let mut data = example("ablehnungsbescheid");
    let erv = "in elektronischer Form nach Maßgabe des § 55a";
    for (court, date, offered) in [
        (
            "Verwaltungsgericht Gelsenkirchen, Bahnhofsvorplatz 3, 45879 Gelsenkirchen",
            (2012, 12, 31),
            false,
        ),
        (
            "Verwaltungsgericht Gelsenkirchen, Bahnhofsvorplatz 3, 45879 Gelsenkirchen",
            (2013, 1, 1),
            true,
        ),
        (
            "Verwaltungsgericht Köln, Appellhofplatz, 50667 Köln",
            (2012, 6, 1),
            false,
        ),
        (
            "Verwaltungsgericht Köln, Appellhofplatz, 50667 Köln",
            (2013, 3, 1),
            true,
        ),
        (
            "Verwaltungsgericht Minden, Königswall 8, 32423 Minden",
            (2012, 6, 1),
            true,
        ),
        (
            "Verwaltungsgericht Arnsberg, Jägerstraße 1, 59821 Arnsberg",
            (2012, 11, 19),
            false,
        ),
    ] {
        data["court"] = json!(court);
        let text = text_on("ablehnungsbescheid", &data, date);
        assert_eq!(text.contains(erv), offered, "{court} on {date:?}:\n{text}");
        assert!(
            text.contains("schriftlich oder zur Niederschrift"),
            "{text}"
        );
    }
}

#[test]
fn the_legal_texts_are_those_in_force_on_the_letter_date() {
    let data = example("zuwendungsbescheid");
    // 2012/2013: § 7 TIntG 2012, the guideline of 25.06.2012; no e-filing
    // at the VG Gelsenkirchen before 01.01.2013 (see the next test).
    let text = text_on("zuwendungsbescheid", &data, (2012, 11, 14));
    assert!(!text.contains("ERVVO"), "2012 at Gelsenkirchen: {text}");
    for needle in [
        "§ 7 Abs. 1 des Teilhabe- und Integrationsgesetzes",
        "vom 14. Februar 2012, GV. NRW. S. 97",
        "Richtlinien für die Förderung Kommunaler Integrationszentren",
        "vom 25.06.2012",
        "Verwaltungsgericht Gelsenkirchen, Bahnhofsvorplatz 3, 45879 Gelsenkirchen",
        "innerhalb eines Monats nach Bekanntgabe Klage",
    ] {
        assert!(text.contains(needle), "2012: {needle:?} missing:\n{text}");
    }
    for absent in ["§ 8 Abs. 1", "§ 55a Abs. 4", "ERVV)", "§ 55d", "27.03.2018"] {
        assert!(!text.contains(absent), "2012: {absent:?} present:\n{text}");
    }
    // 2019: the guideline of 27.03.2018, e-filing by § 55a Abs. 4 VwGO and the ERVV.
    let text = text_on("zuwendungsbescheid", &data, (2019, 5, 2));
    for needle in [
        "§ 7 Abs. 1",
        "vom 27.03.2018",
        "§ 55a Abs. 4 VwGO",
        "(ERVV)",
    ] {
        assert!(text.contains(needle), "2019: {needle:?} missing:\n{text}");
    }
    assert!(!text.contains("§ 55d"), "{text}");
    // 2023: § 8 TIntG 2021, the Neufassung of 10.03.2023, the VVG of 2022 and § 55d VwGO.
    let text = text_on("zuwendungsbescheid", &data, (2023, 6, 1));
    for needle in [
        "§ 8 Abs. 1 des Teilhabe- und Integrationsgesetzes vom 25. November 2021",
        "vom 10.03.2023",
        "vom 6. Juni 2022",
        "nach § 55d VwGO verpflichtet, die Klage als elektronisches Dokument",
    ] {
        assert!(text.contains(needle), "2023: {needle:?} missing:\n{text}");
    }
    assert!(!text.contains("§ 7 Abs. 1"), "{text}");
    // The last day of the old law and the first of the new.
    assert!(text_on("zuwendungsbescheid", &data, (2021, 12, 31)).contains("§ 7 Abs. 1"));
    assert!(text_on("zuwendungsbescheid", &data, (2022, 1, 1)).contains("§ 8 Abs. 1"));
}

#[test]
fn the_rejection_names_the_court_from_the_data_and_the_verpflichtungsklage() {
    let mut data = example("ablehnungsbescheid");
    data["court"] = json!("Verwaltungsgericht Aachen, Adalbertsteinweg 92, 52070 Aachen");
    let text = text_on("ablehnungsbescheid", &data, (2013, 6, 3));
    assert!(
        text.contains("Klage (Verpflichtungsklage) bei dem Verwaltungsgericht Aachen, Adalbertsteinweg 92, 52070 Aachen"),
        "{text}"
    );
    assert!(!text.contains("Gelsenkirchen"), "{text}");
    // A court without its full name is refused, not printed.
    data["court"] = json!("VG Aachen");
    let engine = LetterEngine::embedded();
    let message = compile_error(render(&engine, "ablehnungsbescheid", &data));
    assert!(message.contains("Verwaltungsgericht"), "{message}");
}

#[test]
fn the_nachforderung_rests_on_24_and_26_vwvfg_and_the_guideline_list() {
    let mut data = example("nachforderung");
    data.as_object_mut().unwrap().remove("hint");
    data["guideline_documents"] = json!("ki");
    let text = text_on("nachforderung", &data, (2013, 4, 22));
    assert!(text.contains("(§ 24 VwVfG NRW)"), "{text}");
    assert!(text.contains("(§ 26 Abs. 2 VwVfG NRW)"), "{text}");
    assert!(text.contains("nach Aktenlage"), "{text}");
    assert!(
        text.contains("Nach der Förderrichtlinie sind einem Antrag beizufügen"),
        "{text}"
    );
    assert!(text.contains("nicht älter als drei Jahre"), "{text}");
    assert!(!text.contains("kein Verwaltungsakt"), "{text}");
    assert!(!text.contains("Beratungspflicht"), "{text}");
}

#[test]
fn the_reminder_gives_the_date_only() {
    let data = example("erinnerung");
    let text = text_on("erinnerung", &data, (2013, 5, 10));
    assert!(text.contains("Die Frist endet am"), "{text}");
    assert!(!text.contains("also in"), "{text}");
    assert!(!text.contains(" Tagen"), "{text}");
    let mut late = data.clone();
    late["days_left"] = json!(-3);
    let text = text_on("erinnerung", &late, (2013, 5, 10));
    assert!(text.contains("abgelaufen."), "{text}");
    assert!(!text.contains("vor 3"), "{text}");
}

#[test]
fn the_return_address_is_the_top_line_of_the_vermerkzone_with_notes_below() {
    let engine = LetterEngine::embedded();
    let mut data = example("nachforderung");
    data["recipient"]["notes"] = json!(["Einschreiben"]);
    let rendered = render(&engine, "nachforderung", &data).unwrap();
    let words = words_mm(&rendered.pdf);
    let y = |w: &str| {
        words
            .iter()
            .find(|(t, _, _)| t == w)
            .unwrap_or_else(|| panic!("{w} not on page 1"))
            .2
    };
    let (ret, note) = (y("Seibertzstraße"), y("Einschreiben"));
    assert!(
        ret < note,
        "return address {ret:.1} mm must be above the note {note:.1} mm"
    );
    assert!(
        (45.0..47.5).contains(&ret),
        "top line of the zone: {ret:.1} mm"
    );
}

#[test]
fn urls_and_mail_addresses_carry_link_annotations() {
    let engine = LetterEngine::embedded();
    let dir = std::env::temp_dir().join(format!("amtspost-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rendered = render(&engine, "rundschreiben", &example("rundschreiben")).unwrap();
    let path = dir.join("rundschreiben.pdf");
    std::fs::write(&path, &rendered.pdf).unwrap();
    let out = Command::new("pdfinfo")
        .arg("-url")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) not found");
    let urls = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(urls.contains("mailto:"), "{urls}");
    assert!(urls.contains("https://www."), "{urls}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn anlage_1_of_circular_172_12_reproduces_the_eckpunktepapier() {
    let text = text_on("anlage", &example("anlage"), (2012, 3, 19));
    for needle in [
        "Anlage 1 zum Rundschreiben Nr. 172/12",
        "Konzept der Kommunalen Integrationszentren (Stand: 29.02.2012)",
        "Voraussetzung für die Einrichtung eines Kommunalen Integrationszentrums",
        "auf 2 Vollzeitstellen jeweils mindestens 2 vom Land frei gestellte Lehrkräfte",
        "Aufgabenschwerpunkte",
        "Kooperationsgebot",
        "Migrantenselbstorganisationen",
        "Bis zum 31. Juli 2013 kann eine Förderung der bisherigen organisatorischen Form",
        "Controlling",
        "Förderprogrammcontrolling",
        "Evaluation",
        "Landesweite Koordinierungsstelle",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}

#[test]
fn a_deadline_that_does_not_move_is_printed_with_the_notice_of_31_vwvfg() {
    let mut data = example("nachforderung");
    let text = text_on("nachforderung", &data, (2013, 4, 22));
    assert!(!text.contains("§ 31 Abs. 3 Satz 2"), "{text}");
    data["deadline_fixed"] = json!(true);
    let text = text_on("nachforderung", &data, (2013, 4, 22));
    assert!(
        text.contains("auch wenn dieser Tag ein Sonnabend, Sonntag oder gesetzlicher Feiertag ist (§ 31 Abs. 3 Satz 2 VwVfG NRW)"),
        "{text}"
    );
}

/// Title and author are set on the document by the engine (not by a set
/// rule, so that a series' letters share their styles), and pages 2 and
/// following still name the letter's file number in their header.
#[test]
fn title_author_and_the_file_number_of_later_pages_come_from_the_request() {
    let engine = LetterEngine::embedded();
    let mut data = example("zuwendungsbescheid");
    data["reference"]["ours"] = json!("36.04.01-KI/0815");
    let rendered = engine
        .render(&RenderRequest {
            template: "zuwendungsbescheid",
            data: &data,
            date: example_date("zuwendungsbescheid"),
            title: "Zuwendungsbescheid KI/0815",
            author: "Bezirksregierung Arnsberg",
        })
        .unwrap();
    assert!(rendered.pages >= 2, "{} page(s)", rendered.pages);
    let dir = std::env::temp_dir().join(format!("amtspost-info-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bescheid.pdf");
    std::fs::write(&path, &rendered.pdf).unwrap();
    let out = Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) not found");
    std::fs::remove_dir_all(&dir).unwrap();
    let info = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in\n{info}"))
            .to_owned()
    };
    assert_eq!(field("Title"), "Zuwendungsbescheid KI/0815");
    assert_eq!(field("Author"), "Bezirksregierung Arnsberg");
    let page2 = pdftotext(&rendered.pdf, &["-f", "2", "-l", "2"]);
    assert!(
        page2.contains("Bezirksregierung Arnsberg · 36.04.01-KI/0815 ·"),
        "{page2}"
    );
}
