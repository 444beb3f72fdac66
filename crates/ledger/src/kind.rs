//! What an entry records. The kind is part of the signed header, so the roster can say which
//! roles may write which kinds without reading payloads.

use std::fmt;
use std::str::FromStr;

macro_rules! kinds {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// Every entry kind the format knows. Unknown kinds are refused at decode time so that a
        /// newer peer cannot smuggle entries past an older peer's rules.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind { $($variant),+ }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),+];

            /// The wire name, e.g. `section.write`.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name),+ }
            }
        }

        impl FromStr for Kind {
            type Err = UnknownKind;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Kind::$variant),)+
                    _ => Err(UnknownKind(s.chars().take(40).collect())),
                }
            }
        }
    };
}

kinds! {
    NetworkGenesis => "network.genesis",
    RosterMember => "roster.member",
    RosterRevoke => "roster.revoke",
    RosterReadmit => "roster.readmit",
    TemplatePublish => "template.publish",
    ReportCreate => "report.create",
    SectionWrite => "section.write",
    SectionCosign => "section.cosign",
    ReportStatus => "report.status",
    ReportResolve => "report.resolve",
    AddendumWrite => "addendum.write",
    AiResult => "ai.result",
    AiReview => "ai.review",
    AiReceived => "ai.received",
    MeasurementAdd => "measurement.add",
    CriticalResult => "critical.result",
    FollowupRecommend => "followup.recommend",
    FollowupClose => "followup.close",
    View => "view",
    AccessGrant => "access.grant",
    AccessRevoke => "access.revoke",
    PayloadErase => "payload.erase",
    RosterRotate => "roster.rotate",
    ReportRestrict => "report.restrict",
    ReportMove => "report.move",
    ReportDelivered => "report.delivered",
    MacroPublish => "macro.publish",
}

/// A kind name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entry kind {0:?}")]
pub struct UnknownKind(pub String);

/// Which log a kind lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFamily {
    /// The department's roster; its log id is the network id.
    Roster,
    /// One report; its log id is the id of its `report.create`.
    Report,
}

impl Kind {
    /// Genesis kinds start a log: they carry a zero log id, no parents and sequence 1, and
    /// their own id becomes the log id.
    pub fn is_genesis(self) -> bool {
        matches!(self, Kind::NetworkGenesis | Kind::ReportCreate)
    }

    pub fn family(self) -> LogFamily {
        match self {
            Kind::NetworkGenesis
            | Kind::RosterMember
            | Kind::RosterRevoke
            | Kind::RosterReadmit
            | Kind::RosterRotate
            | Kind::TemplatePublish
            | Kind::MacroPublish => LogFamily::Roster,
            _ => LogFamily::Report,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fit_the_header_limit() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>(), Ok(*kind));
            assert!(kind.name().len() <= crate::header::MAX_KIND_LEN);
        }
        assert!("section.delete".parse::<Kind>().is_err());
    }
}
