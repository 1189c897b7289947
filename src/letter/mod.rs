//! Letter engine: renders DIN 5008 letters and notices from Typst templates.
//!
//! Typst is used as a library. A [`LetterEngine`] holds the parsed fonts (embedded
//! Liberation Sans, SIL OFL 1.1) and the template sources; [`LetterEngine::render`]
//! compiles one template against structured data and exports a PDF.
//!
//! # How data reaches a template
//!
//! Data never becomes markup. Each render exposes exactly two virtual files at
//! fixed paths (so that Typst's process-global file-id table, capped at 65,535
//! entries, never grows per letter):
//!
//! * `/data.json`: the request's `data` value, read in templates with `json("/data.json")`;
//! * `/meta.json`: `{"title", "author", "date"}` from the request (date as `YYYY-MM-DD`).
//!
//! `datetime.today()` returns the request's date, so output is deterministic:
//! same template + data + date + title + author ⇒ byte-identical PDF.
//!
//! Templates live under the virtual folder `/templates/`; a letter template
//! imports the shared layout with `#import "layout.typ": *`.
//!
//! # PDF standard
//!
//! The output conforms to PDF/A-2b **and** PDF/UA-1 (Typst checks both while
//! exporting: document title, language `de`, tagged structure, alt text). The PDF
//! creation date is the letter date (midnight UTC), which PDF/A requires.

pub mod series;
mod world;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use include_dir::Dir;
use sha2::{Digest, Sha256};
use typst::foundations::{Bytes, Datetime, Smart};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use self::world::LetterWorld;

/// Templates, examples and fonts compiled into the binary (embedded once, in [`crate::assets`]).
static EMBEDDED: &Dir<'static> = &crate::assets::TEMPLATES;

/// The fonts every letter is typeset with (always embedded, never taken from the
/// machine): Liberation Sans 2.1, metric-compatible with Arial, SIL OFL 1.1.
const FONT_FILES: [&str; 4] = [
    "fonts/LiberationSans-Regular.ttf",
    "fonts/LiberationSans-Bold.ttf",
    "fonts/LiberationSans-Italic.ttf",
    "fonts/LiberationSans-BoldItalic.ttf",
];

/// File stem of the shared layout; it is not a letter template itself.
const LAYOUT_STEM: &str = "layout";

/// How many `comemo::evict` rounds a cached result survives unused. Small, so
/// memory stays flat across thousands of letters, but non-zero, so that parsing
/// and evaluating the (unchanging) layout is reused between consecutive letters.
const CACHE_MAX_AGE: usize = 3;

/// Errors of the letter engine.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// No letter template with this name exists (names are file stems such as
    /// `zuwendungsbescheid`).
    #[error("unknown letter template {0:?}")]
    UnknownTemplate(String),

    /// The template failed to compile: a Typst syntax error, a missing data
    /// field, a wrong type, ... `message` lists every diagnostic as
    /// `file:line:column: message`, followed by Typst's hints and call trace.
    #[error("template {template} failed to compile:\n{message}")]
    Compile {
        /// The template that was rendered.
        template: String,
        /// The formatted Typst diagnostics.
        message: String,
    },

    /// The document was laid out but could not be exported as PDF/A-2b + PDF/UA-1
    /// (for example an image without alternative text). Formatted like `Compile`.
    #[error("template {template} could not be exported as PDF:\n{message}")]
    Export {
        /// The template that was rendered.
        template: String,
        /// The formatted Typst diagnostics.
        message: String,
    },

    /// A template folder given to [`LetterEngine::from_dir`] could not be read.
    #[error("cannot read template folder {path}: {source}")]
    Io {
        /// The file or folder that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A template folder given to [`LetterEngine::from_dir`] is unusable: a
    /// `.typ` file is not UTF-8, or the shared `layout.typ` is missing.
    #[error("invalid template folder {path}: {reason}")]
    InvalidTemplateDir {
        /// The offending file or folder.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// What to render.
#[derive(Debug, Clone, Copy)]
pub struct RenderRequest<'a> {
    /// Template name (file stem), e.g. `zuwendungsbescheid`.
    pub template: &'a str,
    /// The letter's data, available to the template as `json("/data.json")`.
    pub data: &'a serde_json::Value,
    /// Letter date: `datetime.today()` in the template and the PDF creation date.
    pub date: chrono::NaiveDate,
    /// PDF document title (required by PDF/UA-1).
    pub title: &'a str,
    /// PDF document author.
    pub author: &'a str,
}

/// A rendered letter.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The PDF (PDF/A-2b + PDF/UA-1).
    pub pdf: Vec<u8>,
    /// SHA-256 of `pdf`, lower-case hex.
    pub sha256: String,
    /// [`LetterEngine::template_hash`] of the template used.
    pub template_hash: String,
    /// Number of pages.
    pub pages: usize,
}

