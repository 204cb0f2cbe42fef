//! Which model serves each AI feature (chat, inline completion, Ctrl+K
//! edits, command help, the agent): admins' defaults, each user's own
//! choices on top; and the last "Test" result of each service. Kept in the
//! settings table, as JSON.

use crate::registry::Registry;
use crate::AiError;
use aicockpit_core::audit::Entry;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// The AI features of the web app that call a model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Chat,
    Completion,
    Edit,
    CommandHelp,
    Agent,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::Chat,
        Feature::Completion,
        Feature::Edit,
        Feature::CommandHelp,
        Feature::Agent,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Feature::Chat => "Chat",
            Feature::Completion => "Inline completions",
            Feature::Edit => "Ctrl+K edits",
            Feature::CommandHelp => "Command help",
            Feature::Agent => "Agent",
        }
    }
}

/// Model names per feature (a model, an alias, or `service/model`).
pub type FeatureModels = BTreeMap<Feature, String>;

/// A change: `Some(None)` clears a feature's model, absent keeps it.
pub type FeatureChange = BTreeMap<Feature, Option<String>>;

const DEFAULTS_KEY: &str = "ai.features";
fn user_key(user_id: &str) -> String {
    format!("ai.features.user.{user_id}")
}

/// One feature as a user sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeatureModel {
    pub feature: Feature,
    pub label: &'static str,
    /// The admins' choice.
    pub default_model: Option<String>,
    /// The user's own choice.
    pub my_model: Option<String>,
    /// What is used: the user's, else the admins', else none (the active
    /// service's default model).
    pub model: Option<String>,
}

/// The last "Test" of a service.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastTest {
    pub at: String,
    pub ok: bool,
    pub latency_ms: f64,
    /// Up to 200 of the models found.
    pub models: Vec<String>,
    pub error_kind: Option<crate::failure::FailureKind>,
    pub error: Option<String>,
}

/// Model names are bounded like the gateway's: printable, at most 200 bytes.
fn check_model(name: &str) -> Result<(), AiError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(AiError::invalid(
            "invalid_model",
            "model names are 1-200 printable characters",
        ));
    }
    Ok(())
}

/// `change` applied to `current`.
fn apply(mut current: FeatureModels, change: &FeatureChange) -> Result<FeatureModels, AiError> {
    for (f, m) in change {
        match m.as_deref().map(str::trim) {
            None | Some("") => {
                current.remove(f);
            }
            Some(m) => {
                check_model(m)?;
                current.insert(*f, m.to_owned());
            }
        }
    }
    Ok(current)
}

impl Registry {
    async fn feature_map(&self, key: &str) -> Result<FeatureModels, AiError> {
        Ok(match self.store().setting(key).await? {
            // A value this code did not write reads as "nothing chosen".
            Some(v) => serde_json::from_str(&v).unwrap_or_default(),
            None => FeatureModels::new(),
        })
    }

    /// Every feature for `user_id`: defaults, own choice, effective model.
    pub async fn feature_models(&self, user_id: &str) -> Result<Vec<FeatureModel>, AiError> {
        let defaults = self.feature_map(DEFAULTS_KEY).await?;
        let mine = self.feature_map(&user_key(user_id)).await?;
        Ok(Feature::ALL
            .into_iter()
            .map(|f| FeatureModel {
                feature: f,
                label: f.label(),
                default_model: defaults.get(&f).cloned(),
                my_model: mine.get(&f).cloned(),
                model: mine.get(&f).or(defaults.get(&f)).cloned(),
            })
            .collect())
    }

    /// The model `feature` uses for `user_id` ("" for the active default).
    pub async fn feature_model(&self, user_id: &str, feature: Feature) -> Result<String, AiError> {
        let all = self.feature_models(user_id).await?;
        Ok(all
            .into_iter()
            .find(|m| m.feature == feature)
            .and_then(|m| m.model)
            .unwrap_or_default())
    }

