//! The PDF side of a seal (PAdES, ETSI EN 319 142-1), written with `lopdf`
//! as incremental updates, so the rendered PDF/A-2b + PDF/UA-1 bytes stay
//! untouched in front:
//!
//! 1. [`prepare`] appends a signature field (an invisible widget on the
//!    first page, printable as PDF/A wants, with an empty appearance) and
//!    its signature dictionary (`/SubFilter /ETSI.CAdES.detached`, `/M`),
//!    with `/Contents` reserved as zeros and `/ByteRange` filled in once the
//!    offsets are known;
//! 2. [`Prepared::embed`] writes the CMS into the reserved space;
//! 3. [`add_dss`] (B-LT) appends a second update with the DSS: the
//!    certificates, CRLs and OCSP responses, leaving the signed bytes alone.

use chrono::{DateTime, Utc};
use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, Stream, StringFormat};

use super::SealError;
use super::revocation::RevocationData;

/// Bytes reserved for the CMS in `/Contents` (a B-T seal with a chain of
/// three certificates and a time-stamp token needs about 8 KiB).
pub const CONTENTS_CAPACITY: usize = 16 * 1024;

/// Ten-digit stand-ins for the ByteRange numbers: the array keeps its width
/// when the real numbers (space-padded) replace them.
const BYTE_RANGE_SLOTS: [&[u8]; 3] = [b"1111111111", b"2222222222", b"3333333333"];

/// A PDF with a signature dictionary whose `/Contents` is still empty.
#[derive(Debug)]
pub struct Prepared {
    bytes: Vec<u8>,
    /// Offsets of `<` and one past `>` of the `/Contents` hex string.
    contents: (usize, usize),
}

impl Prepared {
    /// What the signature covers: everything before `/Contents` ...
    pub fn signed_part_1(&self) -> &[u8] {
        &self.bytes[..self.contents.0]
    }

    /// ... and everything after it.
    pub fn signed_part_2(&self) -> &[u8] {
        &self.bytes[self.contents.1..]
    }

    /// Writes the CMS (DER) into `/Contents`; the rest stays zero.
    pub fn embed(mut self, cms: &[u8]) -> Result<Vec<u8>, SealError> {
        if cms.len() > CONTENTS_CAPACITY {
            return Err(SealError::Pdf(format!(
                "die Signatur ist mit {} Bytes größer als der reservierte Platz ({CONTENTS_CAPACITY})",
                cms.len()
            )));
        }
        let hex = hex::encode_upper(cms);
        let at = self.contents.0 + 1;
        self.bytes[at..at + hex.len()].copy_from_slice(hex.as_bytes());
        Ok(self.bytes)
    }
}

/// A PDF date (`D:YYYYMMDDHHmmSS+00'00'`).
pub fn pdf_date(at: DateTime<Utc>) -> String {
    at.format("D:%Y%m%d%H%M%S+00'00'").to_string()
}

