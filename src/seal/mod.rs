//! Sealed letters: the office's electronic seal (PAdES) on issued notices,
//! so that any recipient, court or archive can check origin and integrity
//! with standard tools (RESEARCH.md §1, issue 26).
//!
//! The issuing step renders a letter, hands it to [`Sealer::seal`] and
//! stores what comes back: the signature goes into an incremental update
//! (the rendered PDF/A-2b + PDF/UA-1 bytes stay as they are), levels
//! B-B, B-T (a time-stamp from a TSA) and B-LT (certificates and revocation
//! data in a DSS, in a second update that leaves the signed bytes alone).
//! The key never has to be here: a [`signer::Signer`] gets the bytes to be
//! signed (a CSC service sees only their hash) and gives back the signature
//! and its certificates. [`verify`] checks sealed files, ours or anyone's.

pub mod cades;
pub mod csc;
pub mod pades;
pub mod revocation;
pub mod signer;
pub mod testpki;
pub mod timestamp;
pub mod verify;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use signer::Signer;

/// Why a letter could not be sealed or a seal not be checked. The messages
/// are read by clerks: German, and naming the service that failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The seal configuration is incomplete or contradicts itself.
    #[error("Siegel-Konfiguration: {0}")]
    Config(String),
    /// The key file could not be read or opened.
    #[error("Siegelschlüssel {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    /// A remote service (CSC signing service, TSA, OCSP, CRL) did not answer
    /// or answered with an error. Nothing was sealed or stored.
    #[error(
        "Der Dienst „{service}“ ({url}) ist nicht erreichbar oder hat einen Fehler gemeldet: {reason}. Es wurde nichts erlassen; der Schritt kann später erneut ausgeführt werden."
    )]
    Service {
        service: &'static str,
        url: String,
        reason: String,
    },
    /// The signature could not be made with the key.
    #[error("Die Siegelsignatur konnte nicht erstellt werden: {0}")]
    Signing(String),
    /// The PDF could not be read or written.
    #[error("PDF: {0}")]
    Pdf(String),
    /// An ASN.1 structure (certificate, CMS, time-stamp) could not be read or written.
    #[error("ASN.1: {0}")]
    Asn1(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SealError {
    /// True when a remote service failed: the step can be fired again later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, SealError::Service { .. })
    }
}

impl From<der::Error> for SealError {
    fn from(e: der::Error) -> Self {
        SealError::Asn1(e.to_string())
    }
}

impl From<lopdf::Error> for SealError {
    fn from(e: lopdf::Error) -> Self {
        SealError::Pdf(e.to_string())
    }
}

/// Who holds the seal's key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SealMode {
    /// Letters are not sealed.
    #[default]
    None,
    /// A PKCS#12 key file (small offices, tests).
    Pkcs12,
    /// A remote signing service (Cloud Signature Consortium API), where a
    /// qualified trust service provider keeps the key in its HSM.
    Csc,
}

/// The PAdES baseline level (ETSI EN 319 142-1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// The signature alone; its time is the claimed `/M`.
    #[default]
    #[serde(rename = "B-B")]
    BB,
    /// With a time-stamp from a TSA over the signature.
    #[serde(rename = "B-T")]
    BT,
    /// With certificates and revocation data (DSS) for long-term validation.
    #[serde(rename = "B-LT")]
    BLt,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::BB => "B-B",
            Level::BT => "B-T",
            Level::BLt => "B-LT",
        }
    }
}

/// `[seal]` of the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SealConfig {
    /// `none`, `pkcs12` or `csc`.
    pub mode: SealMode,
    /// The letter templates that are sealed (e.g. `["zuwendungsbescheid"]`);
    /// empty: every issued letter.
    pub letters: Vec<String>,
    /// `B-B`, `B-T` (needs `tsa_url`) or `B-LT`.
    pub level: Level,
    /// The PKCS#12 file of mode `pkcs12`.
    pub pkcs12: Option<PathBuf>,
    /// The environment variable holding the PKCS#12 password (never the
    /// password itself in a file).
    pub password_env: Option<String>,
    /// The signing service of mode `csc`.
    pub csc: csc::CscConfig,
    /// The time-stamping authority (RFC 3161) for B-T and B-LT.
    pub tsa_url: Option<String>,
    /// CRLs fetched for B-LT besides those the certificates point to.
    pub crl_urls: Vec<String>,
    /// An OCSP responder asked for the seal certificate instead of the one
    /// the certificate names.
    pub ocsp_url: Option<String>,
    /// Trusted root certificates (PEM or DER files) for `document verify`.
    pub trust_anchors: Vec<PathBuf>,
    /// How long a remote service may take, in seconds.
    pub timeout_seconds: u64,
}

impl Default for SealConfig {
    fn default() -> Self {
        Self {
            mode: SealMode::None,
            letters: Vec::new(),
            level: Level::BB,
            pkcs12: None,
            password_env: None,
            csc: csc::CscConfig::default(),
            tsa_url: None,
            crl_urls: Vec::new(),
            ocsp_url: None,
            trust_anchors: Vec::new(),
            timeout_seconds: 30,
        }
    }
}

