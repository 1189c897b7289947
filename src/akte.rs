//! The Akte: one case's complete file as a zip archive, for handing a case to
//! another office or an archive and for restoring it. It holds the case's
//! data, its journal, its deadlines (with the reminders already sent), its
//! letters and uploads, the workflow version it runs on, and a manifest with
//! the SHA-256 of every part.
//!
//! Reading an Akte verifies all of it before anything is stored: every part
//! against the manifest, the journal's hash chain against the case's head
//! hash, every letter against its `letter_issued` event, every upload
//! against its row. A tampered file is refused with the first broken item
//! named. Pure: the store reads and writes the rows.
//!
//! The journal's hashes cover the case's id, so an imported case keeps its
//! id; the mail history stays in the outbox it was sent from.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::journal::{self, Event};

mod difference;
pub use difference::{Difference, first_difference};

/// What the manifest says the archive is.
pub const FORMAT: &str = "amtspost-akte";
/// The layout's version; a reader refuses a newer one.
pub const FORMAT_VERSION: u32 = 1;

/// Why an Akte could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AkteError {
    /// The bytes are not a zip archive, or one of its entries is unreadable.
    #[error("{file}: not a readable Akte (zip archive): {detail}")]
    Archive { file: String, detail: String },
    /// No case has this file number.
    #[error("there is no case {0}; `amtspost case list` shows the file numbers")]
    NotFound(String),
    /// Reading or writing the database failed, or it refused the case.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// One item does not hold: the first one found, named.
    #[error(
        "{file}: {item}: {reason}; the Akte was changed after its export or is damaged, and nothing was imported"
    )]
    Broken {
        file: String,
        item: String,
        reason: String,
    },
}

/// The case row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: i64,
    pub file_number: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub state: String,
    pub data: Map<String, Value>,
    pub parties: Value,
    pub version: i64,
    pub last_seq: i64,
    pub head_hash: String,
    pub opened_at: String,
    pub updated_at: String,
}

/// The workflow version the case runs on (its source, as published).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionRecord {
    pub workflow_id: String,
    pub version: i64,
    pub content_hash: String,
    pub path: String,
    pub registered_at: String,
    /// Not in `akte.json`: the archive carries it as `verfahren.toml`.
    #[serde(skip)]
    pub source: String,
}

/// A deadline with the reminders already sent for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadlineRecord {
    pub name: String,
    pub title: String,
    pub due_date: String,
    pub status: String,
    pub set_at: String,
    pub closed_at: Option<String>,
    pub legal_basis: Option<String>,
    pub explanation: Value,
    pub reminders: Vec<ReminderRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderRecord {
    pub step: String,
    pub recipient: String,
    pub due_date: String,
    pub status: String,
    pub created_at: String,
}

/// An issued letter's row; its PDF is the archive entry `file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub template: String,
    pub template_hash: String,
    pub data_hash: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub recipient: String,
    pub letter_date: String,
    pub created_at: String,
    pub reference: Option<String>,
    #[serde(default)]
    pub file: String,
}

/// An upload's row; its file is the archive entry `file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub sha256: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub pages: i64,
    pub uploaded_by: String,
    pub party: String,
    pub uploaded_at: String,
    #[serde(default)]
    pub file: String,
}

/// A mail the outbox queued for the case, with how its delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailRecord {
    pub message_id: String,
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Value,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

/// A letter provided in the portal for retrieval, and what became of it:
/// the same record the replay rebuilds from the journal.
pub use crate::journal::replay::ReplayedProvision as ProvisionRecord;

/// A circular delivered to a member, with its read receipt: the same
/// record the replay rebuilds from the journal.
pub use crate::journal::replay::ReplayedDelivery as DeliveryRecord;

/// One case's complete file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    pub case: CaseRecord,
    pub definition: DefinitionRecord,
    pub journal: Vec<Event>,
    pub deadlines: Vec<DeadlineRecord>,
    pub documents: Vec<DocumentRecord>,
    pub uploads: Vec<UploadRecord>,
    /// The outbox's mail of the case, the portal's provisions and read
    /// receipts; `None` in an Akte written before they were part of it.
    pub history: Option<History>,
    /// The bytes of every letter and upload, by SHA-256.
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// What the outbox and the portal hold of a case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub mail: Vec<MailRecord>,
    pub provisions: Vec<ProvisionRecord>,
    pub deliveries: Vec<DeliveryRecord>,
}

