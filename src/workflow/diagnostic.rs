//! Diagnostics for workflow files: where in the file a problem is and what to
//! do about it, printed like a compiler (`file:line:column: error: ...`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file the problem is in, as given to the loader.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What the author can do about it, where we know.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Maps byte offsets of one source text to line and column.
pub(crate) struct SourceMap<'a> {
    file: &'a Path,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file,
            text,
            line_starts,
        }
    }

    /// Line and column (both 1-based) of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text[start..offset].chars().count() + 1;
        (line + 1, column)
    }

    /// Where a string's content begins, given where its token begins: past
    /// the quotes, and past the newline TOML drops after `"""` or `\'\'\'`.
    pub(crate) fn content_start(&self, token_start: usize) -> usize {
        let rest = &self.text[token_start.min(self.text.len())..];
        if rest.starts_with("\"\"\"") || rest.starts_with("\'\'\'") {
            let after = token_start + 3;
            let tail = &self.text[after..];
            if tail.starts_with("\r\n") {
                after + 2
            } else if tail.starts_with('\n') {
                after + 1
            } else {
                after
            }
        } else {
            token_start + 1
        }
    }

    pub(crate) fn error(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        let (line, column) = self.position(span.start);
        Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\nbö = 2\n";
        let map = SourceMap::new(Path::new("x.toml"), text);
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(6), (2, 1));
        // 'ö' is two bytes but one column.
        assert_eq!(map.position(9), (2, 3));
        assert_eq!(map.position(text.len()), (3, 1));
    }
}
