//! The compiled-in service catalog: first-class providers an agent can name by id.
//!
//! `custom.<name>` is always accepted besides these. Danube-style service ids
//! (`svc_openai_001`, seed 004) are accepted as aliases of the catalog id they name.

/// How a service expects its credential to be presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <value>`.
    Bearer,
    /// A named header carrying the raw key, e.g. `x-api-key`.
    Header(&'static str),
}

/// One provider of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Provider {
    /// Stable id used in tool calls (`openai`).
    pub id: &'static str,
    /// Display name (`OpenAI`).
    pub service_name: &'static str,
    /// How the credential is sent.
    pub auth: AuthScheme,
    /// API base URL.
    pub base_url: &'static str,
}

const fn p(
    id: &'static str,
    service_name: &'static str,
    auth: AuthScheme,
    base_url: &'static str,
) -> Provider {
    Provider {
        id,
        service_name,
        auth,
        base_url,
    }
}

use AuthScheme::{Bearer, Header};

/// Every first-class provider, sorted by id.
pub const PROVIDERS: &[Provider] = &[
    p(
        "anthropic",
        "Anthropic",
        Header("x-api-key"),
        "https://api.anthropic.com",
    ),
    p(
        "azure-openai",
        "Azure OpenAI",
        Header("api-key"),
        "https://YOUR-RESOURCE.openai.azure.com/openai",
    ),
    p(
        "binance",
        "Binance",
        Header("X-MBX-APIKEY"),
        "https://api.binance.com",
    ),
    p("cohere", "Cohere", Bearer, "https://api.cohere.com"),
    p("github", "GitHub", Bearer, "https://api.github.com"),
    p(
        "gitlab",
        "GitLab",
        Header("PRIVATE-TOKEN"),
        "https://gitlab.com/api/v4",
    ),
    p(
        "google",
        "Google",
        Header("x-goog-api-key"),
        "https://generativelanguage.googleapis.com",
    ),
    p("groq", "Groq", Bearer, "https://api.groq.com/openai/v1"),
    p(
        "huggingface",
        "Hugging Face",
        Bearer,
        "https://huggingface.co/api",
    ),
    p("mistral", "Mistral AI", Bearer, "https://api.mistral.ai/v1"),
    p("openai", "OpenAI", Bearer, "https://api.openai.com/v1"),
    p(
        "openrouter",
        "OpenRouter",
        Bearer,
        "https://openrouter.ai/api/v1",
    ),
    p(
        "pinecone",
        "Pinecone",
        Header("Api-Key"),
        "https://api.pinecone.io",
    ),
    p("slack", "Slack", Bearer, "https://slack.com/api"),
    p("stripe", "Stripe", Bearer, "https://api.stripe.com"),
];

/// The catalog entry for `id`, if any.
pub fn provider(id: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.id == id)
}

/// The provider `credvault secret create NAME` files a secret under when none is
/// given: the catalog id NAME starts with (`OPENAI_API_KEY`: openai,
/// `AZURE_OPENAI_KEY`: azure-openai; `GH_`, `HF_` and `GEMINI_` name github,
/// huggingface and google), else NAME's first word in lower case
/// (`ACME_API_KEY`: acme), else `custom`.
pub fn provider_for_secret_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let mut words = lower.split('_');
    let first = words.next().unwrap_or_default();
    if let Some(second) = words.next()
        && let Some(p) = provider(&format!("{first}-{second}"))
    {
        return p.id.to_owned();
    }
    let alias = match first {
        "gh" => "github",
        "hf" => "huggingface",
        "gemini" => "google",
        other => other,
    };
    match provider(alias) {
        Some(p) => p.id.to_owned(),
        None if is_custom_name(first) => first.to_owned(),
        None => "custom".to_owned(),
    }
}

/// A resolved service: a catalog provider or a `custom.<name>` service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Canonical id: `openai` or `custom.<name>`.
    pub id: String,
    /// Display name: the provider's, or `<name>` for custom services.
    pub service_name: String,
}

/// Why a service id was refused; `msg` tells how to write a valid one.
pub const SERVICE_HELP: &str = "must be a catalog provider id (anthropic, azure-openai, binance, cohere, github, gitlab, google, groq, huggingface, mistral, openai, openrouter, pinecone, slack, stripe) or custom.<name> where <name> matches [a-z0-9][a-z0-9_-]{0,63}";

/// Resolves an already trimmed, lower-cased service id.
pub fn resolve(id: &str) -> Option<Service> {
    if let Some(name) = id.strip_prefix("custom.") {
        return is_custom_name(name).then(|| Service {
            id: id.to_owned(),
            service_name: name.to_owned(),
        });
    }
    let canonical = provider(id).or_else(|| danube_alias(id))?;
    Some(Service {
        id: canonical.id.to_owned(),
        service_name: canonical.service_name.to_owned(),
    })
}

/// `svc_<catalog id>_<digits>` (seed 004's example `svc_openai_001`).
fn danube_alias(id: &str) -> Option<&'static Provider> {
    let rest = id.strip_prefix("svc_")?;
    let (name, digits) = rest.rsplit_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    provider(name)
}

/// Longest `<name>` of a `custom.<name>` service.
pub const MAX_CUSTOM_NAME: usize = 64;

/// `[a-z0-9][a-z0-9_-]{0,63}`.
pub fn is_custom_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_CUSTOM_NAME
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_required_providers_sorted() {
        for id in [
            "openai",
            "anthropic",
            "binance",
            "azure-openai",
            "cohere",
            "pinecone",
            "huggingface",
            "github",
            "gitlab",
            "stripe",
            "slack",
            "google",
            "mistral",
            "groq",
            "openrouter",
        ] {
            assert!(provider(id).is_some(), "{id}");
            assert!(SERVICE_HELP.contains(id), "{id} missing from help");
        }
        assert!(PROVIDERS.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn a_secret_name_suggests_its_provider() {
        for (name, want) in [
            ("OPENAI_API_KEY", "openai"),
            ("ANTHROPIC_API_KEY", "anthropic"),
            ("AZURE_OPENAI_API_KEY", "azure-openai"),
            ("GITHUB_TOKEN", "github"),
            ("GH_TOKEN", "github"),
            ("HF_TOKEN", "huggingface"),
            ("GEMINI_API_KEY", "google"),
            ("stripe_secret", "stripe"),
            ("ACME_API_KEY", "acme"),
            ("DATABASE_URL", "database"),
            ("TOKEN", "token"),
            ("_PRIVATE", "custom"),
        ] {
            assert_eq!(provider_for_secret_name(name), want, "{name}");
        }
    }

    #[test]
    fn resolves_catalog_custom_and_aliases() {
        assert_eq!(resolve("openai").unwrap().service_name, "OpenAI");
        let c = resolve("custom.my-api_2").unwrap();
        assert_eq!(
            (c.id.as_str(), c.service_name.as_str()),
            ("custom.my-api_2", "my-api_2")
        );
        assert_eq!(resolve("svc_openai_001").unwrap().id, "openai");
        for bad in [
            "",
            "custom.",
            "custom.-x",
            "custom.UP",
            "nope",
            "svc_nope_001",
            "svc_openai_",
            "custom.a b",
        ] {
            assert!(resolve(bad).is_none(), "{bad:?}");
        }
        assert!(resolve(&format!("custom.{}", "a".repeat(64))).is_some());
        assert!(resolve(&format!("custom.{}", "a".repeat(65))).is_none());
    }
}
