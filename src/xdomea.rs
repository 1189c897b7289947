//! xdomea 3.0.0: a case as the standard German authorities exchange and
//! archive files in (IT-Planungsrat decision 2017/39). Two messages:
//!
//! - `Abgabe.Abgabe.0401`: the complete hand-over of a Vorgang to another
//!   authority or system;
//! - `Aussonderung.Aussonderung.0503`: the hand-over of a closed Vorgang to
//!   the archive.
//!
//! A message is a ZIP `<ProzessID>_<Nachrichtentyp>.zip` holding
//! `<ProzessID>_<Nachrichtentyp>.xml` and every document's file as
//! `<UUID>.pdf`, byte for byte as stored. The case becomes a `Vorgang`
//! (Aktenzeichen, title, Laufzeit, parties as `Kontakt`, linked cases as
//! `Verweis`), its letters and uploads `Dokument`s, its journal
//! `HistorienProtokollInformation`. Every UUID is derived (UUID v5) from
//! stable ids (file number, document hash and time), so the same object has
//! the same UUID in every export; xdomea 3 has one message of a type per
//! process, so each case is a process of its own.
//!
//! Element names and order follow the official XSDs (xdomea-Baukasten,
//! -Nachrichten-AbgabeDurchfuehren, -Nachrichten-AussonderungDurchfuehren).
//! Pure: the caller reads the case.

use std::io::Write;

use chrono::DateTime;
use serde_json::Value;
use uuid::Uuid;

use crate::akte::CaseFile;
use crate::journal::{Event, EventKind};
use crate::workflow::Definition;

/// The namespace; the standard requires the prefix `xdomea`.
pub const NAMESPACE: &str = "urn:xoev-de:xdomea:schema:3.0.0";
/// Code list of message types and the version the 3.0.0 schema fixes.
pub const NACHRICHTENTYP_LIST: (&str, &str) =
    ("urn:xoev-de:xdomea:codeliste:nachrichtentyp", "2.0");
/// Code list of file formats, with the code written for PDF.
/// [unconfirmed] the code: 044 is what the Landesarchiv Thüringen's
/// xdomea 3.0.0 test messages write for a PDF (list version 1.0); the list
/// itself is published outside the schema.
pub const DATEIFORMAT_PDF: (&str, &str, &str) =
    ("urn:xoev-de:xdomea:codeliste:dateiformat", "1.0", "044");
/// Code list of media: 001 = electronic only.
pub const MEDIUM_ELEKTRONISCH: (&str, &str, &str) =
    ("urn:xoev-de:xdomea:codeliste:medium", "1.0", "001");
/// Code list of Aussonderungsarten (xdomea-Datentypen.xsd of 3.0.0, list
/// version 1.0 fixed there: A archivwürdig, B zum Bewerten markiert,
/// V vernichten), with the code amtspost writes: B. amtspost does not
/// appraise; the archive decides what it keeps. Both
/// messages carry it: 0503 must carry MetadatenAussonderung, 0401 hands
/// the Aussonderungsart over with the case (the schema's implementation
/// hints).
pub const AUSSONDERUNGSART_BEWERTEN: (&str, &str, &str) =
    ("urn:xoev-de:xdomea:codeliste:aussonderungsart", "1.0", "B");
/// Code list of record object types: 003 = Vorgang.
pub const SGOTYP_VORGANG: (&str, &str, &str) = (
    "urn:xoev-de:xdomea:codeliste:schriftgutobjekttyp",
    "1.0",
    "003",
);

/// Which message to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// 0401: hand-over to another authority or system.
    Abgabe,
    /// 0503: hand-over of a closed case to the archive.
    Aussonderung,
}

impl Message {
    /// The code in the Nachrichtentyp code list.
    pub fn code(self) -> &'static str {
        match self {
            Message::Abgabe => "0401",
            Message::Aussonderung => "0503",
        }
    }

    /// The code's description in the code list.
    pub fn code_name(self) -> &'static str {
        match self {
            Message::Abgabe => "Abgabe.Abgabe",
            Message::Aussonderung => "Aussonderung.Aussonderung",
        }
    }

    /// The root element, and the message's part of the file names.
    pub fn element(self) -> String {
        format!("{}.{}", self.code_name(), self.code())
    }
}

