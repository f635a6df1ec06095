//! Which FIM family a remote server's model speaks: the `family` setting, else the server's
//! vocabulary (when it tokenizes), else the model's name. The errors say which case failed, so
//! that `infill doctor` can give the fix that fits.

use std::fmt;

use crate::prompt::{self, FimTemplate};

/// Where the family came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyFrom {
    Setting,
    Vocabulary,
    ModelName,
}

impl fmt::Display for FamilyFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Setting => "from the `family` setting",
            Self::Vocabulary => "from the server's vocabulary: FIM tokens found",
            Self::ModelName => {
                "from the model's name; the server shows no vocabulary, so its FIM tokens are \
                 not checked"
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FamilyError {
    #[error("family `{name}` is not known (known: {})", known())]
    UnknownSetting { name: String },
    #[error(
        "cannot tell the prompt format of model {model:?} from the server; set `family` (one \
         of: {})",
        known()
    )]
    Undetected { model: String },
    /// The server's vocabulary has no family's FIM tokens (`token`: the one the chosen family
    /// needs, when a family was chosen).
    #[error(
        "the server's model {model:?} has no fill-in-the-middle tokens{}",
        token.as_ref().map(|(family, token)| format!(" (family `{family}` needs {token:?})")).unwrap_or_default()
    )]
    NoFimTokens { model: String, token: Option<(&'static str, &'static str)> },
}

/// The names `family` accepts.
pub fn known() -> String {
    prompt::template::TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// The family of `model`: `forced` (the setting), else the one whose tokens `vocabulary` has
/// (`None`: the server does not tokenize), else the one its name suggests.
pub fn choose(
    forced: Option<&str>,
    vocabulary: Option<&dyn Fn(&str) -> bool>,
    model: &str,
) -> Result<(&'static FimTemplate, FamilyFrom), FamilyError> {
    if let Some(name) = forced {
        return prompt::template::by_name(name)
            .map(|template| (template, FamilyFrom::Setting))
            .ok_or_else(|| FamilyError::UnknownSetting { name: name.to_string() });
    }
    if let Some(has_token) = vocabulary {
        // A vocabulary without any family's tokens is a chat/instruct model's: a name that
        // sounds like a code model would only send it tokens it reads as text.
        return prompt::template::detect(has_token)
            .map(|template| (template, FamilyFrom::Vocabulary))
            .ok_or_else(|| FamilyError::NoFimTokens { model: model.to_string(), token: None });
    }
    let name = model.to_lowercase();
    let by_name = [
        ("qwen", "qwen2.5-coder"),
        ("starcoder", "starcoder2"),
        ("deepseek", "deepseek-coder"),
        ("codellama", "codellama"),
        ("code-llama", "codellama"),
        ("codestral", "codestral"),
    ];
    by_name
        .iter()
        .find(|(part, _)| name.contains(part))
        .and_then(|(_, family)| prompt::template::by_name(family))
        .map(|template| (template, FamilyFrom::ModelName))
        .ok_or_else(|| FamilyError::Undetected { model: model.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_comes_from_the_setting_the_vocabulary_or_the_name() {
        let family = |forced, vocabulary, model| choose(forced, vocabulary, model).unwrap();
        let (template, from) = family(Some("starcoder2"), None, "x");
        assert_eq!((template.name, from), ("starcoder2", FamilyFrom::Setting));
        let (template, from) = family(None, None, "qwen2.5-coder:1.5b-base");
        assert_eq!((template.name, from), ("qwen2.5-coder", FamilyFrom::ModelName));
        let vocabulary = |t: &str| t.starts_with("<fim_");
        let (template, from) = family(None, Some(&vocabulary), "qwen");
        assert_eq!((template.name, from), ("starcoder2", FamilyFrom::Vocabulary));
    }

    #[test]
    fn each_failure_says_which_case_failed() {
        let err = choose(None, None, "mystery").unwrap_err();
        assert_eq!(err, FamilyError::Undetected { model: "mystery".into() });
        assert!(err.to_string().contains("set `family`"), "{err}");
        // A vocabulary without FIM tokens: a chat model, whatever its name says.
        let chat = |_: &str| false;
        let err = choose(None, Some(&chat), "qwen2.5-7b-instruct").unwrap_err();
        assert!(matches!(err, FamilyError::NoFimTokens { token: None, .. }), "{err}");
        let err = choose(Some("nope"), None, "x").unwrap_err();
        assert!(err.to_string().contains("`nope` is not known"), "{err}");
    }
}
