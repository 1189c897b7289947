//! Checks seals: for each signature in a PDF, whether the signed bytes are
//! unchanged (message digest and signature), whether the signature covers
//! the whole document but for later updates that only add validation data
//! (a DSS), whether its certificate chains to a trusted root, and whether
//! its time-stamp (if any) is sound. Used by `document verify` (stored
//! documents and `--file`), the Fallseite and the portal.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::OctetString;
use der::{Decode, Encode};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::Serialize;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use super::cades::{self, SigningCertificateV2};
use super::timestamp;

/// What was found about one seal (signature) of a PDF.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SealReport {
    /// Common name of the seal certificate (who sealed).
    pub signer: Option<String>,
    /// Organisation of the seal certificate.
    pub organization: Option<String>,
    /// The claimed signing time (`/M`), RFC 3339.
    pub signed_at: Option<String>,
    /// The time-stamp's time, RFC 3339 (B-T and up).
    pub timestamp: Option<String>,
    /// `B-B`, `B-T` or `B-LT`, as far as the file shows.
    pub level: String,
    /// The signed bytes are unchanged and the signature is the certificate's.
    pub intact: bool,
    /// The signature covers the document, but for updates that only add a DSS.
    pub covers_document: bool,
    /// The certificate chains to a trust anchor and was valid at signing time.
    pub trusted: bool,
    /// Whether the time-stamp is sound (none: no time-stamp).
    pub timestamp_valid: Option<bool>,
    /// What is wrong, in German.
    pub problems: Vec<String>,
}

impl SealReport {
    /// Intact, covering, trusted, and no broken time-stamp.
    pub fn valid(&self) -> bool {
        self.intact && self.covers_document && self.trusted && self.timestamp_valid != Some(false)
    }
}

/// The seals of a PDF, each checked against `anchors` (DER root certificates).
/// An unsealed PDF has none.
pub fn verify_pdf(pdf: &[u8], anchors: &[Vec<u8>]) -> Vec<SealReport> {
    let doc = lopdf::Document::load_mem(pdf).ok();
    let dss = doc.as_ref().map(dss_contents).unwrap_or_default();
    let sig_dicts = doc.as_ref().map(signature_dictionaries).unwrap_or_default();
    byte_ranges(pdf)
        .into_iter()
        .map(|range| {
            let m = sig_dicts.get(&range).cloned();
            check(pdf, range, m, &dss, anchors)
        })
        .collect()
}

/// The report as a German text, one block per seal.
pub fn german_report(name: &str, reports: &[SealReport]) -> String {
    let yes_no = |b: bool| if b { "ja" } else { "NEIN" };
    let mut s = format!("Prüfbericht für {name}\n");
    if reports.is_empty() {
        s.push_str("Das Dokument trägt kein elektronisches Siegel.\n");
        return s;
    }
    for (i, r) in reports.iter().enumerate() {
        s.push_str(&format!("\nSiegel {} ({})\n", i + 1, r.level));
        s.push_str(&format!(
            "  Gesiegelt von:        {}\n",
            r.signer.as_deref().unwrap_or("(unbekannt)")
        ));
        if let Some(o) = &r.organization {
            s.push_str(&format!("  Organisation:         {o}\n"));
        }
        s.push_str(&format!(
            "  Zeitpunkt (angegeben): {}\n",
            r.signed_at.as_deref().unwrap_or("(keiner)")
        ));
        if let Some(t) = &r.timestamp {
            s.push_str(&format!("  Zeitstempel:          {t}\n"));
        }
        s.push_str(&format!("  Unverändert:          {}\n", yes_no(r.intact)));
        s.push_str(&format!(
            "  Deckt das Dokument:   {}\n",
            yes_no(r.covers_document)
        ));
        s.push_str(&format!("  Vertrauenswürdig:     {}\n", yes_no(r.trusted)));
        if let Some(t) = r.timestamp_valid {
            s.push_str(&format!("  Zeitstempel gültig:   {}\n", yes_no(t)));
        }
        for p in &r.problems {
            s.push_str(&format!("  Problem: {p}\n"));
        }
        s.push_str(if r.valid() {
            "  Ergebnis: Das Siegel ist gültig.\n"
        } else {
            "  Ergebnis: Das Siegel ist UNGÜLTIG.\n"
        });
    }
    s
}

type Range = [usize; 4];

