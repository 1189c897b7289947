//! The Typst `World` of one render: templates, fonts, the two data files and a
//! fixed date.
//!
//! Virtual file system (all paths fixed, so the global file-id table stays
//! small no matter how many letters are rendered):
//!
//! | path | content |
//! |---|---|
//! | `/templates/<file>` | the engine's template folder |
//! | `/data.json` | the request's data |
//! | `/meta.json` | title, author, date of the request |

use std::fmt::Write as _;
use std::path::PathBuf;

use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World, WorldExt};

use super::LetterEngine;

/// Virtual folder the templates are mounted at.
const TEMPLATE_DIR: &str = "/templates/";
/// Virtual path of the letter data.
pub(crate) const DATA_PATH: &str = "/data.json";
/// Virtual path of the request metadata.
pub(crate) const META_PATH: &str = "/meta.json";

pub(crate) struct LetterWorld<'a> {
    engine: &'a LetterEngine,
    main: FileId,
    data: Bytes,
    meta: Bytes,
    today: Option<Datetime>,
}

fn file_id(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).expect("fixed virtual paths are valid");
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

impl<'a> LetterWorld<'a> {
    /// `main` is the template file relative to the template folder.
    pub(crate) fn new(
        engine: &'a LetterEngine,
        main: &str,
        data: Bytes,
        meta: Bytes,
        today: Option<Datetime>,
    ) -> Self {
        Self {
            engine,
            main: file_id(&format!("{TEMPLATE_DIR}{main}")),
            data,
            meta,
            today,
        }
    }

    /// The template-relative path of a file id, if it is in the template folder.
    fn template_path(id: FileId) -> Option<&'static str> {
        match id.root() {
            VirtualRoot::Project => id.get().vpath().get_with_slash().strip_prefix(TEMPLATE_DIR),
            VirtualRoot::Package(_) => None,
        }
    }

    /// How a file is named in error messages.
    fn display_name(&self, id: FileId) -> String {
        match Self::template_path(id) {
            Some(rel) => format!("{}{rel}", self.engine.display_root),
            None => id.vpath().get_without_slash().to_owned(),
        }
    }

    /// `file:line:col` (1-based) of a diagnostic span, or `None` if detached.
    fn location(&self, span: typst::syntax::DiagSpan) -> Option<String> {
        let id = span.id()?;
        let name = self.display_name(id);
        let Some(range) = self.range(span) else {
            return Some(name);
        };
        let (line, col) = match self.source(id) {
            Ok(source) => source.lines().byte_to_line_column(range.start)?,
            // Non-source files (data.json): count in the raw text.
            Err(_) => {
                let bytes = self.file(id).ok()?;
                let text = String::from_utf8_lossy(bytes.as_slice());
                let lines = typst::syntax::Lines::new(text.into_owned());
                lines.byte_to_line_column(range.start)?
            }
        };
        Some(format!("{name}:{}:{}", line + 1, col + 1))
    }

    /// Formats diagnostics as `file:line:col: error: message`, with hints and
    /// the call trace, one diagnostic after the other.
    pub(crate) fn format_diagnostics(&self, diags: &[SourceDiagnostic]) -> String {
        let mut out = String::new();
        for diag in diags {
            let severity = match diag.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let location = self
                .location(diag.span)
                .unwrap_or_else(|| "(document)".to_owned());
            let _ = writeln!(out, "{location}: {severity}: {}", diag.message);
            for hint in &diag.hints {
                match self.location(hint.span) {
                    Some(at) => {
                        let _ = writeln!(out, "  hint ({at}): {}", hint.v);
                    }
                    None => {
                        let _ = writeln!(out, "  hint: {}", hint.v);
                    }
                }
            }
            for point in &diag.trace {
                let at = self
                    .location(point.span.into())
                    .unwrap_or_else(|| "(unknown)".to_owned());
                let _ = writeln!(out, "  {} at {at}", point.v);
            }
        }
        out.truncate(out.trim_end().len());
        out
    }
}

impl World for LetterWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.engine.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.engine.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        let not_found = || FileError::NotFound(PathBuf::from(id.vpath().get_with_slash()));
        let rel = Self::template_path(id).ok_or_else(|| {
            if self.file(id).is_ok() {
                FileError::NotSource
            } else {
                not_found()
            }
        })?;
        let file = self.engine.files.get(rel).ok_or_else(not_found)?;
        let text = file.text.as_ref().ok_or(FileError::NotSource)?;
        Ok(file
            .source
            .get_or_init(|| Source::new(id, text.clone()))
            .clone())
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if let Some(rel) = Self::template_path(id) {
            if let Some(file) = self.engine.files.get(rel) {
                return Ok(file.bytes.clone());
            }
        } else if matches!(id.root(), VirtualRoot::Project) {
            match id.vpath().get_with_slash() {
                DATA_PATH => return Ok(self.data.clone()),
                META_PATH => return Ok(self.meta.clone()),
                _ => {}
            }
        }
        Err(FileError::NotFound(PathBuf::from(
            id.vpath().get_with_slash(),
        )))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.engine.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        self.today
    }
}
