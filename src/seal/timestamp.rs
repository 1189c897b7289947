//! RFC 3161 time-stamps (B-T): the SHA-256 of the seal's signature value
//! goes to a time-stamping authority, whose signed token becomes an
//! unsigned attribute of the seal. The token proves the seal existed then,
//! independent of the office's clock.

use cms::signed_data::SignedData;
use const_oid::db::rfc5912;
use der::Sequence;
use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use ring::rand::SecureRandom;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

use super::SealError;

const SERVICE: &str = "Zeitstempeldienst (TSA)";

fn failed(url: &str, reason: impl ToString) -> SealError {
    SealError::Service {
        service: SERVICE,
        url: url.to_owned(),
        reason: reason.to_string(),
    }
}

/// Asks the TSA at `url` for a token over `digest` (SHA-256); returns the
/// token (a ContentInfo, DER) after checking it answers this request.
pub async fn request(
    http: &reqwest::Client,
    url: &str,
    digest: &[u8; 32],
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce[1..])
        .map_err(|_| SealError::Signing("kein Zufall für die Nonce".into()))?;
    nonce[0] = 0x01; // positive and of fixed length
    let nonce = Int::new(&nonce)?;
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: spki::AlgorithmIdentifier {
                oid: rfc5912::ID_SHA_256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.to_vec())?,
        },
        req_policy: None,
        nonce: Some(nonce.clone()),
        cert_req: true,
        extensions: None,
    };
    let resp = http
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .body(req.to_der()?)
        .send()
        .await
        .map_err(|e| failed(url, e))?;
    if !resp.status().is_success() {
        return Err(failed(url, format!("HTTP {}", resp.status())));
    }
    let body = resp.bytes().await.map_err(|e| failed(url, e))?;
    let tsr = TimeStampResp::from_der(&body)
        .map_err(|e| failed(url, format!("Antwort nicht lesbar: {e}")))?;
    use cmpv2::status::PkiStatus;
    if !matches!(
        tsr.status.status,
        PkiStatus::Accepted | PkiStatus::GrantedWithMods
    ) {
        return Err(failed(
            url,
            format!("Zeitstempel abgelehnt ({:?})", tsr.status.status),
        ));
    }
    let token = tsr
        .time_stamp_token
        .ok_or_else(|| failed(url, "die Antwort enthält keinen Zeitstempel"))?;
    let sd = token.content.decode_as::<SignedData>()?;
    let info = tst_info(&sd)?;
    if info.message_imprint.hashed_message.as_bytes() != digest {
        return Err(failed(url, "der Zeitstempel gilt einem anderen Hashwert"));
    }
    if info.nonce.as_ref() != Some(&nonce) {
        return Err(failed(url, "der Zeitstempel trägt eine andere Nonce"));
    }
    Ok(token.to_der()?)
}

/// TSTInfo (RFC 3161) as `x509_tsp::TstInfo`, but with `genTime` kept
/// raw: TSAs commonly send fractional seconds, which RFC 3161 allows and
/// `der`'s strict GeneralizedTime refuses. [`TstInfo::time`] reads it.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: TspVersion,
    pub policy: der::oid::ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: der::Any,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

impl TstInfo {
    /// `genTime` (YYYYMMDDHHMMSS[.f…]Z) as a UTC time, to the second.
    pub fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let text = std::str::from_utf8(self.gen_time.value()).ok()?;
        let t = chrono::NaiveDateTime::parse_from_str(text.get(..14)?, "%Y%m%d%H%M%S").ok()?;
        text.ends_with('Z').then(|| t.and_utc())
    }
}

/// The TSTInfo a token's SignedData encapsulates.
pub fn tst_info(sd: &SignedData) -> Result<TstInfo, SealError> {
    let content = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| SealError::Asn1("Zeitstempel ohne Inhalt".into()))?;
    Ok(TstInfo::from_der(content.value())?)
}