/// Seals letters as configured: one signer, one level.
pub struct Sealer {
    signer: Arc<dyn Signer>,
    level: Level,
    letters: BTreeSet<String>,
    tsa_url: Option<String>,
    crl_urls: Vec<String>,
    ocsp_url: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("level", &self.level)
            .field("letters", &self.letters)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// The sealer of the configuration; `None` for mode `none`.
    pub fn from_config(cfg: &SealConfig) -> Result<Option<Sealer>, SealError> {
        let http = http_client(cfg.timeout_seconds)?;
        let signer: Arc<dyn Signer> = match cfg.mode {
            SealMode::None => return Ok(None),
            SealMode::Pkcs12 => {
                let path = cfg.pkcs12.clone().ok_or_else(|| {
                    SealError::Config("mode = \"pkcs12\" braucht `pkcs12 = \"…\"`".into())
                })?;
                let password = match &cfg.password_env {
                    Some(var) => std::env::var(var).map_err(|_| {
                        SealError::Config(format!(
                            "die Umgebungsvariable {var} (password_env) ist nicht gesetzt"
                        ))
                    })?,
                    None => String::new(),
                };
                Arc::new(signer::KeySigner::from_pkcs12(&path, &password)?)
            }
            SealMode::Csc => Arc::new(csc::CscSigner::new(cfg.csc.clone(), http.clone())?),
        };
        Ok(Some(Sealer::new(signer, cfg, http)))
    }

    /// A sealer over a signer made elsewhere (the demo's test seal, tests).
    pub fn with_signer(signer: Arc<dyn Signer>, cfg: &SealConfig) -> Result<Sealer, SealError> {
        Ok(Sealer::new(signer, cfg, http_client(cfg.timeout_seconds)?))
    }

    fn new(signer: Arc<dyn Signer>, cfg: &SealConfig, http: reqwest::Client) -> Sealer {
        Sealer {
            signer,
            level: cfg.level,
            letters: cfg.letters.iter().cloned().collect(),
            tsa_url: cfg.tsa_url.clone(),
            crl_urls: cfg.crl_urls.clone(),
            ocsp_url: cfg.ocsp_url.clone(),
            http,
        }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// Whether letters from this template are sealed.
    pub fn applies_to(&self, template: &str) -> bool {
        self.letters.is_empty() || self.letters.contains(template)
    }

    /// Seals a rendered PDF at `at`: the bytes to store. Fails, leaving
    /// nothing behind, when a service needed for the level is down.
    pub async fn seal(&self, pdf: Vec<u8>, at: DateTime<Utc>) -> Result<Vec<u8>, SealError> {
        let credential = self.signer.credential().await?;
        let certs = credential.chain;
        let leaf = certs
            .first()
            .ok_or_else(|| SealError::Signing("der Signierer nennt kein Zertifikat".into()))?
            .clone();
        let name = cades::subject_common_name(&leaf)?;
        let prepared =
            tokio::task::spawn_blocking(move || pades::prepare(&pdf, at, name.as_deref()))
                .await
                .map_err(|e| SealError::Pdf(e.to_string()))??;
        let digest: [u8; 32] = Sha256::new()
            .chain_update(prepared.signed_part_1())
            .chain_update(prepared.signed_part_2())
            .finalize()
            .into();
        let signed_attrs = cades::signed_attributes(&digest, &leaf)?;
        let tbs = cades::signed_attributes_der(&signed_attrs)?;
        let signature = self.signer.sign(&tbs).await?;
        let algorithm = credential.algorithm;
        let mut unsigned = Vec::new();
        if self.level >= Level::BT {
            let url = self.tsa_url.as_deref().ok_or_else(|| {
                SealError::Config(format!(
                    "level = \"{}\" braucht `tsa_url`",
                    self.level.name()
                ))
            })?;
            let token =
                timestamp::request(&self.http, url, &Sha256::digest(&signature).into()).await?;
            unsigned.push(token);
        }
        let cms = cades::signed_data(&certs, signed_attrs, algorithm, signature, unsigned)?;
        let mut sealed = prepared.embed(&cms)?;
        if self.level >= Level::BLt {
            let mut all = certs.clone();
            all.extend(cades::embedded_timestamp_certificates(&cms)?);
            let revinfo =
                revocation::collect(&self.http, &all, self.ocsp_url.as_deref(), &self.crl_urls)
                    .await?;
            sealed = tokio::task::spawn_blocking(move || pades::add_dss(&sealed, &all, &revinfo))
                .await
                .map_err(|e| SealError::Pdf(e.to_string()))??;
        }
        Ok(sealed)
    }
}

fn http_client(timeout_seconds: u64) -> Result<reqwest::Client, SealError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(timeout_seconds.max(1)))
        .build()
        .map_err(|e| SealError::Config(format!("HTTP-Client: {e}")))
}

/// Reads trusted root certificates from PEM or DER files.
pub fn load_certificates(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, SealError> {
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).map_err(|source| SealError::Io {
            path: p.clone(),
            source,
        })?;
        out.extend(certificates_from_pem_or_der(&bytes));
    }
    Ok(out)
}

/// The DER certificates in a PEM file (all of them), or the file itself if it is DER.
pub fn certificates_from_pem_or_der(bytes: &[u8]) -> Vec<Vec<u8>> {
    match pem::parse_many(bytes) {
        Ok(blocks) if !blocks.is_empty() => blocks
            .into_iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(pem::Pem::into_contents)
            .collect(),
        _ => vec![bytes.to_vec()],
    }
}

#[cfg(test)]
mod tests;