/// One file of the template folder.
pub(crate) struct TemplateFile {
    /// The raw bytes.
    bytes: Bytes,
    /// The text, if the file is a `.typ` source.
    text: Option<String>,
    /// The parsed source, created lazily on first use (this interns a file id).
    source: std::sync::OnceLock<typst::syntax::Source>,
}

/// Renders letters. `Send + Sync`; share it in an `Arc`.
pub struct LetterEngine {
    /// Template folder contents, keyed by path relative to the folder with `/`
    /// separators (e.g. `layout.typ`, `mail/x.typ`).
    files: BTreeMap<String, TemplateFile>,
    /// How file names are shown in error messages: `templates/` for the embedded
    /// set, the folder path for [`LetterEngine::from_dir`].
    display_root: String,
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    /// [`LetterEngine::template_hash`] per template, computed on first use
    /// and kept: the files do not change after construction, and hashing on
    /// each render (parsing the layout to follow its imports) cost half a
    /// millisecond per letter.
    hashes: BTreeMap<String, std::sync::OnceLock<String>>,
}

impl LetterEngine {
    /// The templates and fonts compiled into the binary.
    pub fn embedded() -> Self {
        let mut files = BTreeMap::new();
        collect_embedded(EMBEDDED, &mut files);
        Self::new(files, "templates/".to_owned())
    }

    /// Templates from a folder (for user-edited templates); fonts stay embedded.
    /// The folder is read completely now; later changes need a new engine.
    pub fn from_dir(dir: &Path) -> Result<Self, LetterError> {
        let mut files = BTreeMap::new();
        collect_dir(dir, dir, &mut files)?;
        if !files.contains_key(&format!("{LAYOUT_STEM}.typ")) {
            return Err(LetterError::InvalidTemplateDir {
                path: dir.to_owned(),
                reason: format!("{LAYOUT_STEM}.typ is missing"),
            });
        }
        let mut root = dir.display().to_string();
        if !root.ends_with('/') {
            root.push('/');
        }
        Ok(Self::new(files, root))
    }

    fn new(files: BTreeMap<String, TemplateFile>, display_root: String) -> Self {
        let fonts: Vec<Font> = FONT_FILES
            .iter()
            .flat_map(|path| {
                let data = EMBEDDED
                    .get_file(path)
                    .unwrap_or_else(|| panic!("embedded font {path} missing"))
                    .contents();
                Font::iter(Bytes::new(data))
            })
            .collect();
        let hashes = template_names(&files)
            .map(|name| (name.to_owned(), std::sync::OnceLock::new()))
            .collect();
        Self {
            files,
            display_root,
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
            hashes,
        }
    }

    /// Names of the letter templates: stems of the `.typ` files at the top of the
    /// folder, without the shared layout. Sorted.
    pub fn templates(&self) -> Vec<String> {
        template_names(&self.files).map(str::to_owned).collect()
    }

    /// Whether a letter template of this name exists.
    pub fn has_template(&self, name: &str) -> bool {
        name != LAYOUT_STEM
            && !name.contains('/')
            && self.files.contains_key(&format!("{name}.typ"))
    }

