//! Who signs: one interface for a key file here and a signing service far
//! away. A [`Signer`] names its certificates (the seal certificate first)
//! before the signed attributes are built (they carry the certificate's
//! hash), then signs them; a remote signer sends only their SHA-256.

use std::path::Path;

use async_trait::async_trait;
use const_oid::db::rfc5912;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use spki::AlgorithmIdentifierOwned;

use super::SealError;

/// The kind of key a seal is made with; it decides the CMS signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaSha256,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256Sha256,
}

impl KeyAlgorithm {
    /// The SignerInfo's signatureAlgorithm.
    pub fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        match self {
            KeyAlgorithm::RsaSha256 => AlgorithmIdentifierOwned {
                oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                parameters: Some(der::Any::null()),
            },
            KeyAlgorithm::EcdsaP256Sha256 => AlgorithmIdentifierOwned {
                oid: rfc5912::ECDSA_WITH_SHA_256,
                parameters: None,
            },
        }
    }

    /// The OID a CSC service expects as `signAlgo`.
    pub fn oid(self) -> &'static str {
        match self {
            KeyAlgorithm::RsaSha256 => "1.2.840.113549.1.1.11",
            KeyAlgorithm::EcdsaP256Sha256 => "1.2.840.10045.4.3.2",
        }
    }
}

impl KeyAlgorithm {
    /// The algorithm for the key of this certificate (DER).
    pub fn of_certificate(der: &[u8]) -> Result<KeyAlgorithm, SealError> {
        let cert = <x509_cert::Certificate as der::Decode>::from_der(der)?;
        let oid = cert.tbs_certificate.subject_public_key_info.algorithm.oid;
        if oid == rfc5912::RSA_ENCRYPTION {
            Ok(KeyAlgorithm::RsaSha256)
        } else if oid == rfc5912::ID_EC_PUBLIC_KEY {
            Ok(KeyAlgorithm::EcdsaP256Sha256)
        } else {
            Err(SealError::Signing(format!(
                "Schlüsselalgorithmus {oid} wird nicht unterstützt (RSA oder ECDSA P-256)"
            )))
        }
    }
}

/// What a signer signs with: its certificates and its algorithm.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The seal certificate first, then its issuers (DER).
    pub chain: Vec<Vec<u8>>,
    pub algorithm: KeyAlgorithm,
}

/// Makes seal signatures: the credential first, then signatures.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The certificates and algorithm (a remote signer asks once).
    async fn credential(&self) -> Result<Credential, SealError>;
    /// Signs `tbs` (the DER of the signed attributes) with SHA-256.
    async fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SealError>;
}

/// A private key held in memory (from a PKCS#12 file or made by the demo).
pub enum LocalKey {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

impl LocalKey {
    /// Reads a PKCS#8 private key (RSA or ECDSA P-256).
    pub fn from_pkcs8(der: &[u8]) -> Result<LocalKey, String> {
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            return Ok(LocalKey::Rsa(k));
        }
        EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der,
            &SystemRandom::new(),
        )
        .map(LocalKey::Ecdsa)
        .map_err(|e| format!("der Schlüssel ist weder RSA (≥ 2048 Bit) noch ECDSA P-256 ({e})"))
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            LocalKey::Rsa(_) => KeyAlgorithm::RsaSha256,
            LocalKey::Ecdsa(_) => KeyAlgorithm::EcdsaP256Sha256,
        }
    }

    /// The public key's bits as a certificate carries them.
    pub fn public_key(&self) -> &[u8] {
        match self {
            LocalKey::Rsa(k) => k.public().as_ref(),
            LocalKey::Ecdsa(k) => k.public_key().as_ref(),
        }
    }

    pub fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SealError> {
        let rng = SystemRandom::new();
        match self {
            LocalKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, tbs, &mut sig)
                    .map_err(|e| SealError::Signing(e.to_string()))?;
                Ok(sig)
            }
            LocalKey::Ecdsa(k) => Ok(k
                .sign(&rng, tbs)
                .map_err(|e| SealError::Signing(e.to_string()))?
                .as_ref()
                .to_vec()),
        }
    }
}

/// A seal key and its certificates in memory.
pub struct KeySigner {
    key: LocalKey,
    chain: Vec<Vec<u8>>,
}

impl KeySigner {
    pub fn new(key: LocalKey, chain: Vec<Vec<u8>>) -> KeySigner {
        KeySigner { key, chain }
    }
}

#[async_trait]
impl Signer for KeySigner {
    async fn credential(&self) -> Result<Credential, SealError> {
        Ok(Credential {
            chain: self.chain.clone(),
            algorithm: self.key.algorithm(),
        })
    }

    async fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SealError> {
        self.key.sign(tbs)
    }
}

impl KeySigner {
    /// Mode `pkcs12`: opens the file with its password; the first key
    /// entry is the seal's.
    pub fn from_pkcs12(path: &Path, password: &str) -> Result<KeySigner, SealError> {
        let key_error = |reason: String| SealError::KeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| key_error(e.to_string()))?;
        let store = p12_keystore::KeyStore::from_pkcs12(&bytes, password)
            .map_err(|e| key_error(format!("nicht lesbar oder falsches Passwort ({e})")))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| key_error("enthält keinen privaten Schlüssel".into()))?;
        let key = LocalKey::from_pkcs8(chain.key()).map_err(key_error)?;
        let certs: Vec<Vec<u8>> = chain.chain().iter().map(|c| c.as_der().to_vec()).collect();
        let leaf = certs
            .first()
            .ok_or_else(|| key_error("enthält kein Zertifikat zum Schlüssel".into()))?;
        let cert = <x509_cert::Certificate as der::Decode>::from_der(leaf)?;
        let public = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        if public != key.public_key() {
            return Err(key_error(
                "das erste Zertifikat gehört nicht zum Schlüssel".into(),
            ));
        }
        Ok(KeySigner::new(key, certs))
    }
}
