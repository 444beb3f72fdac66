//! Templates on the acceptance path: which template a `report.create` binds to (built in, or
//! the publication the roster accepts) and whether a `template.publish` payload may be
//! published. Apart from `mod.rs` because both judging and placing ask it.

use countersign_ledger::{EntryId, Hash, Kind};

use super::{Ledger, Rejection};
use crate::log::{ReportRuleError, TemplateSource};
use crate::payload::{Payload, ReportCreate, TemplatePublish};
use crate::template::{self, Template};

impl Ledger {
    /// The publication a report naming this content hash binds to: the lowest-id one the
    /// roster accepts, or else the lowest-id one held — a pure function of the entries held.
    pub(super) fn publication(&self, hash: &Hash) -> Option<(Template, EntryId)> {
        let held = self.published.get(hash)?;
        let roster = self.roster();
        held.iter()
            .filter(|(id, _)| matches!(roster.status(id), Some(Ok(()))))
            .min_by_key(|(id, _)| *id)
            .or_else(|| held.iter().min_by_key(|(id, _)| *id))
            .map(|(id, t)| (t.clone(), *id))
    }

    /// The template a `report.create` names, and where it comes from.
    /// A report-create payload with the template it names; `None` for one sealed and not
    /// readable here. Any other payload under a create header is refused.
    #[allow(clippy::type_complexity)]
    pub(super) fn create_content(
        &self,
        parsed: Option<Payload>,
    ) -> Result<Option<(ReportCreate, (Template, TemplateSource))>, Rejection> {
        match parsed {
            Some(Payload::Create(create)) => {
                let template = self.template_for(&create)?;
                Ok(Some((create, template)))
            }
            Some(_) => Err(Rejection::PayloadMissing),
            None => Ok(None),
        }
    }

    fn template_for(&self, create: &ReportCreate) -> Result<(Template, TemplateSource), Rejection> {
        let (template, source) = match template::builtin_by_hash(&create.template_hash) {
            Some(t) => (t.clone(), TemplateSource::Builtin),
            None => match self.publication(&create.template_hash) {
                Some((t, id)) => (t, TemplateSource::Published(id)),
                None => {
                    return Err(ReportRuleError::UnknownTemplate {
                        name: create.template.clone(),
                        hash: create.template_hash.to_hex(),
                    }
                    .into())
                }
            },
        };
        if template.name != create.template {
            return Err(ReportRuleError::TemplateMismatch {
                named: create.template.clone(),
                defined: template.name.clone(),
            }
            .into());
        }
        Ok((template, source))
    }
}

/// The template a `template.publish` payload carries, if it may be published: valid, and not
/// named like a built-in one.
pub(super) fn publication(payload: &[u8]) -> Result<Template, Rejection> {
    let p: TemplatePublish =
        crate::payload::parse_as(Kind::TemplatePublish, payload).map_err(ReportRuleError::from)?;
    p.template.validate().map_err(ReportRuleError::from)?;
    if template::template(&p.template.name).is_some() {
        return Err(ReportRuleError::BuiltinTemplateName {
            name: p.template.name,
        }
        .into());
    }
    Ok(p.template)
}