    /// SHA-256 (hex) over the template and every file it imports or includes,
    /// transitively (in practice: the template and `layout.typ`). Each file
    /// contributes its path, its length and its bytes, in path order.
    pub fn template_hash(&self, name: &str) -> Option<String> {
        let hash = self.hashes.get(name)?;
        Some(hash.get_or_init(|| self.hash_of(name)).clone())
    }

    fn hash_of(&self, name: &str) -> String {
        let mut seen = BTreeSet::new();
        self.collect_imports(&format!("{name}.typ"), &mut seen);
        let mut hasher = Sha256::new();
        for path in &seen {
            let file = &self.files[path];
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            hasher.update((file.bytes.len() as u64).to_le_bytes());
            hasher.update(file.bytes.as_slice());
        }
        hex::encode(hasher.finalize())
    }

    /// Adds `path` and, for Typst sources, every file it imports or includes by
    /// a literal path.
    fn collect_imports(&self, path: &str, seen: &mut BTreeSet<String>) {
        let Some(file) = self.files.get(path) else {
            return;
        };
        if !seen.insert(path.to_owned()) {
            return;
        }
        let Some(text) = &file.text else { return };
        let mut targets = Vec::new();
        import_paths(&typst::syntax::parse(text), &mut targets);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        for target in targets {
            if let Some(resolved) = resolve_relative(dir, &target) {
                self.collect_imports(&resolved, seen);
            }
        }
    }

    /// Renders one letter to PDF. Synchronous and CPU-bound (a few ms per page).
    pub fn render(&self, req: &RenderRequest) -> Result<Rendered, LetterError> {
        if !self.has_template(req.template) {
            return Err(LetterError::UnknownTemplate(req.template.to_owned()));
        }
        let result = self.render_with(req, &PDF_STANDARDS);
        // Drop cached results of earlier letters; without this, memory grows by
        // about 1 MB per letter. Also after a failure.
        typst::comemo::evict(CACHE_MAX_AGE);
        result
    }

    /// Renders with the given PDF standards (the tests also export PDF/A-1b to
    /// check the output with a PDF/A-1 validator).
    fn render_with(
        &self,
        req: &RenderRequest,
        standards: &[PdfStandard],
    ) -> Result<Rendered, LetterError> {
        use chrono::Datelike;

        let date = req.date;
        // Typst's Datetime takes u8 month/day; chrono guarantees the ranges.
        let (month, day) = (date.month() as u8, date.day() as u8);
        let today = Datetime::from_ymd(date.year(), month, day);
        let meta = serde_json::json!({
            "title": req.title,
            "author": req.author,
            "date": date.format("%Y-%m-%d").to_string(),
        });
        let world = LetterWorld::new(
            self,
            &format!("{}.typ", req.template),
            Bytes::new(serde_json::to_vec(req.data).expect("JSON value serializes")),
            Bytes::new(serde_json::to_vec(&meta).expect("JSON value serializes")),
            today,
        );

        let warned = typst::compile::<PagedDocument>(&world);
        let mut document = warned.output.map_err(|errors| LetterError::Compile {
            template: req.template.to_owned(),
            message: world.format_diagnostics(&errors),
        })?;
        // Title and author are set here, not by a set rule in the layout:
        // a value that differs per letter in the styles keeps Typst from
        // reusing the layout of the letter before (see `layout.typ`).
        let info = document.info_mut();
        if info.title.is_none() {
            info.title = Some(req.title.into());
        }
        if info.author.is_empty() && !req.author.is_empty() {
            info.author = vec![req.author.into()];
        }

        let timestamp =
            Datetime::from_ymd_hms(date.year(), month, day, 0, 0, 0).map(Timestamp::new_utc);
        let options = PdfOptions {
            ident: Smart::Auto,
            creator: Smart::Custom(Some("amtspost".to_owned())),
            timestamp,
            standards: PdfStandards::new(standards).map_err(|e| LetterError::Export {
                template: req.template.to_owned(),
                message: e.message().to_string(),
            })?,
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options).map_err(|errors| LetterError::Export {
            template: req.template.to_owned(),
            message: world.format_diagnostics(&errors),
        })?;

        let sha256 = hex::encode(Sha256::digest(&pdf));
        let template_hash = self
            .template_hash(req.template)
            .expect("template exists (checked above)");
        Ok(Rendered {
            pages: document.pages().len(),
            pdf,
            sha256,
            template_hash,
        })
    }
}