/// Who sends the message to whom.
#[derive(Debug, Clone)]
pub struct Header {
    /// The sending authority (the office's name).
    pub sender: String,
    /// The receiving authority or archive.
    pub recipient: String,
    /// When the message is made (RFC 3339).
    pub created_at: String,
}

/// A written message: its ZIP's name and bytes, and the UUIDs in it.
#[derive(Debug, Clone)]
pub struct Package {
    pub process_id: Uuid,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Why a message cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum XdomeaError {
    /// The archive takes closed cases only.
    #[error(
        "Der Vorgang {file_number} ist nicht abgeschlossen (Stand: {state}); ans Archiv wird nur ein abgeschlossener Vorgang ausgesondert"
    )]
    NotClosed { file_number: String, state: String },
    /// A document's bytes are not in the database.
    #[error("Der Vorgang {file_number}: die Datei des Dokuments {sha256} fehlt in der Datenbank")]
    MissingFile { file_number: String, sha256: String },
    /// The ZIP could not be written.
    #[error("xdomea-Paket: {0}")]
    Zip(String),
    /// No case has this file number.
    #[error("Es gibt keinen Vorgang {0}; `amtspost case list` zeigt die Aktenzeichen")]
    NotFound(String),
    /// Reading the case failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The case's workflow version could not be read.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// The namespace every UUID of amtspost's messages is derived in.
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:amtspost:xdomea")
}

fn derived(name: &str) -> Uuid {
    Uuid::new_v5(&namespace(), name.as_bytes())
}

/// The Vorgang's UUID: from its file number, the same in every message.
pub fn vorgang_id(file_number: &str) -> Uuid {
    derived(&format!("vorgang:{file_number}"))
}

/// The process of one message type on one case.
pub fn process_id(message: Message, file_number: &str) -> Uuid {
    derived(&format!("prozess:{}:{file_number}", message.code()))
}

/// A document's UUID and its file's, from the case, what it is (letter or
/// upload), the bytes' hash and when it was made; `n` counts documents
/// alike in all of these (the same file uploaded twice at once).
fn document_ids(file_number: &str, what: &str, sha256: &str, at: &str, n: usize) -> (Uuid, Uuid) {
    let key = format!("{file_number}:{what}:{sha256}:{at}:{n}");
    (
        derived(&format!("dokument:{key}")),
        derived(&format!("datei:{key}")),
    )
}

/// Writes the message's ZIP.
pub fn package(
    file: &CaseFile,
    def: &Definition,
    message: Message,
    header: &Header,
) -> Result<Package, XdomeaError> {
    let c = &file.case;
    let closed = def.state(&c.state).is_some_and(|s| s.is_final);
    if message == Message::Aussonderung && !closed {
        return Err(XdomeaError::NotClosed {
            file_number: c.file_number.clone(),
            state: c.state.clone(),
        });
    }
    let process_id = process_id(message, &c.file_number);
    let stem = format!("{process_id}_{}", message.element());
    let documents = documents_of(file);
    let xml = message_xml(file, def, message, header, &documents);
    let zip_error = |e: &dyn std::fmt::Display| XdomeaError::Zip(e.to_string());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(format!("{stem}.xml"), options)
        .map_err(|e| zip_error(&e))?;
    zip.write_all(xml.as_bytes()).map_err(|e| zip_error(&e))?;
    for d in &documents {
        let bytes = file
            .blobs
            .get(&d.sha256)
            .ok_or_else(|| XdomeaError::MissingFile {
                file_number: c.file_number.clone(),
                sha256: d.sha256.clone(),
            })?;
        zip.start_file(d.file_name(), options)
            .map_err(|e| zip_error(&e))?;
        zip.write_all(bytes).map_err(|e| zip_error(&e))?;
    }
    let bytes = zip.finish().map_err(|e| zip_error(&e))?.into_inner();
    Ok(Package {
        process_id,
        file_name: format!("{stem}.zip"),
        bytes,
    })
}