/// A PDF text string in UTF-16BE with byte order mark (names with umlauts).
fn text_string(s: &str) -> Object {
    let mut bytes = vec![0xFE, 0xFF];
    for unit in s.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

fn name(n: &str) -> Object {
    Object::Name(n.as_bytes().to_vec())
}

fn root_id(doc: &Document) -> Result<ObjectId, SealError> {
    Ok(doc.trailer.get(b"Root")?.as_reference()?)
}

/// Makes `id` (an object of the previous revision) editable in the update.
fn edit(inc: &mut IncrementalDocument, id: ObjectId) -> Result<&mut Dictionary, SealError> {
    inc.opt_clone_object_to_new_document(id)?;
    Ok(inc.new_document.get_object_mut(id)?.as_dict_mut()?)
}

/// Appends `item` to the array under `key` of the dictionary `owner`,
/// wherever the array lives (inline, indirect or not yet there).
fn push_to_array(
    inc: &mut IncrementalDocument,
    owner: ObjectId,
    key: &[u8],
    item: Object,
) -> Result<(), SealError> {
    let existing = edit(inc, owner)?.get(key).ok().cloned();
    match existing {
        Some(Object::Reference(array_id)) => {
            inc.opt_clone_object_to_new_document(array_id)?;
            inc.new_document
                .get_object_mut(array_id)?
                .as_array_mut()?
                .push(item);
        }
        Some(Object::Array(mut items)) => {
            items.push(item);
            edit(inc, owner)?.set(key, items);
        }
        _ => edit(inc, owner)?.set(key, vec![item]),
    }
    Ok(())
}

/// Appends the signature field and dictionary with room for the CMS.
pub fn prepare(pdf: &[u8], at: DateTime<Utc>, signer: Option<&str>) -> Result<Prepared, SealError> {
    let prev = Document::load_mem(pdf)?;
    let root = root_id(&prev)?;
    let page = *prev
        .get_pages()
        .get(&1)
        .ok_or_else(|| SealError::Pdf("das Dokument hat keine Seite".into()))?;
    let mut inc = IncrementalDocument::create_from(pdf.to_vec(), prev);

    let mut sig = Dictionary::new();
    sig.set("Type", name("Sig"));
    sig.set("Filter", name("Adobe.PPKLite"));
    sig.set("SubFilter", name("ETSI.CAdES.detached"));
    sig.set(
        "ByteRange",
        vec![
            Object::Integer(0),
            Object::Integer(1_111_111_111),
            Object::Integer(2_222_222_222),
            Object::Integer(3_333_333_333),
        ],
    );
    sig.set(
        "Contents",
        Object::String(vec![0; CONTENTS_CAPACITY], StringFormat::Hexadecimal),
    );
    sig.set("M", Object::string_literal(pdf_date(at)));
    if let Some(n) = signer {
        sig.set("Name", text_string(n));
    }
    let sig_id = inc.new_document.add_object(sig);

    // An empty appearance: PDF/A wants one on every widget.
    let mut ap = Dictionary::new();
    ap.set("Type", name("XObject"));
    ap.set("Subtype", name("Form"));
    ap.set("BBox", vec![Object::Integer(0); 4]);
    let ap_id = inc.new_document.add_object(Stream::new(ap, Vec::new()));

    let mut widget = Dictionary::new();
    widget.set("Type", name("Annot"));
    widget.set("Subtype", name("Widget"));
    widget.set("FT", name("Sig"));
    widget.set("T", text_string("Siegel"));
    widget.set("TU", text_string("Elektronisches Siegel der Behörde"));
    widget.set("V", Object::Reference(sig_id));
    // Print, as PDF/A requires; not hidden (PDF/A forbids it), but zero-sized.
    widget.set("F", Object::Integer(4));
    widget.set("Rect", vec![Object::Integer(0); 4]);
    widget.set("P", Object::Reference(page));
    let mut ap_dict = Dictionary::new();
    ap_dict.set("N", Object::Reference(ap_id));
    widget.set("AP", ap_dict);
    let widget_id = inc.new_document.add_object(widget);

    push_to_array(&mut inc, page, b"Annots", Object::Reference(widget_id))?;
    let acroform = edit(&mut inc, root)?.get(b"AcroForm").ok().cloned();
    let form_id = match acroform {
        Some(Object::Reference(id)) => id,
        Some(Object::Dictionary(d)) => inc.new_document.add_object(d),
        _ => inc.new_document.add_object(Dictionary::new()),
    };
    edit(&mut inc, root)?.set("AcroForm", Object::Reference(form_id));
    push_to_array(&mut inc, form_id, b"Fields", Object::Reference(widget_id))?;
    // SignaturesExist | AppendOnly.
    edit(&mut inc, form_id)?.set("SigFlags", Object::Integer(3));

    let mut bytes = Vec::with_capacity(pdf.len() + 2 * CONTENTS_CAPACITY + 4096);
    inc.save_to(&mut bytes)
        .map_err(|e| SealError::Pdf(e.to_string()))?;
    let tail = pdf.len();
    let find = |bytes: &[u8], needle: &[u8]| -> Result<usize, SealError> {
        bytes[tail..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + tail)
            .ok_or_else(|| SealError::Pdf("Platzhalter der Signatur nicht gefunden".into()))
    };
    let mut zeros = b"<".to_vec();
    zeros.extend(std::iter::repeat_n(b'0', 2 * CONTENTS_CAPACITY));
    zeros.push(b'>');
    let start = find(&bytes, &zeros)?;
    let end = start + zeros.len();
    let numbers = [start, end, bytes.len() - end];
    for (slot, value) in BYTE_RANGE_SLOTS.iter().zip(numbers) {
        let at = find(&bytes, slot)?;
        let text = format!("{value:<10}");
        bytes[at..at + 10].copy_from_slice(text.as_bytes());
    }
    Ok(Prepared {
        bytes,
        contents: (start, end),
    })
}

/// The `/Contents` of every signature in `doc` (the hex string decoded,
/// with its zero padding, as the signature dictionary holds it).
fn signature_contents(doc: &Document) -> Vec<Vec<u8>> {
    doc.objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.has(b"ByteRange"))
        .filter_map(|d| match d.get(b"Contents") {
            Ok(Object::String(bytes, _)) => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

/// The key of a signature's entry in the DSS's `/VRI`: the SHA-1 of its
/// `/Contents` bytes in upper-case hex (ISO 32000-2 12.8.4.3, ETSI EN
/// 319 142-1 5.4.2; pyHanko and Adobe hash the whole string, padding
/// included).
pub fn vri_key(contents: &[u8]) -> String {
    use sha1::Digest;
    hex::encode_upper(sha1::Sha1::digest(contents))
}

/// Appends the DSS (B-LT) with the certificates and revocation data, and a
/// `/VRI` entry per signature naming the same streams: validators that look
/// a signature's validation data up by its VRI key (ETSI EN 319 142-1
/// 5.4.2.2) find it there, the others in the DSS's arrays.
pub fn add_dss(
    pdf: &[u8],
    certs: &[Vec<u8>],
    revinfo: &RevocationData,
) -> Result<Vec<u8>, SealError> {
    let prev = Document::load_mem(pdf)?;
    let root = root_id(&prev)?;
    let signatures = signature_contents(&prev);
    if signatures.is_empty() {
        return Err(SealError::Pdf(
            "für die Validierungsdaten (DSS) fehlt die Signatur im PDF".into(),
        ));
    }
    let mut inc = IncrementalDocument::create_from(pdf.to_vec(), prev);
    let mut streams = |items: &[Vec<u8>]| -> Vec<Object> {
        let mut seen = std::collections::BTreeSet::new();
        items
            .iter()
            .filter(|i| seen.insert(i.as_slice()))
            .map(|i| {
                Object::Reference(
                    inc.new_document
                        .add_object(Stream::new(Dictionary::new(), i.clone())),
                )
            })
            .collect()
    };
    let cert_refs = streams(certs);
    let crl_refs = streams(&revinfo.crls);
    let ocsp_refs = streams(&revinfo.ocsps);
    let mut dss = Dictionary::new();
    dss.set("Type", name("DSS"));
    dss.set("Certs", cert_refs.clone());
    if !crl_refs.is_empty() {
        dss.set("CRLs", crl_refs.clone());
    }
    if !ocsp_refs.is_empty() {
        dss.set("OCSPs", ocsp_refs.clone());
    }
    let mut vri = Dictionary::new();
    for contents in &signatures {
        let mut entry = Dictionary::new();
        entry.set("Type", name("VRI"));
        entry.set("Cert", cert_refs.clone());
        if !crl_refs.is_empty() {
            entry.set("CRL", crl_refs.clone());
        }
        if !ocsp_refs.is_empty() {
            entry.set("OCSP", ocsp_refs.clone());
        }
        let entry_id = inc.new_document.add_object(entry);
        vri.set(vri_key(contents), Object::Reference(entry_id));
    }
    dss.set("VRI", vri);
    let dss_id = inc.new_document.add_object(dss);
    let catalog = edit(&mut inc, root)?;
    catalog.set("DSS", Object::Reference(dss_id));
    // The PAdES extension to PDF 1.7 (ISO 32000-1) the DSS belongs to.
    let mut esic = Dictionary::new();
    esic.set("BaseVersion", name("1.7"));
    esic.set("ExtensionLevel", Object::Integer(5));
    let mut extensions = match catalog.get(b"Extensions") {
        Ok(Object::Dictionary(d)) => d.clone(),
        _ => Dictionary::new(),
    };
    extensions.set("ESIC", esic);
    catalog.set("Extensions", extensions);
    let mut bytes = Vec::with_capacity(pdf.len() + 16 * 1024);
    inc.save_to(&mut bytes)
        .map_err(|e| SealError::Pdf(e.to_string()))?;
    Ok(bytes)
}