/// `akte.json`: everything but the journal and the files.
#[derive(Serialize, Deserialize)]
struct AkteJson {
    case: CaseRecord,
    definition: DefinitionRecord,
    deadlines: Vec<DeadlineRecord>,
    documents: Vec<DocumentRecord>,
    uploads: Vec<UploadRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history: Option<History>,
}

/// `manifest.json`.
#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    file_number: String,
    exported_at: String,
    exported_by: String,
    /// The journal's last hash: compare it with `audit verify` of the source.
    head_hash: String,
    files: Vec<ManifestEntry>,
}

#[derive(Serialize, Deserialize)]
struct ManifestEntry {
    path: String,
    sha256: String,
    bytes: u64,
}

/// The largest part of an Akte (a letter, an upload, the journal).
const MAX_ENTRY_BYTES: u64 = 256 << 20;
/// All parts together.
const MAX_TOTAL_BYTES: u64 = 2 << 30;
/// How much more than its stored size a part may inflate to: PDFs and
/// JSON compress a few times, a zip bomb thousands of times.
const MAX_RATIO: u64 = 100;

const MANIFEST: &str = "manifest.json";
const AKTE: &str = "akte.json";
const JOURNAL: &str = "journal.json";
const SOURCE: &str = "verfahren.toml";

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file name that is safe inside the archive on every system (the one
/// rule for file names made from data, shared with the Serienbrief).
fn safe_name(s: &str) -> String {
    crate::letter::series::file_stem(s)
}

/// Writes the Akte as a zip archive (`exported_at` in RFC 3339).
pub fn write(file: &CaseFile, exported_at: &str) -> Result<Vec<u8>, AkteError> {
    let archive_error = |e: &dyn std::fmt::Display| AkteError::Archive {
        file: "akte.zip".into(),
        detail: e.to_string(),
    };
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut documents = file.documents.clone();
    for (i, d) in documents.iter_mut().enumerate() {
        let label = d.reference.clone().unwrap_or_else(|| d.template.clone());
        d.file = format!("dokumente/{:03}-{}.pdf", i + 1, safe_name(&label));
        let bytes = blob(file, &d.sha256)?;
        parts.push((d.file.clone(), bytes));
    }
    let mut uploads = file.uploads.clone();
    for (i, u) in uploads.iter_mut().enumerate() {
        u.file = format!("uploads/{:03}-{}", i + 1, safe_name(&u.file_name));
        let bytes = blob(file, &u.sha256)?;
        parts.push((u.file.clone(), bytes));
    }
    let akte = AkteJson {
        case: file.case.clone(),
        definition: file.definition.clone(),
        deadlines: file.deadlines.clone(),
        documents,
        uploads,
        history: file.history.clone(),
    };
    let mut head = vec![
        (AKTE.to_string(), pretty(&akte)),
        (JOURNAL.to_string(), pretty(&file.journal)),
        (
            SOURCE.to_string(),
            file.definition.source.as_bytes().to_vec(),
        ),
    ];
    head.append(&mut parts);
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        file_number: file.case.file_number.clone(),
        exported_at: exported_at.into(),
        exported_by: format!("amtspost {}", env!("CARGO_PKG_VERSION")),
        head_hash: file.case.head_hash.clone(),
        files: head
            .iter()
            .map(|(path, bytes)| ManifestEntry {
                path: path.clone(),
                sha256: sha256(bytes),
                bytes: bytes.len() as u64,
            })
            .collect(),
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in std::iter::once((MANIFEST.to_string(), pretty(&manifest))).chain(head) {
        zip.start_file(path, options)
            .map_err(|e| archive_error(&e))?;
        zip.write_all(&bytes).map_err(|e| archive_error(&e))?;
    }
    let cursor = zip.finish().map_err(|e| archive_error(&e))?;
    Ok(cursor.into_inner())
}

fn blob(file: &CaseFile, sha: &str) -> Result<Vec<u8>, AkteError> {
    file.blobs
        .get(sha)
        .cloned()
        .ok_or_else(|| AkteError::Broken {
            file: "akte.zip".into(),
            item: format!("document {sha}"),
            reason: "its bytes are missing from the database".into(),
        })
}

/// Pretty JSON with a final line end: the parts are for people too.
fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(v).expect("an Akte part serialises");
    bytes.push(b'\n');
    bytes
}