/// A letter or an upload as a `Dokument`.
struct Doc {
    id: Uuid,
    file_id: Uuid,
    sha256: String,
    betreff: String,
    kennzeichen: Option<String>,
    typ: &'static str,
    /// Letters: the letter's date; uploads: the day received.
    date: String,
    letter: bool,
    original_name: String,
    creator: String,
    created_at: String,
    party: String,
    pdf_version: String,
    /// The file carries an electronic seal or signature (PAdES) in itself.
    sealed: bool,
}

impl Doc {
    fn file_name(&self) -> String {
        format!("{}.pdf", self.file_id)
    }
}

fn documents_of(file: &CaseFile) -> Vec<Doc> {
    let n = &file.case.file_number;
    let mut out = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut ids = |what: &str, sha: &str, at: &str| {
        let count = seen.entry(format!("{what}:{sha}:{at}")).or_default();
        *count += 1;
        document_ids(n, what, sha, at, *count)
    };
    for d in &file.documents {
        let (id, file_id) = ids("schreiben", &d.sha256, &d.created_at);
        out.push(Doc {
            id,
            file_id,
            sha256: d.sha256.clone(),
            betreff: crate::letter::title_of(&d.template),
            kennzeichen: d.reference.clone(),
            typ: "Ausgangsschreiben",
            date: d.letter_date.clone(),
            letter: true,
            original_name: format!("{}-{}.pdf", d.template, safe(n)),
            creator: "amtspost".into(),
            created_at: d.created_at.clone(),
            party: d.recipient.clone(),
            pdf_version: pdf_version(file.blobs.get(&d.sha256)),
            sealed: sealed(file.blobs.get(&d.sha256)),
        });
    }
    for u in &file.uploads {
        let (id, file_id) = ids("unterlage", &u.sha256, &u.uploaded_at);
        out.push(Doc {
            id,
            file_id,
            sha256: u.sha256.clone(),
            betreff: u.file_name.clone(),
            kennzeichen: None,
            typ: "Eingang (Portal)",
            date: berlin_date(&u.uploaded_at),
            letter: false,
            original_name: u.file_name.clone(),
            creator: u.uploaded_by.clone(),
            created_at: u.uploaded_at.clone(),
            party: u.party.clone(),
            pdf_version: pdf_version(file.blobs.get(&u.sha256)),
            sealed: sealed(file.blobs.get(&u.sha256)),
        });
    }
    out
}

/// Whether a PDF carries a signature of its own (a seal): its
/// `SignaturSiegelEingebettet`. Trust is the recipient's to check.
fn sealed(bytes: Option<&Vec<u8>>) -> bool {
    bytes.is_some_and(|b| !crate::seal::verify::verify_pdf(b, &[]).is_empty())
}

/// The version in a PDF's header (`%PDF-1.7` → `1.7`), empty if unreadable.
fn pdf_version(bytes: Option<&Vec<u8>>) -> String {
    bytes
        .and_then(|b| b.get(5..8))
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| v.len() == 3 && v.as_bytes()[1] == b'.')
        .unwrap_or_default()
        .to_string()
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The calendar day in Berlin of a stored UTC time (legal dates are Berlin's).
fn berlin_date(at: &str) -> String {
    DateTime::parse_from_rfc3339(at)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Berlin)
                .date_naive()
                .to_string()
        })
        .unwrap_or_default()
}