/// Every `/ByteRange [a b c d]` in the file, read from the raw bytes (so a
/// damaged file is still examined).
fn byte_ranges(pdf: &[u8]) -> Vec<Range> {
    let key = b"/ByteRange";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = pdf[from..].windows(key.len()).position(|w| w == key) {
        let start = from + p + key.len();
        from = start;
        let rest = &pdf[start..pdf.len().min(start + 200)];
        let text = String::from_utf8_lossy(rest);
        let Some(open) = text.find('[') else { continue };
        let Some(close) = text.find(']') else {
            continue;
        };
        if !text[..open].trim().is_empty() || close < open {
            continue;
        }
        let nums: Vec<usize> = text[open + 1..close]
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [a, b, c, d] = nums[..] {
            out.push([a, b, c, d]);
        }
    }
    out
}

/// `/M` of each signature dictionary, by its ByteRange.
fn signature_dictionaries(doc: &lopdf::Document) -> BTreeMap<Range, String> {
    let mut out = BTreeMap::new();
    for obj in doc.objects.values() {
        let Ok(d) = obj.as_dict() else { continue };
        let Ok(range) = d.get(b"ByteRange").and_then(|r| r.as_array()) else {
            continue;
        };
        let nums: Vec<usize> = range
            .iter()
            .filter_map(|n| n.as_i64().ok())
            .map(|n| n as usize)
            .collect();
        let (Ok(m), &[a, b, c, e]) = (d.get(b"M").and_then(|m| m.as_str()), &nums[..]) else {
            continue;
        };
        out.insert([a, b, c, e], String::from_utf8_lossy(m).into_owned());
    }
    out
}

/// The validation data of the document's DSS.
#[derive(Default)]
struct Dss {
    certs: Vec<Vec<u8>>,
    revocation: usize,
}

