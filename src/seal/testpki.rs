//! A throwaway test PKI for the demo and for tests: a root CA and a seal
//! certificate (ECDSA P-256, made in milliseconds with `rcgen`), both
//! clearly named „Testsiegel – nicht für den Echtbetrieb“. Nobody should
//! trust these beyond a demo run; the root is written out so a newcomer can
//! check the demo's notices with `pdfsig`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::SealError;
use super::signer::{KeySigner, LocalKey};

/// The name every test certificate carries.
pub const TEST_SEAL_NAME: &str = "Testsiegel – nicht für den Echtbetrieb";

/// A root CA and a seal certificate with its key.
pub struct TestPki {
    /// The root certificate, PEM (for `pdfsig`'s NSS database, trust anchors).
    pub root_pem: String,
    pub root_der: Vec<u8>,
    /// The seal certificate, DER.
    pub seal_der: Vec<u8>,
    /// The seal's private key, PKCS#8 DER.
    pub seal_key_der: Vec<u8>,
}

fn rcgen_error(e: rcgen::Error) -> SealError {
    SealError::Signing(format!("Test-PKI: {e}"))
}

impl TestPki {
    /// Makes a root CA named after `office` and a seal certificate under it,
    /// valid from 2000 until ten years from now (the demo seals its letters
    /// in simulated time, years back).
    pub fn generate(office: &str) -> Result<TestPki, SealError> {
        let now = time::OffsetDateTime::now_utc();
        let mut root = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        root.distinguished_name = name(&format!("{TEST_SEAL_NAME} – Wurzel-CA"), office);
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        root.not_before = rcgen::date_time_ymd(2000, 1, 1);
        root.not_after = now + time::Duration::days(3650);
        let root_key = KeyPair::generate().map_err(rcgen_error)?;
        let root_cert = root.self_signed(&root_key).map_err(rcgen_error)?;

        let mut seal = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        seal.distinguished_name = name(TEST_SEAL_NAME, office);
        seal.is_ca = IsCa::ExplicitNoCa;
        seal.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        seal.not_before = rcgen::date_time_ymd(2000, 1, 1);
        seal.not_after = now + time::Duration::days(3650);
        seal.use_authority_key_identifier_extension = true;
        let seal_key = KeyPair::generate().map_err(rcgen_error)?;
        let issuer = Issuer::new(root, root_key);
        let seal_cert = seal.signed_by(&seal_key, &issuer).map_err(rcgen_error)?;
        Ok(TestPki {
            root_pem: root_cert.pem(),
            root_der: root_cert.der().to_vec(),
            seal_der: seal_cert.der().to_vec(),
            seal_key_der: seal_key.serialize_der(),
        })
    }

    /// A signer over the seal key, with the seal certificate and the root.
    pub fn signer(&self) -> Result<KeySigner, SealError> {
        let key = LocalKey::from_pkcs8(&self.seal_key_der).map_err(SealError::Signing)?;
        Ok(KeySigner::new(
            key,
            vec![self.seal_der.clone(), self.root_der.clone()],
        ))
    }
}

impl TestPki {
    /// The seal key with its chain as a PKCS#12 file (PBES2/AES-256, as
    /// OpenSSL 3 writes them), for mode `pkcs12`.
    pub fn to_pkcs12(&self, password: &str) -> Result<Vec<u8>, SealError> {
        let cert = |der: &[u8]| {
            p12_keystore::Certificate::from_der(der).map_err(|e| SealError::Asn1(e.to_string()))
        };
        let chain = p12_keystore::PrivateKeyChain::new(
            &self.seal_key_der,
            b"seal",
            [cert(&self.seal_der)?, cert(&self.root_der)?],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("seal", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store
            .writer(password)
            .write()
            .map_err(|e| SealError::Asn1(e.to_string()))
    }
}

#[cfg(test)]
impl TestPki {
    /// Seals `pdf` at B-B with this test seal at `at`, blocking (for the
    /// synchronous unit tests).
    pub(crate) fn seal_blocking(&self, pdf: Vec<u8>, at: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
        let sealer = super::Sealer::with_signer(
            std::sync::Arc::new(self.signer().unwrap()),
            &super::SealConfig::default(),
        )
        .unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(sealer.seal(pdf, at))
            .unwrap()
    }
}

fn name(common_name: &str, office: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "DE");
    dn.push(DnType::OrganizationName, office);
    dn.push(DnType::CommonName, common_name);
    dn
}
