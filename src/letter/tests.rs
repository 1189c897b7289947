//! Tests of the letter engine. Tests that read the PDF's text use poppler's
//! `pdftotext` (Debian package `poppler-utils`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{EMBEDDED, LetterEngine, LetterError, RenderRequest, Rendered};

const ALL_TEMPLATES: [&str; 6] = [
    "ablehnungsbescheid",
    "eingangsbestaetigung",
    "erinnerung",
    "nachforderung",
    "rundschreiben",
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
        "rundschreiben" => (2012, 3, 19),
        "eingangsbestaetigung" => (2013, 4, 19),
        "nachforderung" => (2013, 4, 22),
        "erinnerung" => (2013, 5, 10),
        "ablehnungsbescheid" => (2013, 6, 3),
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
    for file in EMBEDDED.files() {
        let name = file.path().to_str().unwrap();
        if name.ends_with(".typ") {
            std::fs::write(dir.join(name), file.contents()).unwrap();
        }
    }
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
/// through the extension schema the file declares). Files are left in
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
        let valid = text.contains("is a valid PDF/A-1b file");
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
        let path = dir.join(format!("{name}-a2b-ua1.pdf"));
        std::fs::write(&path, &real.pdf).unwrap();
        let (_, findings) = validate(&path);
        for f in &findings {
            assert!(
                f.contains("Invalid version of the ICCProfile")
                    || f.contains("http://www.aiim.org/pdfua/ns/id/"),
                "{name} as PDF/A-2b + PDF/UA-1: unexpected finding {f}"
            );
        }
        eprintln!("{name}: PDF/A-1b valid; PDF/A-2b+UA-1 findings (part-1 rules): {findings:?}");
    }
}
