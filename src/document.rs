//! Issued documents: PDFs stored content-addressed in the database, in the
//! same transaction as the transition that issues them (see
//! `Tx::insert_document`), so any instance can attach them to a mail and a
//! failed transaction leaves nothing behind.
//!
//! [`Documents`] reads them back, checks every stored PDF against its hash,
//! writes them out as files a person can find by name, and imports the
//! files of a database from before documents lived in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::FileNumber;
use crate::store::{DocumentRow, Store, StoreError};

/// Why a document could not be read, exported or imported.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A recorded document has no bytes in the database.
    #[error("document {sha256} is recorded but its PDF is missing from the database")]
    Missing { sha256: String },
    /// A seal check stopped (its task crashed).
    #[error("seal check: {0}")]
    Seal(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What `verify` found for one stored PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileCheck {
    Ok,
    Missing,
    /// The content no longer hashes to the recorded SHA-256.
    Altered {
        actual: String,
    },
    /// The hash matches, but a seal of the PDF is not valid (broken,
    /// untrusted, or not covering the document): the German findings.
    SealInvalid {
        problems: Vec<String>,
    },
}

/// One problem found by [`Documents::verify`].
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub document: i64,
    pub sha256: String,
    pub check: FileCheck,
}

/// What [`Documents::verify`] checked.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub documents: usize,
    /// How many distinct PDFs carry a seal (each one checked).
    pub sealed: usize,
    pub problems: Vec<Problem>,
}

/// What [`Documents::import_files`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub imported: usize,
    /// Hashes with no file, or a file whose content does not match.
    pub not_found: Vec<String>,
}

/// The issued documents, over the store.
#[derive(Clone)]
pub struct Documents {
    store: Store,
}

impl Documents {
    pub fn new(store: Store) -> Documents {
        Documents { store }
    }

    /// The PDF with this hash.
    pub async fn bytes(&self, sha256: &str) -> Result<Vec<u8>, DocumentError> {
        self.store
            .document_bytes(sha256)
            .await?
            .ok_or_else(|| DocumentError::Missing {
                sha256: sha256.into(),
            })
    }

    /// Where a PDF was issued: each document row with its case's file number.
    pub async fn owners(
        &self,
        sha256: &str,
    ) -> Result<Vec<(FileNumber, DocumentRow)>, DocumentError> {
        Ok(self.store.documents_by_sha256(sha256).await?)
    }

    /// Recomputes the hash of every recorded document's PDF and checks
    /// every seal against the trusted roots `anchors` (DER).
    pub async fn verify(&self, anchors: &[Vec<u8>]) -> Result<VerifyReport, DocumentError> {
        let docs = self.store.documents(None).await?;
        let mut sealed = 0;
        let mut problems = Vec::new();
        let mut checked = BTreeSet::new();
        for d in &docs {
            if !checked.insert(d.sha256.clone()) {
                continue;
            }
            let check = match self.store.document_bytes(&d.sha256).await? {
                None => FileCheck::Missing,
                Some(bytes) => {
                    let actual = hex::encode(Sha256::digest(&bytes));
                    if actual == d.sha256 {
                        let anchors = anchors.to_vec();
                        let seals = tokio::task::spawn_blocking(move || {
                            crate::seal::verify::verify_pdf(&bytes, &anchors)
                        })
                        .await
                        .map_err(|e| DocumentError::Seal(e.to_string()))?;
                        sealed += usize::from(!seals.is_empty());
                        let broken: Vec<String> = seals
                            .iter()
                            .filter(|r| !r.valid())
                            .flat_map(|r| r.problems.iter().cloned())
                            .collect();
                        if seals.iter().all(|r| r.valid()) {
                            FileCheck::Ok
                        } else {
                            FileCheck::SealInvalid { problems: broken }
                        }
                    } else {
                        FileCheck::Altered { actual }
                    }
                }
            };
            if check != FileCheck::Ok {
                problems.push(Problem {
                    document: d.id,
                    sha256: d.sha256.clone(),
                    check,
                });
            }
        }
        Ok(VerifyReport {
            documents: docs.len(),
            sealed,
            problems,
        })
    }

