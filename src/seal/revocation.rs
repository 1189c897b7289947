//! Revocation data for B-LT: for each certificate of the seal (and of its
//! time-stamp), the OCSP response of the responder it names and the CRLs
//! of its distribution points, fetched at sealing time and kept in the
//! PDF's DSS, so the seal can be checked when the services are long gone.

use std::collections::BTreeSet;

use const_oid::db::rfc5280;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints};
use x509_ocsp::{CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest};

use super::SealError;

/// CRLs and OCSP responses (DER), as they go into the DSS.
#[derive(Debug, Clone, Default)]
pub struct RevocationData {
    pub crls: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
}

fn failed(service: &'static str, url: &str, reason: impl ToString) -> SealError {
    SealError::Service {
        service,
        url: url.to_owned(),
        reason: reason.to_string(),
    }
}

const OCSP: &str = "OCSP-Responder";
const CRL: &str = "Sperrliste (CRL)";

/// The `http(s)` URLs among general names.
fn urls<'a>(names: impl IntoIterator<Item = &'a GeneralName>) -> Vec<String> {
    names
        .into_iter()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .collect()
}

/// The OCSP responder a certificate names (Authority Information Access).
pub fn ocsp_urls(cert: &Certificate) -> Vec<String> {
    match cert.tbs_certificate.get::<AuthorityInfoAccessSyntax>() {
        Ok(Some((_, aia))) => urls(
            aia.0
                .iter()
                .filter(|d| d.access_method == rfc5280::ID_AD_OCSP)
                .map(|d| &d.access_location),
        ),
        _ => Vec::new(),
    }
}

/// The CRLs a certificate names (CRL distribution points).
pub fn crl_urls(cert: &Certificate) -> Vec<String> {
    match cert.tbs_certificate.get::<CrlDistributionPoints>() {
        Ok(Some((_, dps))) => dps
            .0
            .iter()
            .filter_map(|dp| match &dp.distribution_point {
                Some(DistributionPointName::FullName(names)) => Some(urls(names)),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => Vec::new(),
    }
}

/// Fetches the revocation data of every certificate in `certs` that is not
/// self-signed: OCSP where a responder is named (`ocsp_override` for the
/// first, the seal certificate), CRLs from the distribution points and from
/// `extra_crls`. A service that fails fails the seal.
pub async fn collect(
    http: &reqwest::Client,
    certs: &[Vec<u8>],
    ocsp_override: Option<&str>,
    extra_crls: &[String],
) -> Result<RevocationData, SealError> {
    let parsed: Vec<Certificate> = certs
        .iter()
        .map(|c| Certificate::from_der(c))
        .collect::<Result<_, _>>()?;
    let mut out = RevocationData::default();
    let mut crl_done = BTreeSet::new();
    let mut cert_done = BTreeSet::new();
    for (i, cert) in parsed.iter().enumerate() {
        let tbs = &cert.tbs_certificate;
        if tbs.issuer == tbs.subject || !cert_done.insert(cert.to_der()?) {
            continue;
        }
        let Some(issuer) = parsed
            .iter()
            .find(|c| c.tbs_certificate.subject == tbs.issuer)
        else {
            continue;
        };
        let ocsp = match (i, ocsp_override) {
            (0, Some(url)) => vec![url.to_owned()],
            _ => ocsp_urls(cert),
        };
        if let Some(url) = ocsp.first() {
            out.ocsps.push(fetch_ocsp(http, url, issuer, cert).await?);
        }
        for url in crl_urls(cert) {
            if crl_done.insert(url.clone()) {
                out.crls.push(fetch_crl(http, &url).await?);
            }
        }
    }
    for url in extra_crls {
        if crl_done.insert(url.clone()) {
            out.crls.push(fetch_crl(http, url).await?);
        }
    }
    Ok(out)
}

async fn fetch_crl(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, SealError> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| failed(CRL, url, e))?;
    if !resp.status().is_success() {
        return Err(failed(CRL, url, format!("HTTP {}", resp.status())));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| failed(CRL, url, e))?
        .to_vec();
    x509_cert::crl::CertificateList::from_der(&body)
        .map_err(|e| failed(CRL, url, format!("keine Sperrliste: {e}")))?;
    Ok(body)
}

async fn fetch_ocsp(
    http: &reqwest::Client,
    url: &str,
    issuer: &Certificate,
    cert: &Certificate,
) -> Result<Vec<u8>, SealError> {
    let req = OcspRequest {
        tbs_request: TbsRequest {
            request_list: vec![Request {
                req_cert: CertId::from_cert::<sha1::Sha1>(issuer, cert)
                    .map_err(|e| SealError::Asn1(e.to_string()))?,
                single_request_extensions: None,
            }],
            ..TbsRequest::default()
        },
        optional_signature: None,
    };
    let resp = http
        .post(url)
        .header("Content-Type", "application/ocsp-request")
        .body(req.to_der()?)
        .send()
        .await
        .map_err(|e| failed(OCSP, url, e))?;
    if !resp.status().is_success() {
        return Err(failed(OCSP, url, format!("HTTP {}", resp.status())));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| failed(OCSP, url, e))?
        .to_vec();
    let parsed = OcspResponse::from_der(&body)
        .map_err(|e| failed(OCSP, url, format!("Antwort nicht lesbar: {e}")))?;
    if parsed.response_status != OcspResponseStatus::Successful {
        return Err(failed(
            OCSP,
            url,
            format!("Status {:?}", parsed.response_status),
        ));
    }
    Ok(body)
}