    /// Changes the admins' defaults (`user` None) or a user's own choices.
    pub async fn set_feature_models(
        &self,
        actor: &str,
        user: Option<&str>,
        change: &FeatureChange,
    ) -> Result<(), AiError> {
        let key = user.map_or_else(|| DEFAULTS_KEY.to_owned(), user_key);
        let next = apply(self.feature_map(&key).await?, change)?;
        let value = serde_json::to_string(&next)
            .map_err(|e| AiError::invalid("unencodable", e.to_string()))?;
        self.store().set_setting(&key, &value).await?;
        let detail =
            json!({"scope": user.map_or("defaults", |_| "user"), "user": user, "models": next});
        self.audit()
            .note(Entry::done(actor, None, "ai.features.set", detail))
            .await;
        Ok(())
    }

    /// Keeps `result` as service `id`'s last test.
    pub async fn record_test(
        &self,
        actor: &str,
        id: &str,
        result: &crate::probe::ProbeResult,
    ) -> Result<(), AiError> {
        let t = LastTest {
            at: aicockpit_core::format_ms(aicockpit_core::now_ms()),
            ok: result.ok,
            latency_ms: result.latency_ms,
            models: result.models.iter().take(200).cloned().collect(),
            error_kind: result.error_kind,
            error: result.error.clone(),
        };
        let value = serde_json::to_string(&t)
            .map_err(|e| AiError::invalid("unencodable", e.to_string()))?;
        self.store()
            .set_setting(&format!("ai.last_test.{id}"), &value)
            .await?;
        let detail = json!({"service": id, "ok": t.ok, "error_kind": t.error_kind});
        self.audit()
            .note(Entry::done(actor, None, "ai.service.test", detail))
            .await;
        Ok(())
    }

    /// Service `id`'s last test, if any.
    pub async fn last_test(&self, id: &str) -> Result<Option<LastTest>, AiError> {
        let v = self.store().setting(&format!("ai.last_test.{id}")).await?;
        Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change, and the models after it or the error code.
    type Case = (
        FeatureChange,
        Result<Vec<(Feature, &'static str)>, &'static str>,
    );

    #[test]
    fn changes_set_clear_and_refuse() {
        let mut current = FeatureModels::new();
        current.insert(Feature::Chat, "big".into());
        current.insert(Feature::Edit, "edit-model".into());
        let cases: Vec<Case> = vec![
            (
                [(Feature::Completion, Some("small".into()))].into(),
                Ok(vec![
                    (Feature::Chat, "big"),
                    (Feature::Completion, "small"),
                    (Feature::Edit, "edit-model"),
                ]),
            ),
            (
                [(Feature::Chat, None)].into(),
                Ok(vec![(Feature::Edit, "edit-model")]),
            ),
            (
                [(Feature::Chat, Some("  ".into()))].into(),
                Ok(vec![(Feature::Edit, "edit-model")]),
            ),
            (
                [(Feature::Agent, Some("x\ny".into()))].into(),
                Err("invalid_model"),
            ),
            (
                [(Feature::Agent, Some("m".repeat(201)))].into(),
                Err("invalid_model"),
            ),
            (
                FeatureChange::new(),
                Ok(vec![(Feature::Chat, "big"), (Feature::Edit, "edit-model")]),
            ),
        ];
        for (change, want) in cases {
            let got = apply(current.clone(), &change);
            match (got, want) {
                (Ok(got), Ok(want)) => {
                    let got: Vec<(Feature, &str)> =
                        got.iter().map(|(f, m)| (*f, m.as_str())).collect();
                    assert_eq!(got, want, "{change:?}");
                }
                (Err(e), Err(code)) => {
                    assert!(format!("{e:?}").contains(code), "{change:?}: {e:?}")
                }
                (got, want) => panic!("{change:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn features_serialize_as_the_web_app_names_them() {
        let names: Vec<String> = Feature::ALL
            .iter()
            .map(|f| serde_json::to_string(f).unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "\"chat\"",
                "\"completion\"",
                "\"edit\"",
                "\"command_help\"",
                "\"agent\""
            ]
        );
    }
}
