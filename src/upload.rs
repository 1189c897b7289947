//! What a municipality may upload: a PDF, checked by its content (parsed,
//! not judged by its name), not encrypted, with at least one page, within
//! the size limit, under a plain file name. Pure: no I/O, so every refusal
//! is unit-tested; the engine stores what passes.

use sha2::{Digest, Sha256};

/// Why an upload is refused; the message is shown to the municipality.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("Die Datei ist leer (0 Byte). Bitte wählen Sie die PDF-Datei erneut aus.")]
    Empty,
    #[error(
        "Die Datei ist zu groß ({size_mb} MB); erlaubt sind höchstens {limit_mb} MB. Bitte teilen Sie sie auf oder verkleinern Sie sie."
    )]
    TooLarge { size_mb: String, limit_mb: String },
    #[error(
        "Die Datei ist keine PDF-Datei (ihr Inhalt beginnt nicht mit „%PDF-“). Bitte laden Sie nur PDF-Dokumente hoch."
    )]
    NotPdf,
    #[error(
        "Die PDF-Datei ist beschädigt und kann nicht gelesen werden ({0}). Bitte erzeugen Sie sie neu."
    )]
    Unreadable(String),
    #[error(
        "Die PDF-Datei ist verschlüsselt oder kennwortgeschützt. Bitte laden Sie sie ohne Kennwort und ohne Verschlüsselung hoch, damit sie zur Akte genommen werden kann."
    )]
    Encrypted,
    #[error("Die PDF-Datei enthält keine Seite.")]
    NoPages,
    #[error("Der Dateiname ist nicht zulässig: {0}")]
    BadName(&'static str),
    /// Refused rather than stored with a warning: a clerk who opens the
    /// file in a viewer would run it, and a warning on the page does not
    /// travel with the file into the Akte or a download folder.
    #[error(
        "Die PDF-Datei enthält ausführbare Inhalte ({0}). Bitte speichern Sie das Dokument ohne sie (z. B. über „Drucken als PDF“) und laden Sie es erneut hoch."
    )]
    Active(&'static str),
}

/// An upload that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub sha256: String,
    pub pages: i64,
    /// The file name as it will be stored.
    pub file_name: String,
}

/// The longest file name kept (in characters).
const MAX_NAME: usize = 200;

