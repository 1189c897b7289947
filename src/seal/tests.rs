//! Seals made and checked in process: the PAdES structure, what breaks a
//! seal and what does not (a DSS update), and the trust decision. The
//! cross-checks with poppler, pyHanko and qpdf are in `tests/suite/seal.rs`.

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::testpki::{TEST_SEAL_NAME, TestPki};
use super::verify::verify_pdf;
use crate::letter::{LetterEngine, RenderRequest};

fn letter() -> Vec<u8> {
    let data: Value = serde_json::from_slice(
        crate::assets::TEMPLATES
            .get_file("examples/zuwendungsbescheid.json")
            .unwrap()
            .contents(),
    )
    .unwrap();
    LetterEngine::embedded()
        .render(&RenderRequest {
            template: "zuwendungsbescheid",
            data: &data,
            date: chrono::NaiveDate::from_ymd_opt(2013, 6, 28).unwrap(),
            title: "Zuwendungsbescheid",
            author: "Bezirksregierung Arnsberg",
        })
        .unwrap()
        .pdf
}

fn sealed(pki: &TestPki, pdf: Vec<u8>) -> Vec<u8> {
    pki.seal_blocking(pdf, Utc.with_ymd_and_hms(2013, 6, 28, 9, 30, 0).unwrap())
}

