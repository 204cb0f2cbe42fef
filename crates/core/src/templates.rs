//! The template catalog: named starting points for workspaces (an image plus
//! default resources, ports and environment), read from TOML.

use crate::workspaces::validate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The catalog shipped in the binary (`config/templates.toml`).
pub const BUILTIN: &str = include_str!("../../../config/templates.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub description: String,
    pub cpus: Option<f64>,
    pub memory_mb: Option<i64>,
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The user to run as; `1000:1000` (the images' `dev`) when absent.
    pub user: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    template: Vec<Template>,
}

/// An ordered, validated set of templates.
#[derive(Debug, Clone)]
pub struct Catalog {
    templates: Vec<Template>,
}

impl Catalog {
    pub fn builtin() -> Result<Catalog, String> {
        Catalog::parse(BUILTIN)
    }

    pub fn from_file(path: &Path) -> Result<Catalog, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Catalog::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut seen = std::collections::HashSet::new();
        for t in &file.template {
            validate::name(&t.name).map_err(|e| format!("template {:?}: {e}", t.name))?;
            if !seen.insert(t.name.clone()) {
                return Err(format!("template {:?} is defined twice", t.name));
            }
            validate::image(&t.image).map_err(|e| format!("template {:?}: {e}", t.name))?;
            validate::env(&t.env).map_err(|e| format!("template {:?}: {e}", t.name))?;
            validate::ports(&t.ports).map_err(|e| format!("template {:?}: {e}", t.name))?;
        }
        Ok(Catalog {
            templates: file.template,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.name == name)
    }

    pub fn all(&self) -> &[Template] {
        &self.templates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid_and_has_the_stacks() {
        let c = Catalog::builtin().expect("builtin catalog parses");
        for n in ["base", "python", "node", "go", "java", "rust", "anaconda"] {
            assert!(c.get(n).is_some(), "missing template {n}");
        }
    }

    #[test]
    fn duplicate_and_invalid_templates_are_refused() {
        let dup = "[[template]]\nname=\"a\"\nimage=\"x\"\n[[template]]\nname=\"a\"\nimage=\"y\"\n";
        assert!(Catalog::parse(dup)
            .expect_err("duplicate refused")
            .contains("twice"));
        let bad = "[[template]]\nname=\"A B\"\nimage=\"x\"\n";
        assert!(Catalog::parse(bad).is_err());
        let unknown = "[[template]]\nname=\"a\"\nimage=\"x\"\ncolour=1\n";
        assert!(Catalog::parse(unknown).is_err());
    }
}