fn dss_contents(doc: &lopdf::Document) -> Dss {
    let mut out = Dss::default();
    let Ok(dss) = doc
        .catalog()
        .and_then(|c| c.get(b"DSS"))
        .and_then(|d| doc.dereference(d).map(|(_, o)| o))
        .and_then(|d| d.as_dict())
    else {
        return out;
    };
    let streams = |key: &[u8]| -> Vec<Vec<u8>> {
        dss.get(key)
            .and_then(|a| a.as_array())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| doc.dereference(i).ok())
                    .filter_map(|(_, o)| o.as_stream().ok())
                    .filter_map(|s| s.get_plain_content().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    out.certs = streams(b"Certs");
    out.revocation = streams(b"CRLs").len() + streams(b"OCSPs").len();
    out
}

/// A PDF date `D:YYYYMMDDHHmmSS…` as RFC 3339 (UTC offsets `+00'00'` and `Z`).
fn pdf_date_to_rfc3339(m: &str) -> Option<DateTime<Utc>> {
    let digits = m.trim_start_matches("D:");
    let t = chrono::NaiveDateTime::parse_from_str(digits.get(..14)?, "%Y%m%d%H%M%S").ok()?;
    Some(Utc.from_utc_datetime(&t))
}

fn check(
    pdf: &[u8],
    [a, b, c, d]: Range,
    m: Option<String>,
    dss: &Dss,
    anchors: &[Vec<u8>],
) -> SealReport {
    let mut r = SealReport {
        signer: None,
        organization: None,
        signed_at: None,
        timestamp: None,
        level: "B-B".into(),
        intact: false,
        covers_document: false,
        trusted: false,
        timestamp_valid: None,
        problems: Vec::new(),
    };
    let claimed = m.as_deref().and_then(pdf_date_to_rfc3339);
    r.signed_at = claimed.map(|t| t.to_rfc3339());
    if a != 0
        || b >= c
        || c + d > pdf.len()
        || pdf.get(b) != Some(&b'<')
        || pdf.get(c - 1) != Some(&b'>')
    {
        r.problems
            .push("Der signierte Bereich (/ByteRange) ist ungültig.".into());
        return r;
    }
    r.covers_document = covers(pdf, c + d, &mut r.problems);
    let Ok(contents) = hex::decode(trim_hex(&pdf[b + 1..c - 1])) else {
        r.problems.push("/Contents ist kein Hex-String.".into());
        return r;
    };
    let sd = match cades::parse_signed_data(&contents) {
        Ok(sd) => sd,
        Err(e) => {
            r.problems
                .push(format!("Die Signatur ist nicht lesbar ({e})."));
            return r;
        }
    };
    let digest: [u8; 32] = Sha256::new()
        .chain_update(&pdf[..b])
        .chain_update(&pdf[c..c + d])
        .finalize()
        .into();
    let mut pool = cades::certificates_of(&sd).unwrap_or_default();
    pool.extend(dss.certs.iter().cloned());
    let Some(si) = sd.signer_infos.0.iter().next() else {
        r.problems
            .push("Die Signatur hat keinen Unterzeichner.".into());
        return r;
    };
    let signer = match check_signer_info(si, &pool, Some(&digest[..])) {
        Ok(cert) => cert,
        Err(p) => {
            r.problems.push(p);
            return r;
        }
    };
    let subject = &signer.tbs_certificate.subject;
    r.signer = cades::common_name(subject);
    r.organization = organization(subject);
    match signing_certificate_matches(si, &signer) {
        Ok(()) => r.intact = true,
        Err(p) => r.problems.push(p),
    }

    // The time-stamp (B-T): over this signature value, by a trusted TSA.
    let mut at = claimed.unwrap_or_else(Utc::now);
    let tokens = cades::timestamp_tokens(&sd).unwrap_or_default();
    if let Some(token) = tokens.first() {
        r.level = "B-T".into();
        match check_timestamp(token, si.signature.as_bytes(), &pool, anchors) {
            Ok(t) => {
                r.timestamp = Some(t.to_rfc3339());
                r.timestamp_valid = Some(true);
                at = t;
            }
            Err(p) => {
                r.timestamp_valid = Some(false);
                r.problems.push(p);
            }
        }
        if dss.revocation > 0 {
            r.level = "B-LT".into();
        }
    }
    match chain_to_anchor(&signer, &pool, anchors, at) {
        Ok(()) => r.trusted = true,
        Err(p) => r.problems.push(p),
    }
    r
}

/// The hex digits of `/Contents` without whitespace.
fn trim_hex(hex: &[u8]) -> Vec<u8> {
    hex.iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}

/// Whether a signature ending at `end` covers the document: the file ends
/// there, or what follows are updates that only add validation data.
fn covers(pdf: &[u8], end: usize, problems: &mut Vec<String>) -> bool {
    if end == pdf.len() {
        return true;
    }
    let signed = &pdf[..end];
    let tail = String::from_utf8_lossy(&signed[signed.len().saturating_sub(8)..]).into_owned();
    if !tail.trim_end().ends_with("%%EOF") {
        problems.push("Die Signatur endet nicht am Ende einer Dateiversion.".into());
        return false;
    }
    let (Ok(before), Ok(after)) = (
        lopdf::Document::load_mem(signed),
        lopdf::Document::load_mem(pdf),
    ) else {
        problems.push("Die späteren Änderungen des Dokuments sind nicht lesbar.".into());
        return false;
    };
    let root = before
        .trailer
        .get(b"Root")
        .and_then(|r| r.as_reference())
        .ok();
    for (id, obj) in &after.objects {
        let Some(old) = before.objects.get(id) else {
            continue;
        };
        if old == obj {
            continue;
        }
        let only_dss = Some(*id) == root
            && match (old.as_dict(), obj.as_dict()) {
                (Ok(o), Ok(n)) => {
                    let strip = |d: &lopdf::Dictionary| {
                        let mut d = d.clone();
                        d.remove(b"DSS");
                        d.remove(b"Extensions");
                        d
                    };
                    strip(o) == strip(n)
                }
                _ => false,
            };
        if !only_dss {
            problems.push(format!(
                "Nach dem Siegeln wurde das Objekt {} {} geändert; die Signatur deckt das Dokument nicht mehr.",
                id.0, id.1
            ));
            return false;
        }
    }
    true
}

fn organization(name: &x509_cert::name::Name) -> Option<String> {
    cades::name_attribute(name, const_oid::db::rfc4519::O)
}

/// Checks a SignerInfo: message digest (if `digest` is given), content
/// type, signature; returns the signer's certificate.
fn check_signer_info(
    si: &SignerInfo,
    pool: &[Vec<u8>],
    digest: Option<&[u8]>,
) -> Result<Certificate, String> {
    let SignerIdentifier::IssuerAndSerialNumber(id) = &si.sid else {
        return Err("Der Unterzeichner ist nicht über Aussteller und Seriennummer benannt.".into());
    };
    let cert = pool
        .iter()
        .filter_map(|c| Certificate::from_der(c).ok())
        .find(|c| {
            c.tbs_certificate.issuer == id.issuer
                && c.tbs_certificate.serial_number == id.serial_number
        })
        .ok_or("Das Zertifikat des Unterzeichners fehlt in der Signatur.")?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("Die Signatur hat keine signierten Attribute.")?;
    let attr = |oid: ObjectIdentifier| attrs.iter().find(|a| a.oid == oid);
    if let Some(digest) = digest {
        let md = attr(rfc5911::ID_MESSAGE_DIGEST)
            .and_then(|a| a.values.iter().next())
            .and_then(|v| v.decode_as::<OctetString>().ok())
            .ok_or("Die Signatur enthält keinen Hashwert des Dokuments.")?;
        if md.as_bytes() != digest {
            return Err(
                "Das Dokument wurde nach dem Siegeln verändert: der Hashwert stimmt nicht mehr."
                    .into(),
            );
        }
    }
    let tbs = attrs.to_der().map_err(|e| e.to_string())?;
    if !verify_signature(
        &cert.tbs_certificate.subject_public_key_info,
        si.signature_algorithm.oid,
        si.digest_alg.oid,
        &tbs,
        si.signature.as_bytes(),
    ) {
        return Err("Die Signatur passt nicht zum Zertifikat: sie ist gebrochen.".into());
    }
    Ok(cert)
}

/// signing-certificate-v2 must name this certificate.
fn signing_certificate_matches(si: &SignerInfo, cert: &Certificate) -> Result<(), String> {
    let value = si
        .signed_attrs
        .iter()
        .flat_map(|a| a.iter())
        .find(|a| a.oid == rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2)
        .and_then(|a| a.values.iter().next())
        .ok_or("Das Attribut signing-certificate-v2 fehlt (PAdES verlangt es).")?;
    let sc: SigningCertificateV2 = value
        .decode_as()
        .map_err(|e| format!("signing-certificate-v2 ist nicht lesbar ({e})"))?;
    let hash = Sha256::digest(cert.to_der().map_err(|e| e.to_string())?);
    match sc.certs.first() {
        Some(id) if id.hash_algorithm.is_none() && id.cert_hash.as_bytes() == &hash[..] => Ok(()),
        _ => Err("signing-certificate-v2 nennt ein anderes Zertifikat.".into()),
    }
}

/// Checks a time-stamp token over `signature`; returns its time.
fn check_timestamp(
    token: &SignedData,
    signature: &[u8],
    pool: &[Vec<u8>],
    anchors: &[Vec<u8>],
) -> Result<DateTime<Utc>, String> {
    let info = timestamp::tst_info(token).map_err(|e| e.to_string())?;
    if info.message_imprint.hashed_message.as_bytes() != &Sha256::digest(signature)[..] {
        return Err("Der Zeitstempel gilt einer anderen Signatur.".into());
    }
    let content = token
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("Zeitstempel ohne Inhalt")?;
    let mut tsa_pool = cades::certificates_of(token).unwrap_or_default();
    tsa_pool.extend(pool.iter().cloned());
    let si = token
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or("Der Zeitstempel hat keinen Unterzeichner.")?;
    let digest = Sha256::digest(content.value());
    let tsa = check_signer_info(si, &tsa_pool, Some(&digest[..]))
        .map_err(|p| format!("Zeitstempel: {p}"))?;
    let at = info.time().ok_or("Zeitstempel mit ungültiger Zeit")?;
    chain_to_anchor(&tsa, &tsa_pool, anchors, at).map_err(|p| format!("Zeitstempeldienst: {p}"))?;
    Ok(at)
}

/// Builds a path from `cert` to one of `anchors` through `pool`, each
/// certificate signed by the next and valid at `at`.
fn chain_to_anchor(
    cert: &Certificate,
    pool: &[Vec<u8>],
    anchors: &[Vec<u8>],
    at: DateTime<Utc>,
) -> Result<(), String> {
    let anchors: Vec<Certificate> = anchors
        .iter()
        .filter_map(|a| Certificate::from_der(a).ok())
        .collect();
    if anchors.is_empty() {
        return Err("Es sind keine vertrauenswürdigen Wurzelzertifikate konfiguriert ([seal] trust_anchors).".into());
    }
    let pool: Vec<Certificate> = pool
        .iter()
        .filter_map(|c| Certificate::from_der(c).ok())
        .collect();
    let mut current = cert.clone();
    let mut seen = BTreeSet::new();
    for _ in 0..8 {
        check_validity(&current, at)?;
        if anchors.contains(&current) {
            return Ok(());
        }
        let issuer_name = &current.tbs_certificate.issuer;
        let signed_by = |issuer: &Certificate| {
            &issuer.tbs_certificate.subject == issuer_name
                && current
                    .tbs_certificate
                    .to_der()
                    .map(|tbs| {
                        verify_signature(
                            &issuer.tbs_certificate.subject_public_key_info,
                            current.signature_algorithm.oid,
                            rfc5912::ID_SHA_256,
                            &tbs,
                            current.signature.raw_bytes(),
                        )
                    })
                    .unwrap_or(false)
        };
        if let Some(anchor) = anchors.iter().find(|a| signed_by(a)) {
            return check_validity(anchor, at);
        }
        let Some(next) = pool.iter().find(|c| *c != &current && signed_by(c)) else {
            return Err(format!(
                "Das Zertifikat „{}“ führt zu keinem vertrauenswürdigen Wurzelzertifikat.",
                cades::common_name(&current.tbs_certificate.subject).unwrap_or_default()
            ));
        };
        if !seen.insert(next.to_der().unwrap_or_default()) {
            break;
        }
        current = next.clone();
    }
    Err("Die Zertifikatskette ist zu lang oder kreisförmig.".into())
}

fn check_validity(cert: &Certificate, at: DateTime<Utc>) -> Result<(), String> {
    let v = &cert.tbs_certificate.validity;
    let secs = at.timestamp().max(0) as u64;
    let from = v.not_before.to_unix_duration().as_secs();
    let to = v.not_after.to_unix_duration().as_secs();
    if secs < from || secs > to {
        return Err(format!(
            "Das Zertifikat „{}“ war zum Zeitpunkt {} nicht gültig.",
            cades::common_name(&cert.tbs_certificate.subject).unwrap_or_default(),
            at.format("%d.%m.%Y %H:%M UTC")
        ));
    }
    Ok(())
}

/// Verifies `sig` over `msg` with the key in `spki` (RSA PKCS#1 v1.5 or
/// ECDSA P-256/P-384, SHA-256/384/512).
fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: ObjectIdentifier,
    digest_alg: ObjectIdentifier,
    msg: &[u8],
    sig: &[u8],
) -> bool {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let p256 = curve == Some(rfc5912::SECP_256_R_1);
    let p384 = curve == Some(rfc5912::SECP_384_R_1);
    let alg: &'static dyn VerificationAlgorithm = match sig_alg {
        o if o == rfc5912::SHA_256_WITH_RSA_ENCRYPTION => &signature::RSA_PKCS1_2048_8192_SHA256,
        o if o == rfc5912::SHA_384_WITH_RSA_ENCRYPTION => &signature::RSA_PKCS1_2048_8192_SHA384,
        o if o == rfc5912::SHA_512_WITH_RSA_ENCRYPTION => &signature::RSA_PKCS1_2048_8192_SHA512,
        o if o == rfc5912::RSA_ENCRYPTION => match digest_alg {
            d if d == rfc5912::ID_SHA_384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            d if d == rfc5912::ID_SHA_512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => &signature::RSA_PKCS1_2048_8192_SHA256,
        },
        o if o == rfc5912::ECDSA_WITH_SHA_256 && p256 => &signature::ECDSA_P256_SHA256_ASN1,
        o if o == rfc5912::ECDSA_WITH_SHA_256 && p384 => &signature::ECDSA_P384_SHA256_ASN1,
        o if o == rfc5912::ECDSA_WITH_SHA_384 && p256 => &signature::ECDSA_P256_SHA384_ASN1,
        o if o == rfc5912::ECDSA_WITH_SHA_384 && p384 => &signature::ECDSA_P384_SHA384_ASN1,
        _ => return false,
    };
    UnparsedPublicKey::new(alg, spki.subject_public_key.raw_bytes())
        .verify(msg, sig)
        .is_ok()
}