/// A small writer for the message: escaped text, indented elements, every
/// element in the `xdomea` namespace except the code lists' `code`/`name`.
struct Xml {
    out: String,
    open: Vec<String>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 has no other control characters than tab and line ends.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl Xml {
    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn start(&mut self, name: &str) {
        self.indent();
        self.out.push_str(&format!("<xdomea:{name}>\n"));
        self.open.push(name.to_string());
    }

    fn end(&mut self) {
        let name = self.open.pop().expect("an open element");
        self.indent();
        self.out.push_str(&format!("</xdomea:{name}>\n"));
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        self.out.push_str(&format!(
            "<xdomea:{name}>{}</xdomea:{name}>\n",
            escape(text)
        ));
    }

    /// A value of a code list (xoev-code:Code): `code` and, where the
    /// schema allows it, `name`, both unqualified.
    fn code(&mut self, element: &str, list: (&str, &str), code: &str, name: Option<&str>) {
        self.indent();
        self.out.push_str(&format!(
            "<xdomea:{element} listURI=\"{}\" listVersionID=\"{}\"><code>{}</code>",
            escape(list.0),
            escape(list.1),
            escape(code)
        ));
        if let Some(n) = name {
            self.out.push_str(&format!("<name>{}</name>", escape(n)));
        }
        self.out.push_str(&format!("</xdomea:{element}>\n"));
    }

    /// `Medium`: the object exists in electronic form only.
    fn electronic(&mut self) {
        let (list, version, code) = MEDIUM_ELEKTRONISCH;
        self.code("Medium", (list, version), code, None);
    }

    fn institution(&mut self, element: &str, name: &str) {
        self.start(element);
        self.start("Institution");
        self.leaf("Name", name);
        self.end();
        self.end();
    }
}

/// The message's XML.
fn message_xml(
    file: &CaseFile,
    def: &Definition,
    message: Message,
    header: &Header,
    documents: &[Doc],
) -> String {
    let c = &file.case;
    let root = message.element();
    let mut x = Xml {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        open: Vec::new(),
    };
    x.out
        .push_str(&format!("<xdomea:{root} xmlns:xdomea=\"{NAMESPACE}\">\n"));
    x.open.push(root.clone());

    // Kopf: NkAbgabeType / NkAussonderungType.
    x.start("Kopf");
    x.leaf(
        "ProzessID",
        &process_id(message, &c.file_number).to_string(),
    );
    x.code(
        "Nachrichtentyp",
        NACHRICHTENTYP_LIST,
        message.code(),
        Some(message.code_name()),
    );
    x.leaf("Erstellungszeitpunkt", &header.created_at);
    x.institution("Absender", &header.sender);
    x.institution("Empfaenger", &header.recipient);
    x.start("SendendesSystem");
    x.leaf("Produktname", "amtspost");
    x.leaf("Version", env!("CARGO_PKG_VERSION"));
    x.end();
    x.leaf("Importbestaetigung", "1");
    if message == Message::Aussonderung {
        x.leaf("RueckmeldungArchivkennung", "0");
    }
    x.leaf("Empfangsbestaetigung", "0");
    x.end();

    x.start("Schriftgutobjekt");
    vorgang(&mut x, file, def, documents);
    x.end();
    x.end();
    x.out
}

/// The case as a `Vorgang` (VorgangType, in the schema's order).
fn vorgang(x: &mut Xml, file: &CaseFile, def: &Definition, documents: &[Doc]) {
    let c = &file.case;
    let state = def.state(&c.state);
    let closed = state.is_some_and(|s| s.is_final);
    let end = berlin_date(&c.updated_at);
    x.start("Vorgang");
    x.start("Identifikation");
    x.leaf("ID", &vorgang_id(&c.file_number).to_string());
    x.end();
    x.start("AllgemeineMetadaten");
    x.leaf("Betreff", &betreff(file, def));
    x.leaf("Kennzeichen", &c.file_number);
    let status = state
        .and_then(|s| s.title.clone())
        .unwrap_or_else(|| c.state.clone());
    x.leaf(
        "Bemerkung",
        &format!(
            "Verfahren {} (Version {}), Stand: {status}",
            def.title, c.workflow_version
        ),
    );
    x.electronic();
    x.end();
    x.start("ArchivspezifischeMetadaten");
    x.start("Aussonderungsart");
    let (list, version, code) = AUSSONDERUNGSART_BEWERTEN;
    x.code("Aussonderungsart", (list, version), code, None);
    x.end();
    x.end();
    x.leaf("Typ", &def.title);
    x.leaf("ZdA", if closed { "1" } else { "0" });
    if closed {
        x.leaf("ZdADatum", &end);
    }
    x.start("Laufzeit");
    x.leaf("Beginn", &berlin_date(&c.opened_at));
    if closed {
        x.leaf("Ende", &end);
    }
    x.end();
    for e in &file.journal {
        history(x, def, e);
    }
    for (i, d) in documents.iter().enumerate() {
        dokument(x, d, i + 1);
    }
    for link in &def.links {
        if let Some(other) = c.data.get(&link.field).and_then(Value::as_str) {
            x.start("Verweis");
            x.leaf("ID", &vorgang_id(other).to_string());
            x.code(
                "SGOTyp",
                (SGOTYP_VORGANG.0, SGOTYP_VORGANG.1),
                SGOTYP_VORGANG.2,
                Some("Vorgang"),
            );
            x.leaf("SGOKennzeichen", other);
            if let Some(basis) = &link.basis {
                x.leaf("Bemerkung", basis);
            }
            x.end();
        }
    }
    if let Some(parties) = c.parties.as_object() {
        for (role, p) in parties {
            kontakt(x, def, role, p);
        }
    }
    x.end();
}

/// The Vorgang's subject: the workflow's title and the first party.
fn betreff(file: &CaseFile, def: &Definition) -> String {
    let party = file
        .case
        .parties
        .as_object()
        .and_then(|p| p.values().next())
        .and_then(|p| p["name"].as_str());
    match party {
        Some(name) => format!("{} – {name}", def.title),
        None => def.title.clone(),
    }
}

/// A party as a `Kontakt` (KontaktType, in the schema's order).
fn kontakt(x: &mut Xml, def: &Definition, role: &str, p: &Value) {
    x.start("Kontakt");
    x.start("Institution");
    x.leaf("Name", p["name"].as_str().unwrap_or_default());
    x.end();
    if let Some(email) = p["email"].as_str() {
        x.start("Kommunikation");
        x.leaf("Kennung", email);
        x.leaf("Zusatz", "E-Mail");
        x.end();
    }
    x.indent();
    let title = def.roles.get(role).map(String::as_str);
    x.out.push_str(&format!(
        "<xdomea:Rolle><code>{}</code>{}</xdomea:Rolle>\n",
        escape(role),
        title
            .map(|t| format!("<name>{}</name>", escape(t)))
            .unwrap_or_default()
    ));
    let lines: Vec<&str> = p["address"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !lines.is_empty() {
        x.start("UnstrukturierteAnschrift");
        for (i, line) in lines.iter().take(6).enumerate() {
            x.leaf(&format!("Zeile{}", i + 1), line);
        }
        x.end();
    }
    x.end();
}

/// A journal event as `HistorienProtokollInformation`: who (and in which
/// role, for whom) did what, when.
fn history(x: &mut Xml, def: &Definition, e: &Event) {
    x.start("HistorienProtokollInformation");
    if e.kind == EventKind::Fired {
        x.leaf("MetadatumName", "Status");
        x.leaf(
            "MetadatumAlterWert",
            e.payload["from"].as_str().unwrap_or_default(),
        );
        x.leaf(
            "MetadatumNeuerWert",
            e.payload["to"].as_str().unwrap_or_default(),
        );
    }
    x.leaf("Akteur", &e.actor);
    x.leaf("DatumUhrzeit", &e.recorded_at);
    let role = def
        .roles
        .get(&e.role)
        .cloned()
        .unwrap_or_else(|| e.role.clone());
    let mut remark = format!("Rolle: {role}");
    if let Some(absent) = e.payload["on_behalf_of"].as_str() {
        remark.push_str(&format!("; in Vertretung für {absent}"));
    }
    remark.push_str(&format!("; Journal-Eintrag {} (SHA-256 {})", e.seq, e.hash));
    x.leaf("Bemerkung", &remark);
    x.leaf("Aktion", &action(def, e));
    x.end();
}

/// What an event did, in a clerk's words.
fn action(def: &Definition, e: &Event) -> String {
    let p = &e.payload;
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    match e.kind {
        EventKind::Opened => "Vorgang angelegt".into(),
        EventKind::Fired => {
            let t = e.transition.as_deref().unwrap_or_default();
            format!("Schritt „{}“", def.transition_title(t))
        }
        EventKind::NumberAllocated => format!("Nummer {} vergeben", s("number")),
        EventKind::DeadlineSet => format!("Frist {} gesetzt bis {}", s("deadline"), s("due")),
        EventKind::DeadlineMet => format!("Frist {} gewahrt", s("deadline")),
        EventKind::DeadlineCancelled => format!("Frist {} aufgehoben", s("deadline")),
        EventKind::DeadlineExpired => format!("Frist {} abgelaufen", s("deadline")),
        EventKind::LetterIssued => format!(
            "Schreiben erlassen: {}",
            crate::letter::title_of(&s("template"))
        ),
        EventKind::ReminderQueued => format!("Erinnerung zur Frist {}", s("deadline")),
        EventKind::MailQueued => "E-Mail versandt".into(),
        EventKind::FieldSet => format!("Feld {} berechnet", s("field")),
        EventKind::Assigned => format!("zugewiesen an {}", s("user")),
        EventKind::UploadReceived => format!("Unterlage eingegangen: {}", s("file_name")),
        EventKind::DocumentRetrieved => "Schreiben im Portal abgerufen".into(),
        EventKind::ProvisionEnded => "Bereitstellung beendet, Versand per Post".into(),
        EventKind::CircularRead => format!("Rundschreiben gelesen von {}", s("member")),
    }
}

/// A document (DokumentType, in the schema's order) with its one version
/// and file.
fn dokument(x: &mut Xml, d: &Doc, number: usize) {
    x.start("Dokument");
    x.start("Identifikation");
    x.leaf("ID", &d.id.to_string());
    x.leaf("NummerImUebergeordnetenContainer", &number.to_string());
    x.end();
    x.start("AllgemeineMetadaten");
    x.leaf("Betreff", &d.betreff);
    if let Some(k) = &d.kennzeichen {
        x.leaf("Kennzeichen", k);
    }
    x.electronic();
    x.end();
    if d.letter {
        x.leaf("Postausgangsdatum", &d.date);
        x.leaf("DatumDesSchreibens", &d.date);
    } else {
        x.leaf("Posteingangsdatum", &d.date);
    }
    x.leaf("Typ", d.typ);
    x.start("Version");
    x.leaf("Nummer", "1");
    x.start("Format");
    x.code(
        "Name",
        (DATEIFORMAT_PDF.0, DATEIFORMAT_PDF.1),
        DATEIFORMAT_PDF.2,
        None,
    );
    x.leaf("Version", &d.pdf_version);
    x.start("Primaerdokument");
    x.leaf("Dateiname", &d.file_name());
    x.leaf("DateinameOriginal", &d.original_name);
    x.leaf("Ersteller", &d.creator);
    x.leaf("DatumUhrzeit", &d.created_at);
    if d.sealed {
        x.start("SignaturSiegel");
        x.leaf("SignaturSiegelEingebettet", "1");
        x.end();
    }
    x.end();
    x.end();
    x.end();
    x.institution(if d.letter { "Empfaenger" } else { "Absender" }, &d.party);
    x.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_derived_not_random() {
        assert_eq!(vorgang_id("KI-2012-0001"), vorgang_id("KI-2012-0001"));
        assert_ne!(vorgang_id("KI-2012-0001"), vorgang_id("KI-2012-0002"));
        assert_ne!(
            process_id(Message::Abgabe, "KI-2012-0001"),
            process_id(Message::Aussonderung, "KI-2012-0001")
        );
        assert_eq!(vorgang_id("KI-2012-0001").get_version_num(), 5);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("a<b & \"c\">\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&gt; "
        );
    }

    #[test]
    fn the_pdf_version_comes_from_the_header() {
        assert_eq!(pdf_version(Some(&b"%PDF-1.7\n...".to_vec())), "1.7");
        assert_eq!(pdf_version(Some(&b"junk".to_vec())), "");
        assert_eq!(pdf_version(None), "");
    }
}