/// The letter templates among the folder's files (see [`LetterEngine::templates`]).
fn template_names(files: &BTreeMap<String, TemplateFile>) -> impl Iterator<Item = &str> {
    files
        .keys()
        .filter_map(|k| k.strip_suffix(".typ"))
        .filter(|stem| !stem.contains('/') && *stem != LAYOUT_STEM)
}

/// The standards every letter conforms to: PDF/A-2b together with PDF/UA-1.
const PDF_STANDARDS: [PdfStandard; 2] = [PdfStandard::A_2b, PdfStandard::Ua_1];

fn collect_embedded(dir: &Dir<'static>, out: &mut BTreeMap<String, TemplateFile>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        out.insert(path.clone(), template_file(&path, file.contents().to_vec()));
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, TemplateFile>,
) -> Result<(), LetterError> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LetterError + '_ {
        move |source| LetterError::Io {
            path: path.to_owned(),
            source,
        }
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            collect_dir(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .expect("walked below root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            if rel.ends_with(".typ") && std::str::from_utf8(&bytes).is_err() {
                return Err(LetterError::InvalidTemplateDir {
                    path,
                    reason: "not valid UTF-8".to_owned(),
                });
            }
            out.insert(rel.clone(), template_file(&rel, bytes));
        }
    }
    Ok(())
}

fn template_file(path: &str, bytes: Vec<u8>) -> TemplateFile {
    let text = path
        .ends_with(".typ")
        .then(|| String::from_utf8(bytes.clone()).ok())
        .flatten();
    TemplateFile {
        bytes: Bytes::new(bytes),
        text,
        source: std::sync::OnceLock::new(),
    }
}

/// Literal paths of `#import "..."` and `#include "..."` anywhere in the tree.
fn import_paths(node: &typst::syntax::SyntaxNode, out: &mut Vec<String>) {
    use typst::syntax::SyntaxKind;
    use typst::syntax::ast::{self, AstNode};

    let source = match node.kind() {
        SyntaxKind::ModuleImport => ast::ModuleImport::from_untyped(node).map(|i| i.source()),
        SyntaxKind::ModuleInclude => ast::ModuleInclude::from_untyped(node).map(|i| i.source()),
        _ => None,
    };
    if let Some(ast::Expr::Str(s)) = source {
        out.push(s.get().to_string());
    }
    for child in node.children() {
        import_paths(child, out);
    }
}

/// Resolves an import path against the importing file's folder (both relative to
/// the template folder). Absolute paths are relative to the virtual root, where
/// the template folder is mounted at `/templates/` (see `world.rs`).
fn resolve_relative(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if let Some(abs) = target.strip_prefix('/') {
        return abs.strip_prefix("templates/").map(str::to_owned);
    } else if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The German name of a shipped letter template, for pages and mails
/// (`eingangsbestaetigung` → „Eingangsbestätigung“); another template's
/// name is made readable.
pub fn title_of(template: &str) -> String {
    match template {
        "eingangsbestaetigung" => "Eingangsbestätigung".into(),
        "nachforderung" => "Nachforderung von Unterlagen".into(),
        "zuwendungsbescheid" => "Zuwendungsbescheid".into(),
        "ablehnungsbescheid" => "Ablehnungsbescheid".into(),
        "aenderungsbescheid" => "Änderungsbescheid".into(),
        "erinnerung" => "Erinnerung".into(),
        "rundschreiben" => "Rundschreiben".into(),
        "anlage" => "Anlage".into(),
        "schreiben" => "Schreiben".into(),
        "vordruck" => "Vordruck".into(),
        "widerrufsbescheid" => "Widerrufs- und Erstattungsbescheid".into(),
        other => {
            let words = other.replace('_', " ");
            let mut c = words.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}
