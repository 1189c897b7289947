//! The document store: issued PDFs in a folder, each named by its SHA-256,
//! so a file can be checked against its name and the database at any time.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a document could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The folder or file could not be written or read.
    #[error("document store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

static TEMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A folder of content-addressed files: `<dir>/<ab>/<abcdef…>.pdf`.
#[derive(Debug, Clone)]
pub struct DocumentStore {
    dir: PathBuf,
}

/// What `verify` found for one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileCheck {
    Ok,
    Missing,
    /// The content no longer hashes to the file's name.
    Altered {
        actual: String,
    },
}

impl DocumentStore {
    pub fn new(dir: impl Into<PathBuf>) -> DocumentStore {
        DocumentStore { dir: dir.into() }
    }

    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(format!("{sha256}.pdf"))
    }

    /// Writes a file under its hash (temp file + rename, so a reader never
    /// sees half a file). Returns `true` if it was not there before.
    /// Blocking: call it off the async executor (the engine does, in the
    /// same blocking task that renders the letter).
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<bool, DocumentError> {
        let path = self.path_of(sha256);
        if path.exists() {
            return Ok(false);
        }
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| DocumentError::Io { path: p, source }
        };
        let parent = path.parent().expect("hash folder");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        // Unique per write: two transactions may store the same letter at once;
        // renaming over a file another writer just stored is fine (same content).
        let n = TEMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent.join(format!(".{sha256}.{}.{n}.tmp", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(true)
    }

    pub async fn read(&self, sha256: &str) -> Result<Vec<u8>, DocumentError> {
        let path = self.path_of(sha256);
        tokio::fs::read(&path)
            .await
            .map_err(|source| DocumentError::Io { path, source })
    }

    /// Recomputes a stored file's hash.
    pub async fn verify(&self, sha256: &str) -> FileCheck {
        match tokio::fs::read(self.path_of(sha256)).await {
            Err(_) => FileCheck::Missing,
            Ok(bytes) => {
                let actual = hex::encode(Sha256::digest(&bytes));
                if actual == sha256 {
                    FileCheck::Ok
                } else {
                    FileCheck::Altered { actual }
                }
            }
        }
    }
}