#[test]
fn a_sealed_letter_keeps_its_bytes_and_verifies() {
    let pki = TestPki::generate("Bezirksregierung Arnsberg").unwrap();
    let pdf = letter();
    let out = sealed(&pki, pdf.clone());
    assert!(
        out.starts_with(&pdf),
        "the rendered bytes stay in front (incremental update)"
    );
    let text = String::from_utf8_lossy(&out[pdf.len()..]);
    assert!(
        text.contains("/SubFilter/ETSI.CAdES.detached"),
        "{text:.400}"
    );
    assert!(text.contains("/M(D:20130628093000+00'00')"), "{text:.600}");
    assert!(!text.contains("signingTime"));
    let reports = verify_pdf(&out, std::slice::from_ref(&pki.root_der));
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert!(r.valid(), "{r:?}");
    assert_eq!(r.signer.as_deref(), Some(TEST_SEAL_NAME));
    assert_eq!(r.organization.as_deref(), Some("Bezirksregierung Arnsberg"));
    assert_eq!(r.signed_at.as_deref(), Some("2013-06-28T09:30:00+00:00"));
    assert_eq!(r.level, "B-B");
    // lopdf reads it back with the signature field on page 1.
    let doc = lopdf::Document::load_mem(&out).unwrap();
    let form = doc.catalog().unwrap().get(b"AcroForm").unwrap();
    let form = doc.dereference(form).unwrap().1.as_dict().unwrap();
    assert_eq!(form.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
}

#[test]
fn an_unsealed_pdf_has_no_seal() {
    assert!(verify_pdf(&letter(), &[]).is_empty());
}

#[test]
fn a_changed_byte_breaks_the_seal() {
    let pki = TestPki::generate("Bezirksregierung Arnsberg").unwrap();
    let pdf = letter();
    let out = sealed(&pki, pdf.clone());
    // Somewhere in the rendered letter (inside the first signed range).
    let mut copy = out.clone();
    copy[pdf.len() / 2] ^= 0x20;
    let r = &verify_pdf(&copy, std::slice::from_ref(&pki.root_der))[0];
    assert!(!r.intact && !r.valid(), "{r:?}");
    assert!(r.problems.iter().any(|p| p.contains("verändert")), "{r:?}");
}

#[test]
fn another_root_is_not_trusted() {
    let pki = TestPki::generate("Bezirksregierung Arnsberg").unwrap();
    let other = TestPki::generate("Jemand anderes").unwrap();
    let out = sealed(&pki, letter());
    let r = &verify_pdf(&out, std::slice::from_ref(&other.root_der))[0];
    assert!(
        r.intact && r.covers_document && !r.trusted && !r.valid(),
        "{r:?}"
    );
    let r = &verify_pdf(&out, &[])[0];
    assert!(!r.trusted, "no anchors, no trust: {r:?}");
}

#[test]
fn a_dss_update_keeps_the_seal_and_a_page_change_does_not() {
    let pki = TestPki::generate("Bezirksregierung Arnsberg").unwrap();
    let out = sealed(&pki, letter());
    let with_dss = super::pades::add_dss(
        &out,
        &[pki.seal_der.clone(), pki.root_der.clone()],
        &super::revocation::RevocationData::default(),
    )
    .unwrap();
    assert!(with_dss.starts_with(&out));
    let r = &verify_pdf(&with_dss, std::slice::from_ref(&pki.root_der))[0];
    assert!(r.valid(), "a DSS is validation data, not a change: {r:?}");

    // The DSS has one /VRI entry, keyed by the SHA-1 of the signature's
    // /Contents (as the sealed file holds it, zero padding included),
    // naming the DSS's certificates.
    let doc = lopdf::Document::load_mem(&with_dss).unwrap();
    // The hex string between the two signed ranges: `<` … `>`.
    let sig = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .find(|d| d.has(b"ByteRange"))
        .unwrap();
    let range: Vec<usize> = sig
        .get(b"ByteRange")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap() as usize)
        .collect();
    assert_eq!(out[range[1]], b'<');
    assert_eq!(out[range[2] - 1], b'>');
    let bytes = hex::decode(&out[range[1] + 1..range[2] - 1]).unwrap();
    assert_eq!(bytes.len(), super::pades::CONTENTS_CAPACITY);
    let key = super::pades::vri_key(&bytes);
    assert_eq!(key.len(), 40);
    assert_eq!(key, key.to_uppercase());
    let dss = doc.catalog().unwrap().get(b"DSS").unwrap();
    let dss = doc.dereference(dss).unwrap().1.as_dict().unwrap();
    let vri = dss.get(b"VRI").unwrap().as_dict().unwrap();
    assert_eq!(vri.len(), 1);
    let entry = doc.dereference(vri.get(key.as_bytes()).unwrap()).unwrap().1;
    let entry = entry.as_dict().unwrap();
    assert_eq!(entry.get(b"Type").unwrap().as_name().unwrap(), b"VRI");
    assert_eq!(entry.get(b"Cert").unwrap(), dss.get(b"Certs").unwrap());

    // An update that changes the first page after sealing.
    let prev = lopdf::Document::load_mem(&out).unwrap();
    let page = prev.get_pages()[&1];
    let mut inc = lopdf::IncrementalDocument::create_from(out.clone(), prev);
    inc.opt_clone_object_to_new_document(page).unwrap();
    inc.new_document
        .get_object_mut(page)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Rotate", 90);
    let mut changed = Vec::new();
    inc.save_to(&mut changed).unwrap();
    let r = &verify_pdf(&changed, std::slice::from_ref(&pki.root_der))[0];
    assert!(r.intact, "the signed bytes themselves are unchanged");
    assert!(!r.covers_document && !r.valid(), "{r:?}");
}

#[test]
fn a_pkcs12_file_with_the_wrong_password_is_refused_in_german() {
    let pki = TestPki::generate("Bezirksregierung Arnsberg").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("siegel.p12");
    std::fs::write(&path, pki.to_pkcs12("richtig").unwrap()).unwrap();
    assert!(super::signer::KeySigner::from_pkcs12(&path, "richtig").is_ok());
    let err = super::signer::KeySigner::from_pkcs12(&path, "falsch")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("falsches Passwort"), "{err}");
}

#[test]
fn the_german_report_says_who_when_and_whether_valid() {
    let pki = TestPki::generate("Bezirksregierung Arnsberg").unwrap();
    let out = sealed(&pki, letter());
    let reports = verify_pdf(&out, std::slice::from_ref(&pki.root_der));
    let text = super::verify::german_report("bescheid.pdf", &reports);
    for needle in [
        "Prüfbericht für bescheid.pdf",
        TEST_SEAL_NAME,
        "Unverändert:          ja",
        "Vertrauenswürdig:     ja",
        "Ergebnis: Das Siegel ist gültig.",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}
