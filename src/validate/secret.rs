//! list_secrets and delete_secret arguments (DESIGN §10, §11).

use serde_json::{Map, Value};

use super::Fields;
use crate::error::ApiError;
use crate::model::{DeleteSecret, ListSecrets, Provider, SecretName};

/// `list_secrets {provider?, limit?, cursor?}`: the provider filter, lower-cased, and the page.
pub fn list_secrets(args: Map<String, Value>) -> Result<ListSecrets, ApiError> {
    let mut f = Fields::new(args, &["provider", "limit", "cursor"]);
    let provider = f.string("provider", false).map(|p| p.to_lowercase());
    let (limit, cursor) = super::paging(&mut f);
    if let Some(p) = &provider
        && !Provider::is_valid(p)
    {
        f.push(
            "provider",
            "value_error",
            format!(
                "must be a catalog id or a lower-case slug ({})",
                Provider::slug()
            ),
        );
    }
    f.finish()?;
    Ok(ListSecrets {
        filter: provider,
        limit,
        cursor,
    })
}

/// `delete_secret {name}`.
pub fn delete_secret(args: Map<String, Value>) -> Result<DeleteSecret, ApiError> {
    let mut f = Fields::new(args, &["name"]);
    let name = f.string("name", true);
    if let Some(n) = &name
        && !SecretName::is_valid(n)
    {
        f.push(
            "name",
            "value_error",
            format!(
                "must be a secret name like OPENAI_API_KEY ({})",
                SecretName::pattern()
            ),
        );
    }
    f.finish()?;
    name.map(|name| DeleteSecret { name })
        .ok_or_else(|| ApiError::bad_request("invalid arguments"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Selector;
    use crate::validate::delete_credential;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn delete_selects_by_id_or_names() {
        let id = uuid::Uuid::new_v4();
        assert!(matches!(
            delete_credential(obj(json!({"id": id.to_string()}))),
            Ok(Selector::Id(got)) if got == id
        ));
        assert!(matches!(
            delete_credential(obj(json!({"service_id": "OpenAI"}))),
            Ok(Selector::Name { service, name }) if service == "openai" && name == "default"
        ));
        for bad in [
            json!({}),
            json!({"id": "nope"}),
            json!({"id": id.to_string(), "service_id": "openai"}),
            json!({"id": id.to_string(), "name": "x"}),
            json!({"service_id": "nope"}),
            json!({"service_id": "openai", "extra": 1}),
        ] {
            let e = delete_credential(obj(bad.clone())).unwrap_err();
            assert_eq!(e.code, 422, "{bad}");
        }
    }

    #[test]
    fn secret_names_and_providers() {
        assert_eq!(
            delete_secret(obj(json!({"name": " GH_TOKEN "})))
                .ok()
                .map(|d| d.name),
            Some("GH_TOKEN".into())
        );
        assert_eq!(
            delete_secret(obj(json!({"name": "a-b"}))).unwrap_err().code,
            422
        );
        assert_eq!(
            list_secrets(obj(json!({"provider": "OpenAI"})))
                .unwrap()
                .filter,
            Some("openai".into())
        );
        let l = list_secrets(obj(json!({}))).unwrap();
        assert_eq!((l.limit, l.cursor), (200, None));
        for bad in [
            json!({"limit": 0}),
            json!({"limit": 1001}),
            json!({"limit": "5"}),
            json!({"cursor": "zzz"}),
        ] {
            assert_eq!(
                list_secrets(obj(bad.clone())).unwrap_err().code,
                422,
                "{bad}"
            );
        }
        assert_eq!(
            list_secrets(obj(json!({"provider": "no spaces"})))
                .unwrap_err()
                .code,
            422
        );
    }
}