/// Checks a file name: a plain name, no path, no control characters.
pub fn check_name(name: &str) -> Result<String, UploadError> {
    // Unicode format characters (bidi overrides, zero-width marks) are
    // dropped: `Rechnung\u{202E}fdp.exe` would read as „Rechnung…exe.pdf“.
    let cleaned: String = name.chars().filter(|c| !is_format_char(*c)).collect();
    let name = cleaned.trim();
    if name.is_empty() {
        return Err(UploadError::BadName("er fehlt"));
    }
    if name.chars().any(char::is_control) {
        return Err(UploadError::BadName("er enthält Steuerzeichen"));
    }
    if name.contains('/') || name.contains('\\') || name.contains("..") {
        return Err(UploadError::BadName(
            "er darf keine Pfadangaben („/“, „\\“ oder „..“) enthalten",
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(UploadError::BadName("er ist länger als 200 Zeichen"));
    }
    // Stored and served as what it is: a PDF, whatever the name claimed.
    if name.to_lowercase().ends_with(".pdf") {
        Ok(name.to_string())
    } else {
        Ok(format!("{name}.pdf"))
    }
}

/// Unicode format characters (general category Cf) that can reorder or
/// hide text: bidi marks, embeddings, overrides and isolates, zero-width
/// characters, the soft hyphen and the byte order mark.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The first kind of active content a PDF holds, if any: JavaScript, an
/// action run on opening (`/OpenAction`), additional actions (`/AA`), a
/// launch action.
fn active_content(doc: &lopdf::Document) -> Option<&'static str> {
    for object in doc.objects.values() {
        let dict = match object {
            lopdf::Object::Dictionary(d) => d,
            lopdf::Object::Stream(s) => &s.dict,
            _ => continue,
        };
        for (key, what) in [
            (&b"JavaScript"[..], "JavaScript"),
            (b"JS", "JavaScript"),
            (b"OpenAction", "eine Aktion beim Öffnen"),
            (b"AA", "automatische Aktionen"),
            (b"Launch", "ein Programmaufruf"),
        ] {
            if dict.has(key) {
                return Some(what);
            }
        }
        if let Ok(s) = dict.get(b"S").and_then(|o| o.as_name())
            && matches!(s, b"JavaScript" | b"Launch")
        {
            return Some("JavaScript");
        }
    }
    None
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    format!("{mb:.1}").replace('.', ",")
}

/// Checks an uploaded file against everything above.
pub fn check(name: &str, bytes: &[u8], limit: u64) -> Result<Checked, UploadError> {
    let file_name = check_name(name)?;
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    // The header at offset 0: a file with anything before it (an HTML
    // page, say) may be read as that by a browser or another program.
    if !bytes.starts_with(b"%PDF-") {
        return Err(UploadError::NotPdf);
    }
    let doc = match lopdf::Document::load_mem(bytes) {
        Ok(d) => d,
        Err(e) => {
            let text = e.to_string();
            let lower = text.to_lowercase();
            if lower.contains("decrypt") || lower.contains("password") || lower.contains("encrypt")
            {
                return Err(UploadError::Encrypted);
            }
            return Err(UploadError::Unreadable(text));
        }
    };
    if doc.was_encrypted() || doc.is_encrypted() {
        return Err(UploadError::Encrypted);
    }
    if let Some(what) = active_content(&doc) {
        return Err(UploadError::Active(what));
    }
    let pages = doc.get_pages().len() as i64;
    if pages == 0 {
        return Err(UploadError::NoPages);
    }
    Ok(Checked {
        sha256: hex::encode(Sha256::digest(bytes)),
        pages,
        file_name,
    })
}

/// The refusal for a file over the limit (also used while it streams in).
pub fn too_large(size: u64, limit: u64) -> UploadError {
    UploadError::TooLarge {
        size_mb: megabytes(size),
        limit_mb: megabytes(limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-page PDF made with lopdf.
    fn pdf() -> Vec<u8> {
        use lopdf::{Document, Object, Stream, dictionary};
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let content = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page.into()],
                "Count" => 1,
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn encrypted(user_password: &str) -> Vec<u8> {
        let mut doc = lopdf::Document::load_mem(&pdf()).unwrap();
        doc.trailer.set(
            "ID",
            lopdf::Object::Array(vec![
                lopdf::Object::string_literal(b"0123456789abcdef".to_vec()),
                lopdf::Object::string_literal(b"0123456789abcdef".to_vec()),
            ]),
        );
        let v = lopdf::EncryptionVersion::V2 {
            document: &doc,
            owner_password: "eigentuemer",
            user_password,
            key_length: 128,
            permissions: lopdf::Permissions::all(),
        };
        let state = lopdf::EncryptionState::try_from(v).unwrap();
        doc.encrypt(&state).unwrap();
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn a_pdf_passes_with_its_pages_and_hash() {
        let bytes = pdf();
        let c = check("Konzept.pdf", &bytes, 1 << 20).unwrap();
        assert_eq!(c.pages, 1);
        assert_eq!(c.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(c.file_name, "Konzept.pdf");
    }

    #[test]
    fn the_content_decides_not_the_name() {
        assert_eq!(
            check("brief.pdf", b"GIF89a not a pdf", 1 << 20),
            Err(UploadError::NotPdf)
        );
        assert!(check("scan.txt", &pdf(), 1 << 20).is_ok());
        let mut broken = pdf();
        broken.truncate(40);
        assert!(matches!(
            check("kaputt.pdf", &broken, 1 << 20),
            Err(UploadError::Unreadable(_))
        ));
    }

    #[test]
    fn encrypted_pdfs_are_refused_with_or_without_a_user_password() {
        assert_eq!(
            check("geheim.pdf", &encrypted("geheim"), 1 << 20),
            Err(UploadError::Encrypted)
        );
        assert_eq!(
            check("gesperrt.pdf", &encrypted(""), 1 << 20),
            Err(UploadError::Encrypted)
        );
    }

    #[test]
    fn empty_and_oversized_files_are_refused() {
        assert_eq!(check("a.pdf", b"", 100), Err(UploadError::Empty));
        let bytes = pdf();
        let e = check("a.pdf", &bytes, 10).unwrap_err();
        assert!(matches!(e, UploadError::TooLarge { .. }));
        assert!(e.to_string().contains("zu groß"));
        assert!(check("a.pdf", &bytes, bytes.len() as u64).is_ok());
    }

    #[test]
    fn file_names_with_paths_or_control_characters_are_refused() {
        for bad in [
            "../etc/passwd.pdf",
            "a/b.pdf",
            "a\\b.pdf",
            "x\u{0}.pdf",
            "zeile\n.pdf",
            "",
            "  ",
        ] {
            assert!(
                matches!(check_name(bad), Err(UploadError::BadName(_))),
                "{bad:?}"
            );
        }
        assert!(check_name(&"a".repeat(201)).is_err());
        assert_eq!(
            check_name(" Anlage 1 – Konzept.pdf ").unwrap(),
            "Anlage 1 – Konzept.pdf"
        );
    }

    /// SECURITY-REVIEW D5: the polyglot, the hostile names, active content.
    #[test]
    fn polyglots_hostile_names_and_active_content_are_refused_or_cleaned() {
        // An HTML page in front of a valid PDF.
        let mut polyglot = b"<html><script>alert(1)</script><!--".to_vec();
        polyglot.extend(pdf());
        assert!(matches!(
            check("x.pdf", &polyglot, 1 << 20),
            Err(UploadError::NotPdf)
        ));
        // Names are stored as PDFs, without format characters.
        assert_eq!(
            check_name("Stellenplan.html").unwrap(),
            "Stellenplan.html.pdf"
        );
        assert_eq!(
            check_name("Rechnung\u{202E}fdp.exe").unwrap(),
            "Rechnungfdp.exe.pdf"
        );
        assert_eq!(check_name("Antrag\u{200B}.PDF").unwrap(), "Antrag.PDF");
        // JavaScript run on opening.
        let mut doc = lopdf::Document::load_mem(&pdf()).unwrap();
        use lopdf::dictionary;
        let js = doc.add_object(dictionary! {
            "S" => "JavaScript",
            "JS" => lopdf::Object::string_literal("app.alert(1)"),
        });
        let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
        doc.get_object_mut(root)
            .unwrap()
            .as_dict_mut()
            .unwrap()
            .set("OpenAction", js);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        let e = check("x.pdf", &bytes, 1 << 20).unwrap_err();
        assert!(matches!(e, UploadError::Active(_)), "{e}");
        assert!(e.to_string().contains("ausführbare Inhalte"), "{e}");
        assert!(check("x.pdf", &pdf(), 1 << 20).is_ok());
    }
}