/// Reads and verifies an Akte; `name` (its file name) goes into every error.
pub fn read(bytes: &[u8], name: &str) -> Result<CaseFile, AkteError> {
    let archive_error = |detail: String| AkteError::Archive {
        file: name.into(),
        detail,
    };
    let broken = |item: &str, reason: String| AkteError::Broken {
        file: name.into(),
        item: item.into(),
        reason,
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| archive_error(e.to_string()))?;
    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| archive_error(format!("entry {}: {e}", i + 1)))?;
        let path = entry.name().to_string();
        // Nothing is inflated before it is known to be harmless: a name
        // that leaves the archive, a link, an entry larger than any part
        // of an Akte or one that inflates like a zip bomb is refused.
        if entry.enclosed_name().is_none() || path.starts_with('/') || path.contains('\\') {
            return Err(broken(
                &path,
                "its name leaves the archive (absolute path or `..`)".into(),
            ));
        }
        if entry.is_symlink() {
            return Err(broken(&path, "it is a link, not a file".into()));
        }
        if entry.is_dir() {
            continue;
        }
        let declared = entry.size();
        if declared > MAX_ENTRY_BYTES {
            return Err(broken(
                &path,
                format!(
                    "it inflates to {declared} bytes, more than the {MAX_ENTRY_BYTES} any part of an Akte may have"
                ),
            ));
        }
        if declared > 1 << 20 && declared / entry.compressed_size().max(1) > MAX_RATIO {
            return Err(broken(
                &path,
                format!("it inflates more than {MAX_RATIO} times its stored size (a zip bomb?)"),
            ));
        }
        total += declared;
        if total > MAX_TOTAL_BYTES {
            return Err(broken(
                &path,
                format!("the Akte inflates to more than {MAX_TOTAL_BYTES} bytes"),
            ));
        }
        let mut content = Vec::with_capacity(declared as usize);
        // The header's size can lie: read one byte more than it says.
        (&mut entry)
            .take(declared + 1)
            .read_to_end(&mut content)
            .map_err(|e| archive_error(format!("{path}: {e}")))?;
        if content.len() as u64 != declared {
            return Err(broken(
                &path,
                "it is longer or shorter than its header says".into(),
            ));
        }
        if entries.insert(path.clone(), content).is_some() {
            return Err(broken(&path, "it is in the archive twice".into()));
        }
        order.push(path);
    }

    // 1. The manifest, then every part against it, in its order.
    let manifest_bytes = entries
        .get(MANIFEST)
        .ok_or_else(|| broken(MANIFEST, "it is missing: this is not an Akte".into()))?;
    let manifest: Manifest = parse_json(manifest_bytes, name, MANIFEST)?;
    if manifest.format != FORMAT {
        return Err(broken(
            MANIFEST,
            format!("format is `{}`, not `{FORMAT}`", manifest.format),
        ));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(broken(
            MANIFEST,
            format!(
                "format version {} is newer than this amtspost reads ({FORMAT_VERSION}); update amtspost",
                manifest.format_version
            ),
        ));
    }
    let mut listed = BTreeSet::new();
    for m in &manifest.files {
        let content = entries.get(&m.path).ok_or_else(|| {
            broken(
                &m.path,
                "the manifest lists it, the archive does not hold it".into(),
            )
        })?;
        let actual = sha256(content);
        if actual != m.sha256 {
            return Err(broken(
                &m.path,
                format!("its SHA-256 is {actual}, the manifest says {}", m.sha256),
            ));
        }
        if content.len() as u64 != m.bytes {
            return Err(broken(
                &m.path,
                format!(
                    "it has {} bytes, the manifest says {}",
                    content.len(),
                    m.bytes
                ),
            ));
        }

        listed.insert(m.path.clone());
    }
    if let Some(extra) = order
        .iter()
        .find(|p| p.as_str() != MANIFEST && !listed.contains(*p))
    {
        return Err(broken(
            extra,
            "the archive holds it, the manifest does not list it".into(),
        ));
    }
    let part = |path: &str| {
        entries
            .get(path)
            .filter(|_| listed.contains(path))
            .ok_or_else(|| broken(path, "it is missing".into()))
    };

    // 2. The parts themselves.
    let akte: AkteJson = parse_json(part(AKTE)?, name, AKTE)?;
    let journal: Vec<Event> = parse_json(part(JOURNAL)?, name, JOURNAL)?;
    let source = String::from_utf8(part(SOURCE)?.clone())
        .map_err(|_| broken(SOURCE, "it is not UTF-8 text".into()))?;
    let mut definition = akte.definition;
    if sha256(source.as_bytes()) != definition.content_hash {
        return Err(broken(
            SOURCE,
            format!(
                "its SHA-256 is not the workflow version's content hash {}",
                definition.content_hash
            ),
        ));
    }
    definition.source = source;
    let case = akte.case;
    if manifest.file_number != case.file_number || manifest.head_hash != case.head_hash {
        return Err(broken(
            AKTE,
            "its case is not the one the manifest names (file number or head hash)".into(),
        ));
    }
    if (case.workflow_id.as_str(), case.workflow_version)
        != (definition.workflow_id.as_str(), definition.version)
    {
        return Err(broken(
            AKTE,
            "the case runs on another workflow version than the one enclosed".into(),
        ));
    }

    // 3. The journal's chain, ending at the case's head.
    if let Some(e) = journal.iter().find(|e| e.case_id != case.id) {
        return Err(broken(
            &format!("{JOURNAL}: event {}", e.seq),
            format!("it belongs to case id {}, not {}", e.case_id, case.id),
        ));
    }
    journal::verify(case.id, &journal, &case.head_hash).map_err(|b| {
        let e = journal.iter().find(|e| e.seq == b.seq);
        let what = e
            .map(|e| match &e.transition {
                Some(t) => format!("{} {t}", e.kind),
                None => e.kind.to_string(),
            })
            .unwrap_or_default();
        broken(&format!("{JOURNAL}: event {} ({what})", b.seq), b.reason)
    })?;
    if journal.len() as i64 != case.last_seq {
        return Err(broken(
            JOURNAL,
            format!(
                "it holds {} events, the case counts {}",
                journal.len(),
                case.last_seq
            ),
        ));
    }

    // 4. Letters and uploads: bytes, rows and events agree.
    let mut blobs = BTreeMap::new();
    let mut issued: Vec<String> = journal
        .iter()
        .filter(|e| e.kind == crate::journal::EventKind::LetterIssued)
        .filter_map(|e| e.payload["sha256"].as_str().map(str::to_owned))
        .collect();
    for d in &akte.documents {
        let bytes = part(&d.file)?;
        if sha256(bytes) != d.sha256 || bytes.len() as i64 != d.size_bytes {
            return Err(broken(
                &d.file,
                format!("it is not the letter {} the Akte records", d.sha256),
            ));
        }
        match issued.iter().position(|s| *s == d.sha256) {
            Some(i) => {
                issued.remove(i);
            }
            None => {
                return Err(broken(
                    &d.file,
                    "no letter_issued event in the journal records it".into(),
                ));
            }
        }
        blobs.insert(d.sha256.clone(), bytes.clone());
    }
    if let Some(sha) = issued.first() {
        return Err(broken(
            JOURNAL,
            format!("a letter_issued event records the letter {sha}, the Akte does not hold it"),
        ));
    }
    for u in &akte.uploads {
        let bytes = part(&u.file)?;
        if sha256(bytes) != u.sha256 || bytes.len() as i64 != u.size_bytes {
            return Err(broken(
                &u.file,
                format!("it is not the upload {} the Akte records", u.sha256),
            ));
        }
        blobs.insert(u.sha256.clone(), bytes.clone());
    }
    Ok(CaseFile {
        case,
        definition,
        journal,
        deadlines: akte.deadlines,
        documents: akte.documents,
        uploads: akte.uploads,
        history: akte.history,
        blobs,
    })
}

/// Checks that every datum of `file` is what replaying its journal under
/// `def` (its workflow version) gives: case data, state, version, parties,
/// deadlines, letters, uploads. A forged `akte.json` whose manifest was
/// made to match is refused here, naming the first item that differs.
pub fn verify_replay(
    file: &CaseFile,
    def: &crate::workflow::Definition,
    region: crate::deadline::Region,
    name: &str,
) -> Result<(), AkteError> {
    let broken = |item: String, reason: String| AkteError::Broken {
        file: name.into(),
        item,
        reason,
    };
    let replayed = journal::replay::replay(def, region, &file.journal)
        .map_err(|e| broken(format!("{JOURNAL}: event {} ({})", e.seq, e.what), e.reason))?;
    match first_difference(file, &replayed) {
        Some(d) => Err(broken(format!("{AKTE}: {}", d.item), d.reason)),
        None => Ok(()),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    file: &str,
    path: &str,
) -> Result<T, AkteError> {
    serde_json::from_slice(bytes).map_err(|e| AkteError::Broken {
        file: file.into(),
        item: format!("{path} line {} column {}", e.line(), e.column()),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
