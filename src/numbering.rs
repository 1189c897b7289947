//! Number patterns for file numbers (Aktenzeichen) and registers such as the
//! circular number `172/12`. Pure: the sequence itself is kept by the store,
//! gap-free per register and year.
//!
//! A pattern is text with tokens: `{register}`, `{year}` (2012),
//! `{yy}` (12) and `{seq}` or `{seq:04}` (zero-padded to 4 digits). It must
//! contain the sequence exactly once and the year (either form), because
//! sequences restart every year.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a number pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberingError {
    /// A `{...}` token we do not know.
    #[error(
        "number pattern `{pattern}`: unknown token `{{{name}}}`; use {{register}}, {{year}}, {{yy}}, {{seq}} or {{seq:04}}"
    )]
    UnknownToken { pattern: String, name: String },
    /// An opening brace without a closing one.
    #[error("number pattern `{pattern}`: a `{{` is not closed")]
    Unclosed { pattern: String },
    /// No `{seq}`, or more than one.
    #[error("number pattern `{pattern}` must contain the sequence `{{seq}}` exactly once")]
    Sequence { pattern: String },
    /// No year: numbers would repeat after the yearly restart.
    #[error(
        "number pattern `{pattern}` must contain `{{year}}` or `{{yy}}`, because sequences restart every year"
    )]
    NoYear { pattern: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Register,
    Year,
    ShortYear,
    Seq { width: usize },
}

/// A parsed number pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPattern {
    source: String,
    parts: Vec<Part>,
}

impl NumberPattern {
    /// The number for a register, year and sequence value.
    pub fn format(&self, register: &str, year: i32, seq: i64) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Register => out.push_str(register),
                Part::Year => out.push_str(&year.to_string()),
                Part::ShortYear => out.push_str(&format!("{:02}", year.rem_euclid(100))),
                Part::Seq { width } => out.push_str(&format!("{seq:0width$}")),
            }
        }
        out
    }

    /// The sequence value `number` was made with, if this pattern made it
    /// for `register` and `year` (e.g. to continue a register after an
    /// imported case).
    pub fn seq_of(&self, register: &str, year: i32, number: &str) -> Option<i64> {
        let mut candidates = Vec::new();
        let mut digits = String::new();
        for c in number.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !digits.is_empty() {
                candidates.push(std::mem::take(&mut digits));
            }
        }
        candidates
            .iter()
            .filter_map(|d| d.parse::<i64>().ok())
            .find(|seq| self.format(register, year, *seq) == number)
    }
}

impl FromStr for NumberPattern {
    type Err = NumberingError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(NumberingError::Unclosed {
                    pattern: pattern.into(),
                });
            };
            let name = &rest[open + 1..open + close];
            parts.push(match name {
                "register" => Part::Register,
                "year" => Part::Year,
                "yy" => Part::ShortYear,
                "seq" => Part::Seq { width: 0 },
                _ => match name.strip_prefix("seq:").map(str::parse::<usize>) {
                    Some(Ok(width)) if width <= 12 => Part::Seq { width },
                    _ => {
                        return Err(NumberingError::UnknownToken {
                            pattern: pattern.into(),
                            name: name.into(),
                        });
                    }
                },
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if parts
            .iter()
            .filter(|p| matches!(p, Part::Seq { .. }))
            .count()
            != 1
        {
            return Err(NumberingError::Sequence {
                pattern: pattern.into(),
            });
        }
        if !parts
            .iter()
            .any(|p| matches!(p, Part::Year | Part::ShortYear))
        {
            return Err(NumberingError::NoYear {
                pattern: pattern.into(),
            });
        }
        Ok(Self {
            source: pattern.to_string(),
            parts,
        })
    }
}

impl fmt::Display for NumberPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for NumberPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for NumberPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> NumberPattern {
        s.parse().unwrap()
    }

    #[test]
    fn file_numbers_pad_the_sequence() {
        assert_eq!(
            p("{register}-{year}-{seq:04}").format("KI", 2012, 7),
            "KI-2012-0007"
        );
        assert_eq!(
            p("{register}-{year}-{seq:04}").format("KI", 2012, 12345),
            "KI-2012-12345"
        );
    }

    #[test]
    fn the_sequence_value_is_read_back_from_a_number_the_pattern_made() {
        let f = p("{register}-{year}-{seq:04}");
        assert_eq!(f.seq_of("KI", 2012, "KI-2012-0007"), Some(7));
        assert_eq!(f.seq_of("KI", 2012, "KI-2012-12345"), Some(12345));
        // The year or register differs, or the padding is not the pattern's.
        assert_eq!(f.seq_of("KI", 2013, "KI-2012-0007"), None);
        assert_eq!(f.seq_of("AN", 2012, "KI-2012-0007"), None);
        assert_eq!(f.seq_of("KI", 2012, "KI-2012-7"), None);
        assert_eq!(p("{seq}/{yy}").seq_of("RS", 2012, "172/12"), Some(172));
        assert_eq!(p("{seq}/{yy}").seq_of("RS", 2012, "12/12"), Some(12));
        assert_eq!(
            p("50.50.00/{year}/{seq:03} Li").seq_of("x", 2013, "50.50.00/2013/004 Li"),
            Some(4)
        );
        assert_eq!(p("{seq}/{yy}").seq_of("RS", 2012, "Entwurf"), None);
    }

    #[test]
    fn circular_numbers_look_like_the_seed() {
        assert_eq!(p("{seq}/{yy}").format("RS", 2012, 172), "172/12");
        assert_eq!(p("{seq}/{yy}").format("RS", 2005, 3), "3/05");
        assert_eq!(p("{seq}/{yy}").format("RS", 2100, 1), "1/00");
    }

    #[test]
    fn plain_text_around_tokens_is_kept() {
        assert_eq!(
            p("50.50.00/{year}/{seq:03} Li").format("x", 2013, 4),
            "50.50.00/2013/004 Li"
        );
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(matches!(
            "{seq}/{yyyy}".parse::<NumberPattern>(),
            Err(NumberingError::UnknownToken { .. })
        ));
        assert!(matches!(
            "{seq/{yy}".parse::<NumberPattern>(),
            Err(NumberingError::UnknownToken { .. })
        ));
        assert!(matches!(
            "{seq}-{yy".parse::<NumberPattern>(),
            Err(NumberingError::Unclosed { .. })
        ));
        assert!(matches!(
            "{year}".parse::<NumberPattern>(),
            Err(NumberingError::Sequence { .. })
        ));
        assert!(matches!(
            "{seq}{seq}{yy}".parse::<NumberPattern>(),
            Err(NumberingError::Sequence { .. })
        ));
        assert!(matches!(
            "{register}-{seq}".parse::<NumberPattern>(),
            Err(NumberingError::NoYear { .. })
        ));
        assert!(matches!(
            "{seq:99}/{yy}".parse::<NumberPattern>(),
            Err(NumberingError::UnknownToken { .. })
        ));
    }

    #[test]
    fn a_pattern_round_trips_through_its_text() {
        let src = "{register}-{year}-{seq:04}";
        assert_eq!(p(src).to_string(), src);
    }
}
