//! The 16 German states, because public holidays are state law.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DeadlineError;

/// A German state (Land), identified by its ISO 3166-2:DE code.
///
/// Deadlines are shifted off public holidays "at the place" (§ 193 BGB), and
/// apart from a few nationwide days each state decides its own holidays, so
/// every calendar question needs a region. The default is
/// Nordrhein-Westfalen, where this project's authorities sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Region {
    /// Baden-Württemberg
    BW,
    /// Bayern
    BY,
    /// Berlin
    BE,
    /// Brandenburg
    BB,
    /// Bremen
    HB,
    /// Hamburg
    HH,
    /// Hessen
    HE,
    /// Mecklenburg-Vorpommern
    MV,
    /// Niedersachsen
    NI,
    /// Nordrhein-Westfalen
    #[default]
    NW,
    /// Rheinland-Pfalz
    RP,
    /// Saarland
    SL,
    /// Sachsen
    SN,
    /// Sachsen-Anhalt
    ST,
    /// Schleswig-Holstein
    SH,
    /// Thüringen
    TH,
    /// Stadt Augsburg (Bayern): Bavaria's holidays and, locally, the
    /// Augsburger Hohes Friedensfest (8 August) and Mariä Himmelfahrt.
    BYAugsburg,
    /// A predominantly Catholic municipality in Bayern (Munich among them):
    /// Bavaria's holidays and Mariä Himmelfahrt (15 August).
    BYKatholisch,
    /// A municipality in Sachsen where Fronleichnam is a public holiday
    /// (Catholic municipalities in the Sorbian area).
    SNFronleichnam,
    /// A municipality in Thüringen where Fronleichnam is a public holiday
    /// (Catholic municipalities, e.g. in the Eichsfeld).
    THFronleichnam,
}

impl Region {
    /// All 16 states, in the usual order of their codes' listing.
    pub const ALL: [Region; 16] = [
        Region::BW,
        Region::BY,
        Region::BE,
        Region::BB,
        Region::HB,
        Region::HH,
        Region::HE,
        Region::MV,
        Region::NI,
        Region::NW,
        Region::RP,
        Region::SL,
        Region::SN,
        Region::ST,
        Region::SH,
        Region::TH,
    ];

    /// Municipalities with public holidays of their own: regions below a state.
    pub const LOCAL: [Region; 4] = [
        Region::BYAugsburg,
        Region::BYKatholisch,
        Region::SNFronleichnam,
        Region::THFronleichnam,
    ];

    /// The state a region belongs to (a state is its own state).
    pub fn state(self) -> Region {
        match self {
            Region::BYAugsburg | Region::BYKatholisch => Region::BY,
            Region::SNFronleichnam => Region::SN,
            Region::THFronleichnam => Region::TH,
            state => state,
        }
    }

    /// The code, e.g. "NW", or for a region below a state e.g. "BY-AUGSBURG".
    pub fn code(self) -> &'static str {
        match self {
            Region::BYAugsburg => "BY-AUGSBURG",
            Region::BYKatholisch => "BY-KATHOLISCH",
            Region::SNFronleichnam => "SN-FRONLEICHNAM",
            Region::THFronleichnam => "TH-FRONLEICHNAM",
            Region::BW => "BW",
            Region::BY => "BY",
            Region::BE => "BE",
            Region::BB => "BB",
            Region::HB => "HB",
            Region::HH => "HH",
            Region::HE => "HE",
            Region::MV => "MV",
            Region::NI => "NI",
            Region::NW => "NW",
            Region::RP => "RP",
            Region::SL => "SL",
            Region::SN => "SN",
            Region::ST => "ST",
            Region::SH => "SH",
            Region::TH => "TH",
        }
    }

    /// The state's German name, e.g. "Nordrhein-Westfalen", for letters.
    pub fn name(self) -> &'static str {
        match self {
            Region::BYAugsburg => "Augsburg (Bayern)",
            Region::BYKatholisch => "einer überwiegend katholischen Gemeinde in Bayern",
            Region::SNFronleichnam => "einer Gemeinde in Sachsen mit Fronleichnam als Feiertag",
            Region::THFronleichnam => "einer Gemeinde in Thüringen mit Fronleichnam als Feiertag",
            Region::BW => "Baden-Württemberg",
            Region::BY => "Bayern",
            Region::BE => "Berlin",
            Region::BB => "Brandenburg",
            Region::HB => "Bremen",
            Region::HH => "Hamburg",
            Region::HE => "Hessen",
            Region::MV => "Mecklenburg-Vorpommern",
            Region::NI => "Niedersachsen",
            Region::NW => "Nordrhein-Westfalen",
            Region::RP => "Rheinland-Pfalz",
            Region::SL => "Saarland",
            Region::SN => "Sachsen",
            Region::ST => "Sachsen-Anhalt",
            Region::SH => "Schleswig-Holstein",
            Region::TH => "Thüringen",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = DeadlineError;

    /// Accepts "NW", "nw" and "DE-NW" (any case), surrounding spaces ignored;
    /// regions below a state as "BY-AUGSBURG", "DE-BY-Augsburg" and so on.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let upper = trimmed.to_ascii_uppercase();
        let code = upper.strip_prefix("DE-").unwrap_or(&upper);
        Region::ALL
            .into_iter()
            .chain(Region::LOCAL)
            .find(|r| r.code() == code)
            .ok_or_else(|| DeadlineError::InvalidRegion {
                text: s.to_string(),
            })
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