    /// Writes the documents of one case, or of all cases, under `out`, one
    /// folder per file number (see [`export_path`]). Returns the paths written.
    pub async fn export(
        &self,
        out: &Path,
        file_number: Option<&str>,
    ) -> Result<Vec<PathBuf>, DocumentError> {
        let docs = self.store.documents_with_file_numbers(file_number).await?;
        let mut written = Vec::new();
        let mut taken = BTreeSet::new();
        for (number, doc) in docs {
            let bytes = self.bytes(&doc.sha256).await?;
            let mut rel = export_path(&number, &doc);
            // Two letters of one template on one day: number them.
            let mut n = 2;
            while !taken.insert(rel.clone()) {
                rel = export_path(&number, &doc).with_file_name(format!(
                    "{}_{n}.pdf",
                    export_path(&number, &doc)
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("dokument")
                ));
                n += 1;
            }
            let path = out.join(&rel);
            let io = |path: &Path| {
                let path = path.to_path_buf();
                move |source| DocumentError::Io { path, source }
            };
            let dir = path.parent().expect("a file number folder");
            tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
            tokio::fs::write(&path, &bytes).await.map_err(io(&path))?;
            written.push(path);
        }
        Ok(written)
    }

    /// Imports the PDFs of documents recorded without bytes from a folder
    /// of the old layout (`<dir>/<ab>/<sha256>.pdf`), each checked against
    /// its hash. Runs at start-up; a database that has all its bytes costs
    /// one query.
    pub async fn import_files(&self, dir: &Path) -> Result<ImportReport, DocumentError> {
        let mut report = ImportReport::default();
        for sha256 in self.store.documents_without_bytes().await? {
            let path = dir
                .join(&sha256[..2.min(sha256.len())])
                .join(format!("{sha256}.pdf"));
            match tokio::fs::read(&path).await {
                Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == sha256 => {
                    self.store.put_document_bytes(&sha256, &bytes).await?;
                    report.imported += 1;
                }
                _ => report.not_found.push(sha256),
            }
        }
        Ok(report)
    }
}

/// Where a document goes in an export: `<file number>/<letter date>_<template>[_<reference>].pdf`,
/// e.g. `KI-2012-0001/2012-10-15_zuwendungsbescheid_36.KI-2012-001.pdf`.
pub fn export_path(file_number: &FileNumber, doc: &DocumentRow) -> PathBuf {
    let mut name = format!("{}_{}", doc.letter_date, doc.template);
    if let Some(r) = &doc.reference {
        name.push('_');
        name.push_str(r);
    }
    PathBuf::from(file_name_safe(file_number)).join(format!("{}.pdf", file_name_safe(&name)))
}

/// Keeps letters, digits, `-`, `_` and `.`; anything else (a `/` in a
/// notice number such as `172/12`) becomes `-`.
fn file_name_safe(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CaseId;

    fn doc(template: &str, date: &str, reference: Option<&str>) -> DocumentRow {
        DocumentRow {
            id: 1,
            case_id: CaseId(1),
            template: template.into(),
            template_hash: String::new(),
            data_hash: String::new(),
            sha256: "ab".repeat(32),
            size_bytes: 0,
            pages: 1,
            recipient: "Kreis Unna".into(),
            letter_date: date.into(),
            created_at: String::new(),
            reference: reference.map(Into::into),
        }
    }

    #[test]
    fn exported_names_are_found_by_file_number_date_and_notice_number() {
        let n = FileNumber::from("KI-2012-0001");
        assert_eq!(
            export_path(
                &n,
                &doc("zuwendungsbescheid", "2012-10-15", Some("36.KI-2012-001"))
            ),
            PathBuf::from("KI-2012-0001/2012-10-15_zuwendungsbescheid_36.KI-2012-001.pdf")
        );
        assert_eq!(
            export_path(&n, &doc("eingangsbestaetigung", "2012-05-03", None)),
            PathBuf::from("KI-2012-0001/2012-05-03_eingangsbestaetigung.pdf")
        );
    }

    #[test]
    fn a_slash_in_a_number_never_makes_a_folder() {
        let n = FileNumber::from("RS-2012-0001");
        assert_eq!(
            export_path(&n, &doc("rundschreiben", "2012-03-19", Some("172/12"))),
            PathBuf::from("RS-2012-0001/2012-03-19_rundschreiben_172-12.pdf")
        );
        assert_eq!(file_name_safe("../x"), "-x");
    }
}
