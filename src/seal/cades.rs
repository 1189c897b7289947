//! The CMS side of a PAdES seal (CAdES, ETSI EN 319 122-1): the signed
//! attributes (content type, message digest, signing-certificate-v2, and
//! deliberately no signing time: PAdES puts the claimed time in `/M`), and
//! the detached SignedData with the certificates and, for B-T, the
//! time-stamp token as unsigned attribute. Built from the RustCrypto `cms`
//! and `x509-cert` types, so every structure is encoded by `der`.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc4519, rfc5911, rfc5912};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;

use super::SealError;
use super::signer::KeyAlgorithm;

/// id-aa-timeStampToken (RFC 3161 appendix A), the unsigned attribute of B-T.
pub const ID_AA_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// id-ct-TSTInfo, the content type of a time-stamp token.
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// ESSCertIDv2 (RFC 5035): the hash of the signer's certificate, so the
/// certificate cannot be swapped for another with the same key.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// SHA-256 is the DEFAULT and therefore left out.
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// IssuerSerial (RFC 5035).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: x509_cert::serial_number::SerialNumber,
}

/// SigningCertificateV2 (RFC 5035), without policies.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
}

fn sha256_id() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_SHA_256,
        parameters: None,
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SealError> {
    let mut values = SetOfVec::new();
    values.insert(value)?;
    Ok(Attribute { oid, values })
}

/// The signed attributes over the SHA-256 of the signed byte ranges.
pub fn signed_attributes(
    digest: &[u8; 32],
    leaf_der: &[u8],
) -> Result<SignedAttributes, SealError> {
    let leaf = Certificate::from_der(leaf_der)?;
    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(Sha256::digest(leaf_der).to_vec())?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    leaf.tbs_certificate.issuer.clone(),
                )],
                serial_number: leaf.tbs_certificate.serial_number.clone(),
            }),
        }],
    };
    let mut attrs = SetOfVec::new();
    attrs.insert(attribute(
        rfc5911::ID_CONTENT_TYPE,
        Any::encode_from(&rfc5911::ID_DATA)?,
    )?)?;
    attrs.insert(attribute(
        rfc5911::ID_MESSAGE_DIGEST,
        Any::encode_from(&OctetString::new(digest.to_vec())?)?,
    )?)?;
    attrs.insert(attribute(
        rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2,
        Any::encode_from(&signing_certificate)?,
    )?)?;
    Ok(attrs)
}

/// What the signature is computed over: the DER of the attributes as a SET OF.
pub fn signed_attributes_der(attrs: &SignedAttributes) -> Result<Vec<u8>, SealError> {
    Ok(attrs.to_der()?)
}

/// The detached SignedData as a ContentInfo, DER-encoded.
pub fn signed_data(
    chain: &[Vec<u8>],
    signed_attrs: SignedAttributes,
    algorithm: KeyAlgorithm,
    signature: Vec<u8>,
    unsigned: Vec<Vec<u8>>,
) -> Result<Vec<u8>, SealError> {
    let leaf = Certificate::from_der(
        chain
            .first()
            .ok_or_else(|| SealError::Signing("kein Zertifikat".into()))?,
    )?;
    let mut certificates = SetOfVec::new();
    for der in chain {
        certificates.insert(CertificateChoices::Certificate(Certificate::from_der(der)?))?;
    }
    let unsigned_attrs = if unsigned.is_empty() {
        None
    } else {
        let mut values = SetOfVec::new();
        for token in unsigned {
            values.insert(Any::from_der(&token)?)?;
        }
        let mut set = SetOfVec::new();
        set.insert(Attribute {
            oid: ID_AA_TIME_STAMP_TOKEN,
            values,
        })?;
        Some(set)
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate.issuer.clone(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_id(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm.signature_algorithm(),
        signature: OctetString::new(signature)?,
        unsigned_attrs,
    };
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(sha256_id())?;
    let mut signer_infos = SetOfVec::new();
    signer_infos.insert(signer_info)?;
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certificates)),
        crls: None,
        signer_infos: SignerInfos(signer_infos),
    };
    let ci = ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&sd)?,
    };
    Ok(ci.to_der()?)
}

/// The SignedData inside a ContentInfo (a seal's or a time-stamp token's).
/// Trailing bytes (the zero padding of `/Contents`) are ignored.
pub fn parse_signed_data(der: &[u8]) -> Result<SignedData, SealError> {
    let mut reader = der::SliceReader::new(der)?;
    let ci = <ContentInfo as der::Decode>::decode(&mut reader)?;
    if ci.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(SealError::Asn1(format!(
            "kein SignedData, sondern {}",
            ci.content_type
        )));
    }
    Ok(ci.content.decode_as::<SignedData>()?)
}

/// The certificates a CMS carries, DER-encoded.
pub fn certificates_of(sd: &SignedData) -> Result<Vec<Vec<u8>>, SealError> {
    let mut out = Vec::new();
    if let Some(set) = &sd.certificates {
        for c in set.0.iter() {
            if let CertificateChoices::Certificate(cert) = c {
                out.push(cert.to_der()?);
            }
        }
    }
    Ok(out)
}

/// The time-stamp tokens in the unsigned attributes of the first signer.
pub fn timestamp_tokens(sd: &SignedData) -> Result<Vec<SignedData>, SealError> {
    let mut out = Vec::new();
    for si in sd.signer_infos.0.iter() {
        for attr in si.unsigned_attrs.iter().flat_map(|a| a.iter()) {
            if attr.oid == ID_AA_TIME_STAMP_TOKEN {
                for v in attr.values.iter() {
                    out.push(parse_signed_data(&v.to_der()?)?);
                }
            }
        }
    }
    Ok(out)
}

/// The certificates of the time-stamp tokens in a seal's CMS (for the DSS).
pub fn embedded_timestamp_certificates(cms_der: &[u8]) -> Result<Vec<Vec<u8>>, SealError> {
    let sd = parse_signed_data(cms_der)?;
    let mut out = Vec::new();
    for token in timestamp_tokens(&sd)? {
        out.extend(certificates_of(&token)?);
    }
    Ok(out)
}

/// The subject's common name of a certificate (shown as the sealer's name).
pub fn subject_common_name(der: &[u8]) -> Result<Option<String>, SealError> {
    let cert = Certificate::from_der(der)?;
    Ok(common_name(&cert.tbs_certificate.subject))
}

/// The common name (CN) of a distinguished name, if it has one.
pub fn common_name(name: &x509_cert::name::Name) -> Option<String> {
    name_attribute(name, rfc4519::COMMON_NAME)
}

/// The first value of attribute `oid` (CN, O, …) of a distinguished name.
pub fn name_attribute(name: &x509_cert::name::Name, oid: ObjectIdentifier) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .and_then(|atv| {
            der::asn1::Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    der::asn1::PrintableStringRef::try_from(&atv.value)
                        .map(|s| s.as_str().to_owned())
                })
                .ok()
        })
}
